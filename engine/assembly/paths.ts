// The paths that a policy set's conditions and rate-limit scopes read
// (policy-language.md §3). Context paths become the request's value slots
// (ABI.md §The request record); the others are read from the agent, the
// request or the clock. A path is referred to by a `PathRef`: the index among
// context paths, or OTHER | the index among the rest. Published ids put the
// context paths first.

import { Arena, arenaAlloc } from "./memory";
import { Buf, bufNew, bufFree, bufStr, bufBytes, bufU32, bytesIs, hashBytes } from "./bytes";
import { ByteMap, mapNew, mapGet, mapPut, NOT_FOUND } from "./bytemap";
import { T_YEAR, T_MONTH, T_DAY, T_HOUR, T_MINUTE, T_WEEKDAY, T_EPOCH } from "./time";

export const OTHER: u32 = 0x80000000;

// What a non-context path reads.
export const S_AGENT_ID: u32 = 1;
export const S_AGENT_TRUST: u32 = 2;
export const S_AGENT_TAGS: u32 = 3;
export const S_ACTION: u32 = 4;
export const S_RESOURCE: u32 = 5;
export const S_TIME: u32 = 16; // + the time field (time.ts T_*)

@unmanaged export class PathSet {
  map: ByteMap; // display text → PathRef
  ctx: Buf; // per context path: text pointer, text length (u32 pairs)
  other: Buf; // per other path: text pointer, text length, source
  ctxCount: u32;
  otherCount: u32;
}

export function pathSetNew(a: Arena): PathSet {
  const s = changetype<PathSet>(arenaAlloc(a, offsetof<PathSet>()));
  s.map = mapNew(a, 16);
  s.ctx = bufNew(64);
  s.other = bufNew(64);
  s.ctxCount = 0;
  s.otherCount = 0;
  return s;
}

/** Frees the growable lists (they live on the heap; the rest is in the arena). */
export function pathSetRelease(s: PathSet): void {
  bufFree(s.ctx);
  bufFree(s.other);
}

const text: Buf = bufNew(64);

/** The ref of `context.<dotted>` (the dotted segments given without the prefix). */
export function contextPath(a: Arena, s: PathSet, p: usize, n: usize): u32 {
  text.len = 0;
  bufStr(text, "context.");
  bufBytes(text, p, n);
  const h = hashBytes(text.ptr, text.len);
  const found = mapGet(s.map, text.ptr, text.len, h);
  if (found != NOT_FOUND) return found;
  const key = arenaAlloc(a, text.len);
  memory.copy(key, text.ptr, text.len);
  const ref = s.ctxCount++;
  bufU32(s.ctx, <u32>key);
  bufU32(s.ctx, <u32>text.len);
  mapPut(s.map, key, text.len, h, ref);
  return ref;
}

/** The ref of a non-context path; `p, n` is its display text (`agent.id`). */
export function otherPath(a: Arena, s: PathSet, p: usize, n: usize, source: u32): u32 {
  const h = hashBytes(p, n);
  const found = mapGet(s.map, p, n, h);
  if (found != NOT_FOUND) return found;
  const key = arenaAlloc(a, n);
  memory.copy(key, p, n);
  const ref = OTHER | s.otherCount++;
  bufU32(s.other, <u32>key);
  bufU32(s.other, <u32>n);
  bufU32(s.other, source);
  mapPut(s.map, key, n, h, ref);
  return ref;
}

/** Published id: context paths first. */
// @ts-ignore: decorator
@inline export function pathId(s: PathSet, ref: u32): u32 {
  return ref & OTHER ? s.ctxCount + (ref & ~OTHER) : ref;
}

export function pathCount(s: PathSet): u32 {
  return s.ctxCount + s.otherCount;
}

export function pathText(s: PathSet, id: u32): usize {
  return id < s.ctxCount ? load<u32>(s.ctx.ptr + (<usize>id << 3)) : load<u32>(s.other.ptr + <usize>(id - s.ctxCount) * 12);
}

export function pathTextLen(s: PathSet, id: u32): usize {
  return id < s.ctxCount ? load<u32>(s.ctx.ptr + (<usize>id << 3), 4) : load<u32>(s.other.ptr + <usize>(id - s.ctxCount) * 12, 4);
}

export function otherSource(s: PathSet, index: u32): u32 {
  return load<u32>(s.other.ptr + <usize>index * 12, 8);
}

/** The source of `agent.x`, `request.x` or `time.x`, or 0 when the path names none. */
export function sourceOf(root: usize, rootLen: usize, field: usize, fieldLen: usize): u32 {
  if (bytesIs(root, rootLen, "agent")) {
    if (bytesIs(field, fieldLen, "id")) return S_AGENT_ID;
    if (bytesIs(field, fieldLen, "trust_level")) return S_AGENT_TRUST;
    if (bytesIs(field, fieldLen, "tags")) return S_AGENT_TAGS;
  } else if (bytesIs(root, rootLen, "request")) {
    if (bytesIs(field, fieldLen, "action")) return S_ACTION;
    if (bytesIs(field, fieldLen, "resource")) return S_RESOURCE;
  } else if (bytesIs(root, rootLen, "time")) {
    if (bytesIs(field, fieldLen, "year")) return S_TIME + T_YEAR;
    if (bytesIs(field, fieldLen, "month")) return S_TIME + T_MONTH;
    if (bytesIs(field, fieldLen, "day")) return S_TIME + T_DAY;
    if (bytesIs(field, fieldLen, "hour")) return S_TIME + T_HOUR;
    if (bytesIs(field, fieldLen, "minute")) return S_TIME + T_MINUTE;
    if (bytesIs(field, fieldLen, "weekday")) return S_TIME + T_WEEKDAY;
    if (bytesIs(field, fieldLen, "epoch")) return S_TIME + T_EPOCH;
  }
  return 0;
}
