// JSON values in the engine's binary encoding (ABI.md §Values): request values
// are read where the host wrote them, and policy literals are encoded the same
// way at load, so comparing them is a walk over two byte strings.
//
//   0x00 missing | 0x01 null | 0x02 false | 0x03 true | 0x04 f64
//   0x05 u32 len, bytes | 0x06 u32 count, u32 bytes, elements
//   0x07 u32 count, u32 bytes, (u32 name len, name, value)*

import { Arena, arenaAlloc } from "./memory";
import { Buf, bytesEqual, bytesCompare, bufByte, bufStr, bufNumber, bufJsonString, utf8Invalid } from "./bytes";
import { JNode, J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT, element, memberKey, memberKeyLen, memberValue } from "./json";

export const V_MISSING: u32 = 0;
export const V_NULL: u32 = 1;
export const V_FALSE: u32 = 2;
export const V_TRUE: u32 = 3;
export const V_NUMBER: u32 = 4;
export const V_STRING: u32 = 5;
export const V_ARRAY: u32 = 6;
export const V_OBJECT: u32 = 7;
/** Only as a request's action or resource, or an agent record's id or trust level: u32 id of an interned string (intern.ts). */
export const V_INTERNED: u32 = 8;
/** Only as a request's agent: the agent record (decide.ts readAgentRecord). */
export const V_AGENT: u32 = 9;

/** Largest string or member name a request may hold (spec §1a). */
export const MAX_STRING: u32 = 1 << 20;
/** Deepest a request's context may nest (spec §1a); the context object is level 1. */
export const MAX_CONTEXT_DEPTH: u32 = 64;

// Static values for results computed at decision time.
export const VALUE_NULL: usize = memory.data<u8>([1]);
export const VALUE_FALSE: usize = memory.data<u8>([2]);
export const VALUE_TRUE: usize = memory.data<u8>([3]);
export const VALUE_EMPTY_STRING: usize = memory.data<u8>([5, 0, 0, 0, 0]);

// @ts-ignore: decorator
@inline export function tagOf(v: usize): u32 {
  return load<u8>(v);
}
// @ts-ignore: decorator
@inline export function numberOf(v: usize): f64 {
  return load<f64>(v, 1);
}
// @ts-ignore: decorator
@inline export function lengthOf(v: usize): u32 {
  return load<u32>(v, 1);
}
// @ts-ignore: decorator
@inline export function bytesOf(v: usize): usize {
  return v + 5;
}
/** First element or member of an array or object. */
// @ts-ignore: decorator
@inline export function itemsOf(v: usize): usize {
  return v + 9;
}

/** Bytes the encoded value occupies. */
export function sizeOf(v: usize): usize {
  const t = tagOf(v);
  if (t <= V_TRUE) return 1;
  if (t == V_NUMBER) return 9;
  return t == V_STRING ? 5 + <usize>lengthOf(v) : 9 + <usize>load<u32>(v, 5);
}

export function deepEqual(a: usize, b: usize): bool {
  const t = tagOf(a);
  if (t != tagOf(b)) return false;
  if (t == V_NUMBER) return numberOf(a) == numberOf(b);
  if (t == V_STRING) return bytesEqual(bytesOf(a), lengthOf(a), bytesOf(b), lengthOf(b));
  if (t == V_ARRAY) {
    const n = lengthOf(a);
    if (n != lengthOf(b)) return false;
    let pa = itemsOf(a);
    let pb = itemsOf(b);
    for (let i: u32 = 0; i < n; i++) {
      if (!deepEqual(pa, pb)) return false;
      pa += sizeOf(pa);
      pb += sizeOf(pb);
    }
    return true;
  }
  if (t == V_OBJECT) {
    const n = lengthOf(a);
    if (n != lengthOf(b)) return false;
    // Same names with equal values; names are unique within an object.
    let pa = itemsOf(a);
    for (let i: u32 = 0; i < n; i++) {
      const nameLen = <usize>load<u32>(pa);
      const va = pa + 4 + nameLen;
      const vb = findMember(b, pa + 4, nameLen);
      if (vb == 0 || !deepEqual(va, vb)) return false;
      pa = va + sizeOf(va);
    }
    return true;
  }
  return true;
}

/** The value of the member named (p, n) in an encoded object, or 0. */
export function findMember(obj: usize, p: usize, n: usize): usize {
  const count = lengthOf(obj);
  let q = itemsOf(obj);
  for (let i: u32 = 0; i < count; i++) {
    const len = <usize>load<u32>(q);
    const v = q + 4 + len;
    if (bytesEqual(q + 4, len, p, n)) return v;
    q = v + sizeOf(v);
  }
  return 0;
}

/** Compares two numbers or two strings: -1, 0, 1; 2 when they cannot be ordered. */
export function order(a: usize, b: usize): i32 {
  const t = tagOf(a);
  if (t != tagOf(b)) return 2;
  if (t == V_NUMBER) {
    const x = numberOf(a);
    const y = numberOf(b);
    return x < y ? -1 : x > y ? 1 : x == y ? 0 : 2;
  }
  if (t == V_STRING) {
    const c = bytesCompare(bytesOf(a), lengthOf(a), bytesOf(b), lengthOf(b));
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  return 2;
}

// ---------------------------------------------------------------------------
// Encoding policy literals at load.

export function encodedSize(n: JNode): usize {
  const k = n.kind;
  if (k <= J_TRUE) return 1;
  if (k == J_NUMBER) return 9;
  if (k == J_STRING) return 5 + <usize>n.count;
  let size: usize = 9;
  for (let i: u32 = 0; i < n.count; i++) {
    if (k == J_ARRAY) size += encodedSize(element(n, i));
    else size += 4 + memberKeyLen(n, i) + encodedSize(memberValue(n, i));
  }
  return size;
}

/** Encodes the tree at `d`; returns the end. */
export function encodeInto(n: JNode, d: usize): usize {
  const k = n.kind;
  if (k == J_NULL) {
    store<u8>(d, <u8>V_NULL);
    return d + 1;
  }
  if (k == J_FALSE || k == J_TRUE) {
    store<u8>(d, <u8>(k == J_TRUE ? V_TRUE : V_FALSE));
    return d + 1;
  }
  if (k == J_NUMBER) {
    store<u8>(d, <u8>V_NUMBER);
    store<f64>(d, n.num, 1);
    return d + 9;
  }
  if (k == J_STRING) {
    store<u8>(d, <u8>V_STRING);
    store<u32>(d, n.count, 1);
    memory.copy(d + 5, n.ptr, n.count);
    return d + 5 + n.count;
  }
  store<u8>(d, <u8>(k == J_ARRAY ? V_ARRAY : V_OBJECT));
  store<u32>(d, n.count, 1);
  let q = d + 9;
  for (let i: u32 = 0; i < n.count; i++) {
    if (k == J_ARRAY) q = encodeInto(element(n, i), q);
    else {
      const len = memberKeyLen(n, i);
      store<u32>(q, <u32>len);
      memory.copy(q + 4, memberKey(n, i), len);
      q = encodeInto(memberValue(n, i), q + 4 + len);
    }
  }
  store<u32>(d, <u32>(q - d - 9), 5);
  return q;
}

export function encode(a: Arena, n: JNode): usize {
  const p = arenaAlloc(a, encodedSize(n));
  encodeInto(n, p);
  return p;
}

export function encodeString(a: Arena, p: usize, n: usize): usize {
  const v = arenaAlloc(a, 5 + n);
  store<u8>(v, <u8>V_STRING);
  store<u32>(v, <u32>n, 1);
  memory.copy(v + 5, p, n);
  return v;
}

// ---------------------------------------------------------------------------
// Validating request values: the host's bytes are checked before any is read.

// Why the last validation failed.
export let invalidReason: string = "";

// Open containers while validating: end of content, items left, whether an object.
const stackEnd: usize = memory.data(4 * (MAX_CONTEXT_DEPTH + 2));
const stackLeft: usize = memory.data(4 * (MAX_CONTEXT_DEPTH + 2));
const stackObject: usize = memory.data(MAX_CONTEXT_DEPTH + 2);

/**
 * Checks the value at `p` (before `limit`): well-formed, UTF-8, strings and
 * names at most 1 MiB, containers at most `maxDepth` deep. Returns the end of
 * the value, or 0 with `invalidReason` set.
 */
export function validateValue(p: usize, limit: usize, maxDepth: u32): usize {
  // Scalars, the common case, without the machinery for containers.
  if (p < limit) {
    const t = tagOf(p);
    if (t >= V_NULL && t <= V_TRUE) return p + 1;
    if (t == V_NUMBER) return p + 9 <= limit ? p + 9 : bad("truncated number");
  }
  let depth: u32 = 0;
  let started = false;
  while (true) {
    let end = limit;
    if (depth > 0) {
      const top = <usize>(depth - 1);
      end = <usize>load<u32>(stackEnd + (top << 2));
      const left = load<u32>(stackLeft + (top << 2));
      if (left == 0) {
        if (p != end) return bad("an array or object's byte length does not match its items");
        depth--;
        continue;
      }
      store<u32>(stackLeft + (top << 2), left - 1);
      if (load<u8>(stackObject + top) != 0) {
        if (p + 4 > end) return bad("truncated member name");
        const len = load<u32>(p);
        if (len > MAX_STRING) return bad("a member name is longer than 1 MiB");
        if (<usize>len > end - p - 4) return bad("truncated member name");
        if (utf8Invalid(p + 4, len) >= 0) return bad("a member name is not valid UTF-8");
        p += 4 + len;
      }
    } else if (started) return p;
    started = true;
    if (p >= end) return bad("truncated value");
    const t = tagOf(p);
    if (t == V_MISSING) return bad("a value is missing inside an array or object");
    if (t <= V_TRUE) p += 1;
    else if (t == V_NUMBER) {
      if (p + 9 > end) return bad("truncated number");
      p += 9;
    } else if (t == V_STRING) {
      if (p + 5 > end) return bad("truncated string");
      const len = lengthOf(p);
      if (len > MAX_STRING) return bad("a string is longer than 1 MiB");
      if (<usize>len > end - p - 5) return bad("truncated string");
      if (utf8Invalid(p + 5, len) >= 0) return bad("a string is not valid UTF-8");
      p += 5 + len;
    } else if (t == V_ARRAY || t == V_OBJECT) {
      if (p + 9 > end) return bad("truncated array or object");
      if (depth >= maxDepth) return bad("the context nests more than 64 levels deep");
      const bytes = load<u32>(p, 5);
      if (<usize>bytes > end - p - 9) return bad("truncated array or object");
      const slot = <usize>depth;
      store<u32>(stackEnd + (slot << 2), <u32>(p + 9 + bytes));
      store<u32>(stackLeft + (slot << 2), lengthOf(p));
      store<u8>(stackObject + slot, t == V_OBJECT ? 1 : 0);
      depth++;
      p += 9;
    } else return bad("unknown value tag");
  }
}

function bad(reason: string): usize {
  invalidReason = reason;
  return 0;
}

// ---------------------------------------------------------------------------
// Writing values as JSON text.

/** Writes the value as JSON text (numbers as ECMAScript writes them). */
export function writeJson(b: Buf, v: usize): void {
  const t = tagOf(v);
  if (t == V_NULL || t == V_MISSING) bufStr(b, "null");
  else if (t == V_FALSE) bufStr(b, "false");
  else if (t == V_TRUE) bufStr(b, "true");
  else if (t == V_NUMBER) bufNumber(b, numberOf(v));
  else if (t == V_STRING) bufJsonString(b, bytesOf(v), lengthOf(v));
  else if (t == V_ARRAY) {
    bufByte(b, 91);
    let q = itemsOf(v);
    for (let i: u32 = 0; i < lengthOf(v); i++) {
      if (i > 0) bufByte(b, 44);
      writeJson(b, q);
      q += sizeOf(q);
    }
    bufByte(b, 93);
  } else {
    bufByte(b, 123);
    let q = itemsOf(v);
    for (let i: u32 = 0; i < lengthOf(v); i++) {
      if (i > 0) bufByte(b, 44);
      const len = <usize>load<u32>(q);
      bufJsonString(b, q + 4, len);
      bufByte(b, 58);
      q += 4 + len;
      writeJson(b, q);
      q += sizeOf(q);
    }
    bufByte(b, 125);
  }
}
