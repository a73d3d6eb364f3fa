// Byte strings and a growable byte buffer. All text in the engine is UTF-8
// bytes: code-point order is byte order, which AssemblyScript's UTF-16 strings
// would get wrong for astral characters. AssemblyScript string literals appear
// only as static ASCII text appended to buffers (never allocated at run time).

import { alloc, free, realloc } from "./memory";
import { formatNumber } from "./number";

/**
 * Code unit `i` of a string literal, read from its UTF-16 in memory: what
 * `s.charCodeAt(i)` returns for an index known to be in range, without the
 * range check and call (at shrinkLevel 1 Binaryen does not inline it, and
 * writing the load metadata spent a fifth of a load in it).
 */
// @ts-ignore: decorator
@inline export function codeUnit(s: string, i: usize): u32 {
  return <u32>load<u16>(changetype<usize>(s) + (i << 1));
}

export function bytesEqual(a: usize, an: usize, b: usize, bn: usize): bool {
  if (an != bn) return false;
  // Eight bytes at a time (wasm loads need no alignment), then the tail.
  let i: usize = 0;
  for (; i + 8 <= an; i += 8) if (load<u64>(a + i) != load<u64>(b + i)) return false;
  for (; i < an; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}

/** Compares byte strings (= code points, for UTF-8): negative, zero or positive. */
export function bytesCompare(a: usize, an: usize, b: usize, bn: usize): i32 {
  const n = min(an, bn);
  if (n > 0) {
    const c = memory.compare(a, b, n);
    if (c != 0) return c;
  }
  return an < bn ? -1 : an > bn ? 1 : 0;
}

/** Whether the bytes equal an ASCII literal. */
export function bytesIs(p: usize, n: usize, s: string): bool {
  if (<usize>s.length != n) return false;
  for (let i = 0; i < <i32>n; i++) {
    if (<u32>load<u8>(p + i) != codeUnit(s, <usize>i)) return false;
  }
  return true;
}

// FNV-1a, computed incrementally so the index can hash every prefix of a string in one pass.
export const HASH_SEED: u32 = 2166136261;
// @ts-ignore: decorator
@inline export function hashStep(h: u32, b: u32): u32 {
  return (h ^ b) * 16777619;
}
export function hashBytes(p: usize, n: usize): u32 {
  let h = HASH_SEED;
  for (let i: usize = 0; i < n; i++) h = hashStep(h, load<u8>(p + i));
  return h;
}

/** Offset of the first byte that breaks UTF-8 (RFC 3629: shortest form, no surrogates), or -1. */
export function utf8Invalid(p: usize, n: usize): isize {
  let i: usize = 0;
  while (i < n) {
    // ASCII fast path, eight bytes at a time.
    if (i + 8 <= n && (load<u64>(p + i) & 0x8080808080808080) == 0) {
      i += 8;
      continue;
    }
    const b = <u32>load<u8>(p + i);
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: usize;
    let lo: u32 = 0x80;
    let hi: u32 = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b == 0xe0) lo = 0xa0;
      else if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b == 0xf0) lo = 0x90;
      else if (b == 0xf4) hi = 0x8f;
    } else return <isize>i;
    if (i + need >= n) return <isize>i; // truncated sequence
    const b1 = <u32>load<u8>(p + i + 1);
    if (b1 < lo || b1 > hi) return <isize>i;
    for (let k: usize = 2; k <= need; k++) {
      const c = <u32>load<u8>(p + i + k);
      if ((c & 0xc0) != 0x80) return <isize>i;
    }
    i += need + 1;
  }
  return -1;
}

/** Length in bytes of the UTF-8 sequence that starts with lead byte `b`. */
// @ts-ignore: decorator
@inline export function utf8Len(b: u32): usize {
  return b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
}

export function codePointCount(p: usize, n: usize): u32 {
  let c: u32 = 0;
  for (let i: usize = 0; i < n; i++) if ((load<u8>(p + i) & 0xc0) != 0x80) c++;
  return c;
}

// ---------------------------------------------------------------------------

@unmanaged export class Buf {
  ptr: usize;
  len: usize;
  cap: usize;
}

export function bufNew(cap: usize): Buf {
  const b = changetype<Buf>(alloc(offsetof<Buf>()));
  b.ptr = alloc(cap);
  b.len = 0;
  b.cap = cap;
  return b;
}

export function bufFree(b: Buf): void {
  free(b.ptr);
  free(changetype<usize>(b));
}

/** Room for `extra` more bytes; where they go. Inlined: the room is almost always there already. */
// @ts-ignore: decorator
@inline export function bufReserve(b: Buf, extra: usize): usize {
  if (b.len + extra > b.cap) bufGrow(b, extra);
  return b.ptr + b.len;
}

function bufGrow(b: Buf, extra: usize): void {
  const need = b.len + extra;
  let cap = b.cap << 1;
  if (cap < need) cap = need;
  b.ptr = realloc(b.ptr, cap);
  b.cap = cap;
}

export function bufByte(b: Buf, c: u32): void {
  const p = bufReserve(b, 1);
  store<u8>(p, <u8>c);
  b.len++;
}

export function bufBytes(b: Buf, p: usize, n: usize): void {
  const d = bufReserve(b, n);
  memory.copy(d, p, n);
  b.len += n;
}

/** Appends a raw little-endian u32. */
export function bufU32(b: Buf, v: u32): void {
  store<u32>(bufReserve(b, 4), v);
  b.len += 4;
}

/** Appends an ASCII string literal. */
export function bufStr(b: Buf, s: string): void {
  const n = <usize>s.length;
  const d = bufReserve(b, n);
  for (let i: usize = 0; i < n; i++) store<u8>(d + i, <u8>codeUnit(s, i));
  b.len += n;
}

export function bufU64(b: Buf, v: u64): void {
  const d = bufReserve(b, 20);
  let n: usize = 0;
  do {
    store<u8>(d + n, <u8>(48 + v % 10));
    v /= 10;
    n++;
  } while (v != 0);
  for (let i: usize = 0, j = n - 1; i < j; i++, j--) {
    const t = load<u8>(d + i);
    store<u8>(d + i, load<u8>(d + j));
    store<u8>(d + j, t);
  }
  b.len += n;
}

export function bufI64(b: Buf, v: i64): void {
  if (v < 0) {
    bufByte(b, 45);
    bufU64(b, <u64>(-v));
  } else bufU64(b, <u64>v);
}

export function bufNumber(b: Buf, x: f64): void {
  const d = bufReserve(b, 32);
  b.len += formatNumber(x, d);
}

const HEX: string = "0123456789abcdef";

/** Appends the bytes as a JSON string literal, escaped as JSON.stringify escapes. */
export function bufJsonString(b: Buf, p: usize, n: usize): void {
  bufReserve(b, n + 2);
  bufByte(b, 34);
  let run = p;
  const end = p + n;
  for (let q = p; q < end; q++) {
    const c = <u32>load<u8>(q);
    if (c >= 0x20 && c != 34 && c != 92) continue;
    bufBytes(b, run, q - run);
    run = q + 1;
    bufByte(b, 92);
    if (c == 34 || c == 92) bufByte(b, c);
    else if (c == 8) bufByte(b, 98);
    else if (c == 12) bufByte(b, 102);
    else if (c == 10) bufByte(b, 110);
    else if (c == 13) bufByte(b, 114);
    else if (c == 9) bufByte(b, 116);
    else {
      bufStr(b, "u00");
      bufByte(b, codeUnit(HEX, <usize>(c >> 4)));
      bufByte(b, codeUnit(HEX, <usize>(c & 15)));
    }
  }
  bufBytes(b, run, end - run);
  bufByte(b, 34);
}

/** Appends an ASCII literal as a JSON string. */
export function bufJsonStr(b: Buf, s: string): void {
  bufByte(b, 34);
  bufStr(b, s);
  bufByte(b, 34);
}

export function bufBool(b: Buf, v: bool): void {
  bufStr(b, v ? "true" : "false");
}
