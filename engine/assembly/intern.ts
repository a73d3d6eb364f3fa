// Interned strings (ABI.md §Interned strings): a host registers a string it
// sends often (an action, a resource) once, then names it by number in
// requests, so neither side encodes, checks or hashes it again: the engine
// keeps its hash and the hash of each of its first PREFIX_HASHES prefixes,
// which the rule index would otherwise compute per request.

import { alloc, free } from "./memory";
import { Buf, bufNew, bufU32, hashStep, HASH_SEED, utf8Invalid } from "./bytes";
import { V_STRING, MAX_STRING } from "./value";

/** At most this many strings at once; the host resets when it wants room. */
export const MAX_INTERNED: u32 = 1 << 16;
/** Prefix hashes kept per string: lengths 0 … PREFIX_HASHES. */
export const PREFIX_HASHES: u32 = 256;

// Entry: u32 hash, u32 k, (k + 1) u32 prefix hashes (lengths 0 … k), u32
// pointer to the entry, then the encoded string value (tag, u32 length, bytes).
// `entries` holds, per id, the value's address and the hash, so reading an
// interned string is two independent loads.
const entries: Buf = bufNew(2048);

function count(): u32 {
  return <u32>(entries.len >> 3);
}

/** Registers a string; its id, or -1 when it is not UTF-8, over 1 MiB, or the table is full. */
export function internString(p: usize, n: usize): i32 {
  if (n > <usize>MAX_STRING || utf8Invalid(p, n) >= 0 || count() >= MAX_INTERNED) return -1;
  const k = <u32>min<usize>(n, <usize>PREFIX_HASHES);
  const head: usize = 8 + (<usize>(k + 1) << 2) + 4;
  const e = alloc(head + 5 + n);
  let h = HASH_SEED;
  store<u32>(e + 8, h);
  for (let i: usize = 0; i < n; i++) {
    h = hashStep(h, load<u8>(p + i));
    if (i < <usize>k) store<u32>(e + 8 + ((i + 1) << 2), h);
  }
  store<u32>(e, h);
  store<u32>(e, k, 4);
  const value = e + head;
  store<u32>(value - 4, <u32>e);
  store<u8>(value, <u8>V_STRING);
  store<u32>(value, <u32>n, 1);
  memory.copy(value + 5, p, n);
  bufU32(entries, <u32>value);
  bufU32(entries, h);
  return <i32>count() - 1;
}

/** Forgets every interned string. */
export function internReset(): void {
  for (let i: u32 = 0; i < count(); i++) free(entryOf(<usize>load<u32>(entries.ptr + (<usize>i << 3))));
  entries.len = 0;
}

/** The encoded string value of an id, or 0 when there is no such id. */
// @ts-ignore: decorator
@inline export function internedValue(id: u32): usize {
  if (id >= count()) return 0;
  return <usize>load<u32>(entries.ptr + (<usize>id << 3));
}

/** The hash of the string of an id `internedValue` found. */
// @ts-ignore: decorator
@inline export function internedIdHash(id: u32): u32 {
  return load<u32>(entries.ptr + (<usize>id << 3), 4);
}

// @ts-ignore: decorator
@inline function entryOf(value: usize): usize {
  return <usize>load<u32>(value - 4);
}

/** How many prefix hashes past the empty one it keeps (its length, at most PREFIX_HASHES). */
// @ts-ignore: decorator
@inline export function internedPrefixCount(value: usize): u32 {
  return load<u32>(entryOf(value), 4);
}

/** Its prefix hashes: u32 for each length 0 … internedPrefixCount. */
// @ts-ignore: decorator
@inline export function internedPrefixHashes(value: usize): usize {
  return entryOf(value) + 8;
}
