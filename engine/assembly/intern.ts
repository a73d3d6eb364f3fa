// Interned strings (ABI.md §Interned strings): a host registers a string it
// sends often (an action, a resource) once, then names it by number in
// requests, so neither side encodes, checks or hashes it again.

import { alloc, free } from "./memory";
import { Buf, bufNew, bufU32, hashBytes, utf8Invalid } from "./bytes";
import { V_STRING, MAX_STRING } from "./value";

/** At most this many strings at once; the host resets when it wants room. */
export const MAX_INTERNED: u32 = 1 << 16;

// Entry: u32 hash of the bytes, then the encoded string value (tag, u32 length, bytes).
const entries: Buf = bufNew(1024);

function count(): u32 {
  return <u32>(entries.len >> 2);
}

/** Registers a string; its id, or -1 when it is not UTF-8, over 1 MiB, or the table is full. */
export function internString(p: usize, n: usize): i32 {
  if (n > <usize>MAX_STRING || utf8Invalid(p, n) >= 0 || count() >= MAX_INTERNED) return -1;
  const e = alloc(9 + n);
  store<u32>(e, hashBytes(p, n));
  store<u8>(e, <u8>V_STRING, 4);
  store<u32>(e, <u32>n, 5);
  memory.copy(e + 9, p, n);
  bufU32(entries, <u32>e);
  return <i32>count() - 1;
}

/** Forgets every interned string. */
export function internReset(): void {
  for (let i: u32 = 0; i < count(); i++) free(<usize>load<u32>(entries.ptr + (<usize>i << 2)));
  entries.len = 0;
}

/** The encoded string value of an id, or 0 when there is no such id. */
export function internedValue(id: u32): usize {
  return id < count() ? <usize>load<u32>(entries.ptr + (<usize>id << 2)) + 4 : 0;
}

/** The hash of the bytes of a value `internedValue` returned. */
// @ts-ignore: decorator
@inline export function internedHash(value: usize): u32 {
  return load<u32>(value - 4);
}
