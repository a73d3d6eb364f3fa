// The engine's JSON parser: iterative (an explicit stack, so no input can
// exhaust the wasm stack), with a depth cap that returns an error, strict RFC
// 8259 syntax, duplicate member detection and byte offsets for every error.
// It builds a read-only tree in an arena; strings without escapes point into
// the input, which outlives the tree.

import { Arena, arenaAlloc } from "./memory";
import { Buf, bufNew, bufReserve, bufStr, bufBytes, bufByte, bufI64, utf8Invalid, bytesEqual, bytesIs, hashBytes, hashStep, HASH_SEED, codeUnit } from "./bytes";
import { msg, errorAt, writeKey } from "./errors";
import { parseNumber } from "./number";

export const J_NULL: u32 = 1;
export const J_FALSE: u32 = 2;
export const J_TRUE: u32 = 3;
export const J_NUMBER: u32 = 4;
export const J_STRING: u32 = 5;
export const J_ARRAY: u32 = 6;
export const J_OBJECT: u32 = 7;

export const MAX_DEPTH: u32 = 256;

@unmanaged export class JNode {
  kind: u32;
  count: u32; // string: byte length; array: elements; object: members
  ptr: usize; // string: bytes; array: u32 node pointers; object: JMember records
  offset: u32; // byte offset of the value in the input
  num: f64;
}

// A member record: key pointer, key length, value node, key hash.
export const MEMBER_SIZE: usize = 16;
// @ts-ignore: decorator
@inline export function memberKey(n: JNode, i: u32): usize {
  return load<u32>(n.ptr + <usize>i * MEMBER_SIZE);
}
// @ts-ignore: decorator
@inline export function memberKeyLen(n: JNode, i: u32): usize {
  return load<u32>(n.ptr + <usize>i * MEMBER_SIZE, 4);
}
// @ts-ignore: decorator
@inline export function memberValue(n: JNode, i: u32): JNode {
  return changetype<JNode>(<usize>load<u32>(n.ptr + <usize>i * MEMBER_SIZE, 8));
}
/** The FNV-1a hash (bytes.ts hashBytes) of member `i`'s key, computed as it was parsed. */
// @ts-ignore: decorator
@inline export function memberKeyHash(n: JNode, i: u32): u32 {
  return load<u32>(n.ptr + <usize>i * MEMBER_SIZE, 12);
}
// @ts-ignore: decorator
@inline export function element(n: JNode, i: u32): JNode {
  return changetype<JNode>(<usize>load<u32>(n.ptr + (<usize>i << 2)));
}

/** The member named `name` (ASCII), or null. */
export function member(n: JNode, name: string): JNode | null {
  const len = <usize>name.length;
  for (let i: u32 = 0; i < n.count; i++) {
    if (memberKeyLen(n, i) != len) continue;
    const k = memberKey(n, i);
    let same = true;
    for (let j: usize = 0; j < len; j++) {
      if (<u32>load<u8>(k + j) != codeUnit(name, j)) {
        same = false;
        break;
      }
    }
    if (same) return memberValue(n, i);
  }
  return null;
}

export function isInteger(n: JNode): bool {
  return n.kind == J_NUMBER && Math.floor(n.num) == n.num && Math.abs(n.num) != Infinity;
}

// ---------------------------------------------------------------------------

// Parser stack frame (u32 fields): kind, element/member count so far, start
// slot in `pending`, current key pointer, key length + 1 (0: no key yet),
// offset of the container, offset of the current key, hash of the current key.
const FRAME: usize = 32;
const frames: usize = memory.data(<i32>(FRAME * (MAX_DEPTH + 1)));
// Finished children waiting for their container to close (u32 slots).
const pending: Buf = bufNew(4096);

let src: usize = 0;
let end: usize = 0;
let pos: usize = 0;
let depth: u32 = 0;
let failed: bool = false;
let arena: Arena = changetype<Arena>(0);
// Policy index reported for errors when the top level is an array.
let topIsArray: bool = false;
// Whether the parser is inside a value of the innermost container (its
// current element or member value), not between them (at a `,`, a closing
// bracket, a key or the end): an error between them is the container's own.
let inValue: bool = false;

// @ts-ignore: decorator
@inline function frame(d: u32): usize {
  return frames + <usize>d * FRAME;
}

function fail(message: string, at: usize): void {
  if (failed) return;
  failed = true;
  const m = msg();
  bufStr(m, message);
  report(at, m);
}

function report(at: usize, m: Buf): void {
  // The pointer of the value being parsed: each open container's current
  // element or member. Frame 0, when it is the top-level array, names the policy.
  const ptr = pointerScratch;
  ptr.len = 0;
  // The policy is the element of the top-level array, or of the array under
  // `policies` when the input is a bundle payload ({"policies": [...]}).
  let policy: i32 = -1;
  let first: u32 = 0;
  if (depth > 0 && topIsArray) {
    policy = <i32>load<u32>(frame(0), 4);
    first = 1;
  } else if (depth > 1 && load<u32>(frame(1)) == J_ARRAY && load<u32>(frame(0), 16) == 9 && bytesIs(load<u32>(frame(0), 12), 8, "policies")) {
    policy = <i32>load<u32>(frame(1), 4);
    first = 2;
  }
  // Between the policies (`[{…}` ending, a missing `,`), the error is in no policy.
  if (depth == first && !inValue) policy = -1;
  for (let d = first; d < depth; d++) {
    const f = frame(d);
    if (d == depth - 1 && !inValue) break;
    if (load<u32>(f) == J_ARRAY) {
      bufByte(ptr, 47);
      bufI64(ptr, load<u32>(f, 4));
    } else if (load<u32>(f, 16) != 0) {
      bufByte(ptr, 47);
      writeKey(ptr, load<u32>(f, 12), load<u32>(f, 16) - 1);
    }
  }
  errorAt(policy, ptr.ptr, ptr.len, <i32>(at - src));
}

const pointerScratch: Buf = bufNew(128);

// @ts-ignore: decorator
@inline function skipWs(): void {
  while (pos < end) {
    const c = load<u8>(pos);
    if (c != 32 && c != 10 && c != 13 && c != 9) break;
    pos++;
  }
}

function newNode(kind: u32, at: usize): JNode {
  const n = changetype<JNode>(arenaAlloc(arena, offsetof<JNode>()));
  n.kind = kind;
  n.count = 0;
  n.ptr = 0;
  n.offset = <u32>(at - src);
  n.num = 0;
  return n;
}

// @ts-ignore: decorator
@inline function hexDigit(c: u32): i32 {
  if (c >= 48 && c <= 57) return <i32>c - 48;
  c |= 32;
  if (c >= 97 && c <= 102) return <i32>c - 87;
  return -1;
}

function hex4(at: usize): i32 {
  if (at + 4 > end) return -1;
  let v: i32 = 0;
  for (let i: usize = 0; i < 4; i++) {
    const d = hexDigit(load<u8>(at + i));
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

/** Parses the string starting at the opening quote into (ptr, len); false on error. */
function parseString(out: usize): bool {
  const open = pos;
  pos++;
  let escaped = false;
  let q = pos;
  while (true) {
    if (q >= end) {
      fail("unterminated string", open);
      return false;
    }
    const c = load<u8>(q);
    if (c == 34) break;
    if (c < 0x20) {
      fail("control character in a string: write it as an escape such as `\\n` or `\\u0000`", q);
      return false;
    }
    if (c == 92) {
      escaped = true;
      q += 2;
      continue;
    }
    q++;
  }
  if (!escaped) {
    store<u32>(out, <u32>pos);
    store<u32>(out, <u32>(q - pos), 4);
    pos = q + 1;
    return true;
  }
  // Decoding never makes a string longer than its escaped text.
  const dst = arenaAlloc(arena, q - pos);
  let n: usize = 0;
  while (pos < q) {
    const c = <u32>load<u8>(pos);
    if (c != 92) {
      store<u8>(dst + n++, <u8>c);
      pos++;
      continue;
    }
    const e = <u32>load<u8>(pos + 1);
    let out8: i32 = -1;
    if (e == 34 || e == 92 || e == 47) out8 = e;
    else if (e == 98) out8 = 8;
    else if (e == 102) out8 = 12;
    else if (e == 110) out8 = 10;
    else if (e == 114) out8 = 13;
    else if (e == 116) out8 = 9;
    if (out8 >= 0) {
      store<u8>(dst + n++, <u8>out8);
      pos += 2;
      continue;
    }
    if (e != 117) {
      fail("invalid escape in a string: JSON allows `\\\"`, `\\\\`, `\\/`, `\\b`, `\\f`, `\\n`, `\\r`, `\\t` and `\\uXXXX`", pos);
      return false;
    }
    let cp = pos + 6 <= q ? hex4(pos + 2) : -1;
    if (cp < 0) {
      fail("`\\u` must be followed by four hex digits", pos);
      return false;
    }
    let len: usize = 6;
    if (cp >= 0xd800 && cp <= 0xdbff) {
      const lo = pos + 12 <= q && load<u8>(pos + 6) == 92 && load<u8>(pos + 7) == 117 ? hex4(pos + 8) : -1;
      if (lo < 0xdc00 || lo > 0xdfff) {
        fail("lone surrogate in a `\\u` escape: a string must be Unicode text", pos);
        return false;
      }
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      len = 12;
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
      fail("lone surrogate in a `\\u` escape: a string must be Unicode text", pos);
      return false;
    }
    n += writeUtf8(dst + n, <u32>cp);
    pos += len;
  }
  store<u32>(out, <u32>dst);
  store<u32>(out, <u32>n, 4);
  pos = q + 1;
  return true;
}

export function writeUtf8(d: usize, cp: u32): usize {
  if (cp < 0x80) {
    store<u8>(d, <u8>cp);
    return 1;
  }
  if (cp < 0x800) {
    store<u8>(d, <u8>(0xc0 | (cp >> 6)));
    store<u8>(d + 1, <u8>(0x80 | (cp & 63)));
    return 2;
  }
  if (cp < 0x10000) {
    store<u8>(d, <u8>(0xe0 | (cp >> 12)));
    store<u8>(d + 1, <u8>(0x80 | ((cp >> 6) & 63)));
    store<u8>(d + 2, <u8>(0x80 | (cp & 63)));
    return 3;
  }
  store<u8>(d, <u8>(0xf0 | (cp >> 18)));
  store<u8>(d + 1, <u8>(0x80 | ((cp >> 12) & 63)));
  store<u8>(d + 2, <u8>(0x80 | ((cp >> 6) & 63)));
  store<u8>(d + 3, <u8>(0x80 | (cp & 63)));
  return 4;
}

// @ts-ignore: decorator
@inline function isDigit(c: u32): bool {
  return c - 48 < 10;
}

function parseNumberNode(): JNode | null {
  const start = pos;
  if (pos < end && load<u8>(pos) == 45) pos++;
  if (pos >= end || !isDigit(load<u8>(pos))) {
    fail("invalid number", start);
    return null;
  }
  if (load<u8>(pos) == 48) {
    pos++;
    if (pos < end && isDigit(load<u8>(pos))) {
      fail("invalid number: a leading zero is not allowed", start);
      return null;
    }
  } else while (pos < end && isDigit(load<u8>(pos))) pos++;
  if (pos < end && load<u8>(pos) == 46) {
    pos++;
    if (pos >= end || !isDigit(load<u8>(pos))) {
      fail("invalid number: digits must follow the decimal point", start);
      return null;
    }
    while (pos < end && isDigit(load<u8>(pos))) pos++;
  }
  if (pos < end && (load<u8>(pos) | 32) == 101) {
    pos++;
    if (pos < end && (load<u8>(pos) == 43 || load<u8>(pos) == 45)) pos++;
    if (pos >= end || !isDigit(load<u8>(pos))) {
      fail("invalid number: digits must follow the exponent", start);
      return null;
    }
    while (pos < end && isDigit(load<u8>(pos))) pos++;
  }
  const n = newNode(J_NUMBER, start);
  n.num = parseNumber(start, pos - start);
  return n;
}

function literal(word: string, kind: u32): JNode | null {
  const n = <usize>word.length;
  if (pos + n <= end) {
    let ok = true;
    for (let i: usize = 0; i < n; i++) {
      if (<u32>load<u8>(pos + i) != codeUnit(word, i)) {
        ok = false;
        break;
      }
    }
    if (ok) {
      const node = newNode(kind, pos);
      pos += n;
      return node;
    }
  }
  fail("unexpected character: expected a JSON value", pos);
  return null;
}

function pushFrame(kind: u32, at: usize): bool {
  if (depth >= MAX_DEPTH) {
    fail("JSON nests deeper than 256 levels", at);
    return false;
  }
  const f = frame(depth);
  store<u32>(f, kind);
  store<u32>(f, 0, 4); // children so far
  store<u32>(f, <u32>(pending.len >> 2), 8); // start slot in pending
  store<u32>(f, 0, 12); // current key pointer
  store<u32>(f, 0, 16); // current key length + 1 (0: none yet)
  store<u32>(f, <u32>(at - src), 20);
  store<u32>(f, 0, 24);
  if (depth == 0) topIsArray = kind == J_ARRAY;
  depth++;
  return true;
}

// @ts-ignore: decorator
@inline function pushPending(v: u32): void {
  const p = bufReserve(pending, 4);
  store<u32>(p, v);
  pending.len += 4;
}

/** Reads `"key" :` into the current object frame. */
function readKey(): bool {
  skipWs();
  if (pos >= end || load<u8>(pos) != 34) {
    fail("expected a member name in double quotes", pos);
    return false;
  }
  const keyAt = pos;
  // The key is hashed as it is scanned (its member record carries the hash); one with an escape or a
  // control character is left to parseString, which decodes it or reports it.
  let h = HASH_SEED;
  let q = pos + 1;
  while (q < end) {
    const c = <u32>load<u8>(q);
    if (c == 34 || c == 92 || c < 0x20) break;
    h = hashStep(h, c);
    q++;
  }
  const f = frame(depth - 1);
  if (q < end && load<u8>(q) == 34) {
    store<u32>(f, <u32>(pos + 1), 12);
    store<u32>(f, <u32>(q - pos - 1) + 1, 16);
    pos = q + 1;
  } else {
    if (!parseString(stringSlot)) return false;
    store<u32>(f, load<u32>(stringSlot), 12);
    store<u32>(f, load<u32>(stringSlot, 4) + 1, 16);
    h = hashBytes(load<u32>(stringSlot), load<u32>(stringSlot, 4));
  }
  store<u32>(f, <u32>(keyAt - src), 24); // for duplicate errors
  store<u32>(f, h, 28);
  skipWs();
  if (pos >= end || load<u8>(pos) != 58) {
    fail("expected `:` after the member name", pos);
    return false;
  }
  pos++;
  return true;
}

// (pointer, length) of the string just parsed.
const stringSlot: usize = memory.data(8);

function closeContainer(): JNode {
  const f = frame(depth - 1);
  const kind = load<u32>(f);
  const count = load<u32>(f, 4);
  const startSlot = <usize>load<u32>(f, 8);
  const node = newNode(kind, src + load<u32>(f, 20));
  node.count = count;
  const words: usize = kind == J_ARRAY ? 1 : 4;
  const bytes = <usize>count * words * 4;
  if (bytes > 0) {
    node.ptr = arenaAlloc(arena, bytes);
    memory.copy(node.ptr, pending.ptr + (startSlot << 2), bytes);
  }
  pending.len = startSlot << 2;
  depth--;
  return node;
}

/** Adds a finished value to the open container; reports duplicates. */
function addChild(value: JNode): void {
  const f = frame(depth - 1);
  const count = load<u32>(f, 4);
  if (load<u32>(f) == J_ARRAY) {
    pushPending(changetype<u32>(value));
  } else {
    const key = load<u32>(f, 12);
    const keyLen = load<u32>(f, 16) - 1;
    const h = load<u32>(f, 28);
    const base = pending.ptr + (<usize>load<u32>(f, 8) << 2);
    for (let i: u32 = 0; i < count; i++) {
      const m = base + <usize>i * MEMBER_SIZE;
      if (load<u32>(m, 12) == h && bytesEqual(load<u32>(m), load<u32>(m, 4), key, keyLen)) {
        const e = msg();
        bufStr(e, "duplicate member `");
        bufBytes(e, key, keyLen);
        bufStr(e, "`: a name may appear only once in an object");
        report(src + load<u32>(f, 24), e);
        break;
      }
    }
    const m = bufReserve(pending, MEMBER_SIZE);
    store<u32>(m, key);
    store<u32>(m, keyLen, 4);
    store<u32>(m, changetype<u32>(value), 8);
    store<u32>(m, h, 12);
    pending.len += MEMBER_SIZE;
  }
  store<u32>(f, count + 1, 4);
}

/**
 * Parses `n` bytes of JSON at `p` into a tree in `a`. Returns the root, or
 * null after reporting the first syntax error. Duplicate members are reported
 * and parsing goes on (the first occurrence is kept), so the caller must also
 * check the error count.
 */
export function parseJson(a: Arena, p: usize, n: usize): JNode | null {
  arena = a;
  src = p;
  end = p + n;
  pos = p;
  depth = 0;
  failed = false;
  topIsArray = false;
  inValue = false;
  pending.len = 0;
  const bad = utf8Invalid(p, n);
  if (bad >= 0) {
    pos = p + <usize>bad;
    // Report against the enclosing value: parse up to the bad byte for context.
    fail("the input is not valid UTF-8", pos);
    return null;
  }
  // A leading byte-order mark is tolerated.
  if (n >= 3 && load<u8>(p) == 0xef && load<u8>(p + 1) == 0xbb && load<u8>(p + 2) == 0xbf) pos += 3;

  while (true) {
    skipWs();
    if (pos >= end) {
      fail(depth == 0 ? "empty input: expected a JSON value" : "unexpected end of input", pos);
      return null;
    }
    let c = <u32>load<u8>(pos);
    let value: JNode | null = null;
    inValue = true;
    if (c == 123 || c == 91) {
      const kind = c == 123 ? J_OBJECT : J_ARRAY;
      if (!pushFrame(kind, pos)) return null;
      inValue = false;
      pos++;
      skipWs();
      const close: u32 = c == 123 ? 125 : 93;
      if (pos < end && <u32>load<u8>(pos) == close) {
        pos++;
        value = closeContainer();
      } else {
        if (kind == J_OBJECT && !readKey()) return null;
        continue;
      }
    } else if (c == 34) {
      const at = pos;
      if (!parseString(stringSlot)) return null;
      value = newNode(J_STRING, at);
      value.ptr = load<u32>(stringSlot);
      value.count = load<u32>(stringSlot, 4);
    } else if (c == 45 || isDigit(c)) {
      value = parseNumberNode();
    } else if (c == 116) value = literal("true", J_TRUE);
    else if (c == 102) value = literal("false", J_FALSE);
    else if (c == 110) value = literal("null", J_NULL);
    else {
      fail("unexpected character: expected a JSON value", pos);
      return null;
    }
    if (value == null) return null;

    // A value is complete: attach it and close every container that ends here.
    while (true) {
      if (depth == 0) {
        skipWs();
        if (pos != end) {
          fail("unexpected data after the JSON value", pos);
          return null;
        }
        return value;
      }
      // Attaching the value (a duplicate member is reported at it), then between values.
      inValue = true;
      addChild(value!);
      inValue = false;
      skipWs();
      if (pos >= end) {
        fail("unexpected end of input", pos);
        return null;
      }
      c = load<u8>(pos);
      const f = frame(depth - 1);
      const isArray = load<u32>(f) == J_ARRAY;
      if (c == 44) {
        pos++;
        if (!isArray) {
          store<u32>(f, 0, 16);
          if (!readKey()) return null;
        }
        break;
      }
      if ((isArray && c == 93) || (!isArray && c == 125)) {
        pos++;
        store<u32>(f, 0, 16);
        value = closeContainer();
        continue;
      }
      fail(isArray ? "expected `,` or `]`" : "expected `,` or `}`", pos);
      return null;
    }
  }
}
