// Rate-limit counts (policy-language.md §7). Each limit keeps, per scope key,
// the instants of the requests it counted, sorted, in a ring. A request is
// over the limit when `limit` counted instants t satisfy now - t < period,
// i.e. now < t + period; that holds for every t after some point, so it is
// enough to look at the limit-th newest: a check is one comparison.
//
// A key keeps its newest max(limit, 64) instants. With time moving
// backwards (a caller's injected times) the newest `limit` still decide
// exactly; the extra ones keep a limit raised by a reload exact up to 64.
//
// States live on the heap, not in the policy set's arena, so a reload can
// hand them to the limits of the new set (same policy name, action, resource,
// period and scope). Keys whose newest instant has left its window (relative
// to the latest instant counted) are swept when a limit's table grows, which
// bounds memory by the keys active within a period.

import { alloc, free } from "./memory";
import { bytesEqual, hashBytes } from "./bytes";
import { Limit } from "./model";
import { Pattern } from "./pattern";
import { before, addSeconds } from "./time";

const KEEP_AT_LEAST: u32 = 64;
const SLOT: usize = 16; // an instant: i64 seconds, u64 attoseconds

@unmanaged export class RateState {
  slots: usize; // u32 Entry pointers, 0 = empty
  mask: u32;
  count: u32;
  sweepAt: u32;
  noValue: usize; // the shared Entry of requests with no value for the scope
  latestS: i64; // the latest instant counted
  latestF: u64;
}

@unmanaged export class Entry {
  hash: u32;
  key: usize;
  keyLen: u32;
  times: usize; // ring of instants, oldest at `head`
  head: u32;
  size: u32;
  capacity: u32; // slots allocated (a power of two)
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
  s.latestS = i64.MIN_VALUE;
  s.latestF = 0;
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
  e.capacity = 4;
  e.times = alloc(4 * SLOT);
  e.head = 0;
  e.size = 0;
  return e;
}

/** The i-th oldest instant's slot. */
// @ts-ignore: decorator
@inline export function slotAt(e: Entry, i: u32): usize {
  return e.times + <usize>((e.head + i) & (e.capacity - 1)) * SLOT;
}

function insertSlot(s: RateState, e: Entry): void {
  let i = e.hash & s.mask;
  while (load<u32>(s.slots + (<usize>i << 2)) != 0) i = (i + 1) & s.mask;
  store<u32>(s.slots + (<usize>i << 2), changetype<u32>(e));
}

/** Whether the entry's newest instant is at or before the latest counted minus the period. */
function expired(s: RateState, e: Entry, periodS: i64): bool {
  if (e.size == 0) return true;
  const t = slotAt(e, e.size - 1);
  return !before(s.latestS, s.latestF, addSeconds(load<i64>(t), periodS), load<u64>(t, 8));
}

function rehash(s: RateState, cap: u32, sweep: bool, periodS: i64): void {
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
    if (sweep && expired(s, e, periodS)) {
      entryFree(e);
      continue;
    }
    insertSlot(s, e);
    s.count++;
  }
  free(old);
}

/** The entry of a scope key (`key == 0`: the no-value key), or 0 when absent and `create` is false. */
export function entryFor(s: RateState, key: usize, n: usize, create: bool, periodS: i64): usize {
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
    rehash(s, s.mask + 1, true, periodS);
    s.sweepAt = max<u32>(64, s.count << 1);
  }
  if ((s.count + 1) * 4 > (s.mask + 1) * 3) rehash(s, (s.mask + 1) << 1, false, 0);
  const e = entryNew(key, n, h);
  insertSlot(s, e);
  s.count++;
  return changetype<usize>(e);
}

/** How many counted instants t satisfy now < t + period. */
export function countWithin(e: Entry, nowS: i64, nowF: u64, periodS: i64): u32 {
  let n: u32 = 0;
  for (let i = e.size; i > 0; i--) {
    const t = slotAt(e, i - 1);
    if (!before(nowS, nowF, addSeconds(load<i64>(t), periodS), load<u64>(t, 8))) break;
    n++;
  }
  return n;
}

/** Whether `limit` counted instants lie within the period before now. */
export function isFull(e: Entry, limit: u32, nowS: i64, nowF: u64, periodS: i64): bool {
  if (e.size < limit) return false;
  const t = slotAt(e, e.size - limit);
  return before(nowS, nowF, addSeconds(load<i64>(t), periodS), load<u64>(t, 8));
}

function keepFor(limit: u32): u32 {
  return max<u32>(limit, KEEP_AT_LEAST);
}

/** Moves the ring into a buffer of `capacity` slots, oldest first. */
function regrow(e: Entry, capacity: u32): void {
  const fresh = alloc(<usize>capacity * SLOT);
  for (let i: u32 = 0; i < e.size; i++) memory.copy(fresh + <usize>i * SLOT, slotAt(e, i), SLOT);
  free(e.times);
  e.times = fresh;
  e.head = 0;
  e.capacity = capacity;
}

/** Counts a request at instant (ts, tf), keeping the newest max(limit, 64). */
export function record(s: RateState, e: Entry, limit: u32, ts: i64, tf: u64): void {
  if (before(s.latestS, s.latestF, ts, tf)) {
    s.latestS = ts;
    s.latestF = tf;
  }
  const keep = keepFor(limit);
  if (e.size >= keep) {
    // Full: the oldest leaves, unless the new one is older still.
    const oldest = slotAt(e, 0);
    if (!before(load<i64>(oldest), load<u64>(oldest, 8), ts, tf)) return;
    e.head = (e.head + 1) & (e.capacity - 1);
    e.size--;
  }
  if (e.size == e.capacity) regrow(e, e.capacity << 1);
  // Insert in order; time usually moves forward, so this is an append.
  let i = e.size;
  while (i > 0) {
    const prev = slotAt(e, i - 1);
    if (!before(ts, tf, load<i64>(prev), load<u64>(prev, 8))) break;
    memory.copy(slotAt(e, i), prev, SLOT);
    i--;
  }
  const at = slotAt(e, i);
  store<i64>(at, ts);
  store<u64>(at, tf, 8);
  e.size++;
}

/** Drops the oldest instants beyond what `limit` keeps (a limit lowered by a reload). */
export function trimAll(s: RateState, limit: u32): void {
  const keep = keepFor(limit);
  for (let i: u32 = 0; i <= s.mask; i++) {
    const p = <usize>load<u32>(s.slots + (<usize>i << 2));
    if (p != 0) trim(changetype<Entry>(p), keep);
  }
  if (s.noValue != 0) trim(changetype<Entry>(s.noValue), keep);
}

function trim(e: Entry, keep: u32): void {
  while (e.size > keep) {
    e.head = (e.head + 1) & (e.capacity - 1);
    e.size--;
  }
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
    && a.periodSeconds == b.periodSeconds
    && bytesEqual(a.scopeText, a.scopeLen, b.scopeText, b.scopeLen);
}
