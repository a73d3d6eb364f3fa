// Plans: which rules an (action, resource) pair reaches through the index,
// in the order of §5 step 3, kept for pairs the host sends as interned ids.
//
// The rules whose action and resource patterns match, and how specific the
// patterns that matched are, depend on the two strings alone; so does the
// order of §5 step 3 among them (specificity, condition count, effect, rule
// order). A decision for a pair seen before then skips the index and the
// ranking: it judges the plan's rules in that order (applicability, trust,
// conditions: everything that depends on the agent, the context or the time
// is still judged on every request) and the first candidate wins. Every rule
// of the plan is judged, so `indeterminate` lists exactly what it would.
//
// Plans are forgotten when the policies change (a load) and when the interned
// ids do (intern_reset), and all at once when the table is full. A plan of
// more than MAX_PLAN_RULES rules is not kept.

import { alloc } from "./memory";
import { Buf, bufNew, bufReserve } from "./bytes";

/** Pairs planned at most; then the table starts over. */
export const MAX_PLANS: u32 = 2048;
/** The most rules a kept plan holds. */
export const MAX_PLAN_RULES: u32 = 64;

// Open addressing over 2 × MAX_PLANS slots: u32 action id + 1, u32 resource
// id, u32 offset of the plan in `rules`, u32 generation. A slot of another
// generation than `generation` is empty, so forgetting every plan (at every
// load) is one increment, not a clear of the table.
const SLOTS: u32 = MAX_PLANS * 2;
const SLOT: usize = 16;
let table: usize = 0;
let generation: u32 = 1;
let count: u32 = 0;
// Plans: u32 rule count, then that many u32 Rule pointers.
const rules: Buf = bufNew(4096);

/** Forgets every plan. */
export function plansClear(): void {
  if (table == 0) {
    table = alloc(<usize>SLOTS * SLOT);
    memory.fill(table, 0, <usize>SLOTS * SLOT);
  }
  generation++;
  // After 2^32 - 1 clears a generation would come round again: start from an empty table.
  if (generation == 0) {
    memory.fill(table, 0, <usize>SLOTS * SLOT);
    generation = 1;
  }
  count = 0;
  rules.len = 0;
}

// @ts-ignore: decorator
@inline function slotOf(action: u32, resource: u32): u32 {
  return ((action * 0x9e3779b1) ^ (resource * 0x85ebca77)) & (SLOTS - 1);
}

/** The plan of the pair (a pointer to its count, then its rules), or 0. */
export function planFind(action: u32, resource: u32): usize {
  if (table == 0) return 0;
  let i = slotOf(action, resource);
  while (true) {
    const s = table + <usize>i * SLOT;
    if (load<u32>(s, 12) != generation) return 0;
    if (load<u32>(s) == action + 1 && load<u32>(s, 4) == resource) return rules.ptr + <usize>load<u32>(s, 8);
    i = (i + 1) & (SLOTS - 1);
  }
}

/**
 * Keeps the plan of a pair: `n` Rule pointers (u32) at `list`, in order.
 * Returns it as planFind would, or 0 when it is too long to keep.
 */
export function planKeep(action: u32, resource: u32, list: usize, n: u32): usize {
  if (n > MAX_PLAN_RULES) return 0;
  if (table == 0 || count >= MAX_PLANS) plansClear();
  const at = rules.len;
  const p = bufReserve(rules, (<usize>n + 1) << 2);
  store<u32>(p, n);
  memory.copy(p + 4, list, <usize>n << 2);
  rules.len += (<usize>n + 1) << 2;
  let i = slotOf(action, resource);
  while (load<u32>(table + <usize>i * SLOT, 12) == generation) i = (i + 1) & (SLOTS - 1);
  const s = table + <usize>i * SLOT;
  store<u32>(s, action + 1);
  store<u32>(s, resource, 4);
  store<u32>(s, <u32>at, 8);
  store<u32>(s, generation, 12);
  count++;
  return rules.ptr + at;
}
