// Load errors (ABI.md §Loading): every error found, each with the policy
// index, the JSON pointer inside that policy and a message for people, written
// straight into the JSON array the host reads.

import { Buf, bufNew, bufByte, bufBytes, bufStr, bufI64, bufJsonString } from "./bytes";

const errors: Buf = bufNew(1024);
const message: Buf = bufNew(256);
/** The JSON pointer of the value being validated (RFC 6901, escaped). */
export const pointer: Buf = bufNew(256);
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
  errorAt(currentPolicy, pointer.ptr, pointer.len, -1);
}

/** Records the message at the current pointer extended by one member name. */
export function errorAtMember(name: string): void {
  const mark = pointer.len;
  pushName(name);
  errorHere();
  pointer.len = mark;
}

// Pointer segments: callers save `pointer.len`, push, and restore it.

export function pushKey(p: usize, n: usize): void {
  bufByte(pointer, 47);
  let run = p;
  for (let q = p; q < p + n; q++) {
    const c = load<u8>(q);
    if (c != 126 && c != 47) continue;
    bufBytes(pointer, run, q - run);
    bufByte(pointer, 126);
    bufByte(pointer, c == 126 ? 48 : 49); // "~" → "~0", "/" → "~1"
    run = q + 1;
  }
  bufBytes(pointer, run, p + n - run);
}

export function pushName(name: string): void {
  bufByte(pointer, 47);
  bufStr(pointer, name);
}

export function pushIndex(i: u32): void {
  bufByte(pointer, 47);
  bufI64(pointer, i);
}
