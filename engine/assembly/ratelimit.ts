// Rate-limit counts (policy-language.md §7). Each limit keeps, per scope key,
// the times of the requests it counted. A request is over the limit when
// `limit` counted times t satisfy now - t < period; since that predicate is
// monotone in t, the `limit` newest times decide it, so each key keeps only
// those, in a min-heap: a check is one comparison with the heap's minimum.
//
// States live on the heap, not in the policy set's arena, so a reload can
// hand them to the limits of the new set (same policy name, action, resource,
// period and scope). Keys whose newest time has left its window (relative to
// the latest time counted) are swept when a limit's table grows, which bounds
// memory by the keys active within a period.

import { alloc, free } from "./memory";
import { bytesEqual, hashBytes } from "./bytes";
import { Limit } from "./model";
import { Pattern } from "./pattern";

@unmanaged export class RateState {
  slots: usize; // u32 Entry pointers, 0 = empty
  mask: u32;
  count: u32;
  sweepAt: u32;
  noValue: usize; // the shared Entry of requests with no value for the scope
  latest: f64; // the latest time counted
}

@unmanaged export class Entry {
  hash: u32;
  key: usize;
  keyLen: u32;
  times: usize; // f64 min-heap
  size: u32;
  cap: u32;
  newest: f64;
}

const INITIAL_SLOTS: u32 = 16;

export function stateNew(): RateState {
  const s = changetype<RateState>(alloc(offsetof<RateState>()));
  s.slots = alloc(<usize>INITIAL_SLOTS << 2);
  memory.fill(s.slots, 0, <usize>INITIAL_SLOTS << 2);
  s.mask = INITIAL_SLOTS - 1;
  s.count = 0;
  s.sweepAt = 64;
  s.noValue = 0;
  s.latest = -Infinity;
  return s;
}

function entryFree(e: Entry): void {
  if (e.key != 0) free(e.key);
  free(e.times);
  free(changetype<usize>(e));
}

export function stateFree(s: RateState): void {
  for (let i: u32 = 0; i <= s.mask; i++) {
    const e = <usize>load<u32>(s.slots + (<usize>i << 2));
    if (e != 0) entryFree(changetype<Entry>(e));
  }
  if (s.noValue != 0) entryFree(changetype<Entry>(s.noValue));
  free(s.slots);
  free(changetype<usize>(s));
}

function entryNew(key: usize, n: usize, h: u32): Entry {
  const e = changetype<Entry>(alloc(offsetof<Entry>()));
  e.hash = h;
  e.key = 0;
  if (key != 0) {
    e.key = alloc(n);
    memory.copy(e.key, key, n);
  }
  e.keyLen = <u32>n;
  e.cap = 4;
  e.times = alloc(4 << 3);
  e.size = 0;
  e.newest = -Infinity;
  return e;
}

function insertSlot(s: RateState, e: Entry): void {
  let i = e.hash & s.mask;
  while (load<u32>(s.slots + (<usize>i << 2)) != 0) i = (i + 1) & s.mask;
  store<u32>(s.slots + (<usize>i << 2), changetype<u32>(e));
}

function rehash(s: RateState, cap: u32, dropBefore: f64): void {
  const old = s.slots;
  const oldCap = s.mask + 1;
  s.slots = alloc(<usize>cap << 2);
  memory.fill(s.slots, 0, <usize>cap << 2);
  s.mask = cap - 1;
  s.count = 0;
  for (let i: u32 = 0; i < oldCap; i++) {
    const p = <usize>load<u32>(old + (<usize>i << 2));
    if (p == 0) continue;
    const e = changetype<Entry>(p);
    if (e.newest <= dropBefore) {
      entryFree(e);
      continue;
    }
    insertSlot(s, e);
    s.count++;
  }
  free(old);
}

/** The entry of a scope key (`key == 0`: the no-value key), or 0 when absent and `create` is false. */
export function entryFor(s: RateState, key: usize, n: usize, create: bool, periodMs: f64): usize {
  if (key == 0) {
    if (s.noValue == 0 && create) s.noValue = changetype<usize>(entryNew(0, 0, 0));
    return s.noValue;
  }
  const h = hashBytes(key, n);
  let i = h & s.mask;
  while (true) {
    const p = <usize>load<u32>(s.slots + (<usize>i << 2));
    if (p == 0) break;
    const e = changetype<Entry>(p);
    if (e.hash == h && bytesEqual(e.key, e.keyLen, key, n)) return p;
    i = (i + 1) & s.mask;
  }
  if (!create) return 0;
  if (s.count >= s.sweepAt) {
    // Forget keys whose newest count has left the window, then size the table for the rest.
    rehash(s, s.mask + 1, s.latest - periodMs);
    s.sweepAt = max<u32>(64, s.count << 1);
  }
  if ((s.count + 1) * 4 > (s.mask + 1) * 3) rehash(s, (s.mask + 1) << 1, -Infinity);
  const e = entryNew(key, n, h);
  insertSlot(s, e);
  s.count++;
  return changetype<usize>(e);
}

/** Whether `limit` counted times lie within the period before `now`. */
export function isFull(e: Entry, limit: u32, now: f64, periodMs: f64): bool {
  return e.size >= limit && load<f64>(e.times) > now - periodMs;
}

function siftDown(h: usize, n: u32, i: u32): void {
  while (true) {
    const l: u32 = 2 * i + 1;
    if (l >= n) return;
    let m = l;
    if (l + 1 < n && load<f64>(h + (<usize>(l + 1) << 3)) < load<f64>(h + (<usize>l << 3))) m = l + 1;
    const a = load<f64>(h + (<usize>i << 3));
    const b = load<f64>(h + (<usize>m << 3));
    if (a <= b) return;
    store<f64>(h + (<usize>i << 3), b);
    store<f64>(h + (<usize>m << 3), a);
    i = m;
  }
}

/** Counts a request at time `t`, keeping the `limit` newest times. */
export function record(s: RateState, e: Entry, limit: u32, t: f64): void {
  if (t > s.latest) s.latest = t;
  if (t > e.newest) e.newest = t;
  if (e.size < limit) {
    if (e.size == e.cap) {
      const cap = min<u32>(e.cap << 1, max<u32>(limit, 4));
      const fresh = alloc(<usize>cap << 3);
      memory.copy(fresh, e.times, <usize>e.size << 3);
      free(e.times);
      e.times = fresh;
      e.cap = cap;
    }
    // Sift up.
    let i = e.size++;
    store<f64>(e.times + (<usize>i << 3), t);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const a = load<f64>(e.times + (<usize>parent << 3));
      if (a <= t) break;
      store<f64>(e.times + (<usize>i << 3), a);
      store<f64>(e.times + (<usize>parent << 3), t);
      i = parent;
    }
  } else if (limit > 0 && t > load<f64>(e.times)) {
    store<f64>(e.times, t);
    siftDown(e.times, e.size, 0);
  }
}

/** Drops the oldest times beyond `limit` (a limit lowered by a reload). */
export function trim(e: Entry, limit: u32): void {
  while (e.size > limit) {
    e.size--;
    store<f64>(e.times, load<f64>(e.times + (<usize>e.size << 3)));
    siftDown(e.times, e.size, 0);
  }
}

export function trimAll(s: RateState, limit: u32): void {
  for (let i: u32 = 0; i <= s.mask; i++) {
    const p = <usize>load<u32>(s.slots + (<usize>i << 2));
    if (p != 0) trim(changetype<Entry>(p), limit);
  }
  if (s.noValue != 0) trim(changetype<Entry>(s.noValue), limit);
}

// ---------------------------------------------------------------------------
// Identity across reloads (§7): policy name, action, resource, period, scope.

function samePatterns(a: usize, an: u32, b: usize, bn: u32): bool {
  if (an != bn) return false;
  const size = offsetof<Pattern>();
  for (let i: u32 = 0; i < an; i++) {
    const x = changetype<Pattern>(a + size * i);
    const y = changetype<Pattern>(b + size * i);
    if (!bytesEqual(x.src, x.srcLen, y.src, y.srcLen)) return false;
  }
  return true;
}

export function sameLimit(a: Limit, b: Limit): bool {
  return a.hasPolicyName == b.hasPolicyName
    && bytesEqual(a.policyName, a.policyNameLen, b.policyName, b.policyNameLen)
    && samePatterns(a.actions, a.actionCount, b.actions, b.actionCount)
    && samePatterns(a.resources, a.resourceCount, b.resources, b.resourceCount)
    && a.periodMs == b.periodMs
    && bytesEqual(a.scopeText, a.scopeLen, b.scopeText, b.scopeLen);
}
