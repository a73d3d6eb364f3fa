// Load errors (ABI.md §Loading): every error found, each with the policy
// index, the JSON pointer inside that policy and a message for people, written
// straight into the JSON array the host reads.

import { Buf, bufNew, bufByte, bufBytes, bufStr, bufI64, bufJsonString, bufReserve } from "./bytes";

const errors: Buf = bufNew(1024);
const message: Buf = bufNew(256);
/**
 * The JSON pointer of the value being validated, as segments of three u32s
 * (SEG_KEY: key bytes and length; SEG_NAME: an ASCII literal; SEG_INDEX: an
 * array index), written out (RFC 6901, escaped) only when an error is
 * recorded: every value is pushed, very few are wrong.
 */
export const pointer: Buf = bufNew(256);
const SEG: usize = 12;
const SEG_KEY: u32 = 0;
const SEG_NAME: u32 = 1;
const SEG_INDEX: u32 = 2;
const rendered: Buf = bufNew(256);
let count: u32 = 0;
/** The policy being validated, -1 outside any. */
export let currentPolicy: i32 = -1;

export function setPolicy(i: i32): void {
  currentPolicy = i;
  pointer.len = 0;
}

export function errorsReset(): void {
  errors.len = 0;
  count = 0;
  currentPolicy = -1;
  pointer.len = 0;
}

export function errorCount(): u32 {
  return count;
}

export function errorsJson(): Buf {
  return errors;
}

/** Starts a message; append to the returned buffer, then call `errorAt` or `errorHere`. */
export function msg(): Buf {
  message.len = 0;
  return message;
}

/** Records the message built since `msg()` at the given pointer. */
export function errorAt(policy: i32, ptr: usize, len: usize, offset: i32): void {
  if (count > 0) bufByte(errors, 44);
  count++;
  bufStr(errors, "{\"policy\":");
  bufI64(errors, policy);
  bufStr(errors, ",\"pointer\":");
  bufJsonString(errors, ptr, len);
  bufStr(errors, ",\"message\":");
  bufJsonString(errors, message.ptr, message.len);
  if (offset >= 0) {
    bufStr(errors, ",\"offset\":");
    bufI64(errors, offset);
  }
  bufByte(errors, 125);
}

/** Records the message at the current pointer of the current policy. */
export function errorHere(): void {
  const out = rendered;
  out.len = 0;
  for (let s = pointer.ptr; s < pointer.ptr + pointer.len; s += SEG) {
    const kind = load<u32>(s);
    const a = load<u32>(s, 4);
    bufByte(out, 47);
    if (kind == SEG_INDEX) bufI64(out, a);
    else if (kind == SEG_NAME) bufStr(out, changetype<string>(<usize>a));
    else writeKey(out, a, load<u32>(s, 8));
  }
  errorAt(currentPolicy, out.ptr, out.len, -1);
}

/** A member name as a pointer segment (after its "/"): "~" → "~0", "/" → "~1". */
export function writeKey(out: Buf, p: usize, n: usize): void {
  let run = p;
  for (let q = p; q < p + n; q++) {
    const c = load<u8>(q);
    if (c != 126 && c != 47) continue;
    bufBytes(out, run, q - run);
    bufByte(out, 126);
    bufByte(out, c == 126 ? 48 : 49);
    run = q + 1;
  }
  bufBytes(out, run, p + n - run);
}

/** Records the message at the current pointer extended by one member name. */
export function errorAtMember(name: string): void {
  const mark = pointer.len;
  pushName(name);
  errorHere();
  pointer.len = mark;
}

// Pointer segments: callers save `pointer.len`, push, and restore it.

// @ts-ignore: decorator
@inline function pushSegment(kind: u32, a: usize, b: usize): void {
  const s = bufReserve(pointer, SEG);
  store<u32>(s, kind);
  store<u32>(s, <u32>a, 4);
  store<u32>(s, <u32>b, 8);
  pointer.len += SEG;
}

/** A member name from the input (it must outlive the segment). */
export function pushKey(p: usize, n: usize): void {
  pushSegment(SEG_KEY, p, n);
}

/** A member name as an ASCII literal. */
export function pushName(name: string): void {
  pushSegment(SEG_NAME, changetype<usize>(name), 0);
}

export function pushIndex(i: u32): void {
  pushSegment(SEG_INDEX, i, 0);
}
