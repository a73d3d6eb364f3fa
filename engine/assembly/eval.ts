// Evaluating conditions (policy-language.md §3, "Missing values and types"):
// three-valued (Kleene) logic over the request's values. `evalCond`
// short-circuits and is what a decision runs; `collectPaths` evaluates every
// operand of every comparison without short-circuit and marks the paths that
// make comparisons indeterminate — run only for a rule whose conditions came
// out indeterminate, so the common case pays nothing for it.

import { Arena, arenaAlloc } from "./memory";
import { formatNumber } from "./number";
import { Pattern, patternMatches, compilePattern, patternValid } from "./pattern";
import { OTHER, S_AGENT_ID, S_AGENT_TRUST, S_AGENT_TAGS, S_ACTION, S_RESOURCE, S_TIME } from "./paths";
import { timeFields, TIME_FIELDS } from "./time";
import {
  V_NULL, V_FALSE, V_TRUE, V_NUMBER, V_STRING, V_ARRAY, V_OBJECT,
  VALUE_TRUE, VALUE_FALSE, tagOf, numberOf, lengthOf, bytesOf, itemsOf, sizeOf, deepEqual, order,
} from "./value";
import {
  Cond, Operand, FALSE, TRUE, INDETERMINATE, C_AND, C_OR, C_NOT, C_CMP, C_BARE,
  OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOT_IN, OP_MATCHES,
  OP_GLOB_VALUE, OP_ANY_OF, OP_GLOB, OP_EXISTS, OP_ABSENT, O_VALUE, O_PATH, O_LIST, O_PAREN,
} from "./conditions";

// Operand results: a pointer to an encoded value, or one of these.
export const R_MISSING: usize = 0;
export const R_INDETERMINATE: usize = 1; // a parenthesised condition that came out indeterminate

// ---------------------------------------------------------------------------
// The request being decided (set by decide.ts before any evaluation).

export let slots: usize = 0; // u32 per context path: encoded value or 0
export let action: usize = 0; // encoded string
export let resource: usize = 0; // encoded string
export let agentId: usize = 0; // encoded values or 0 when absent
export let agentTrust: usize = 0;
export let agentTags: usize = 0;
export let nowSeconds: i64 = 0;
export let zoneOffsets: usize = 0; // i32 seconds per zone slot
let timeCache: usize = 0; // per zone slot: stamp u32, then TIME_FIELDS encoded numbers (9 bytes each)
let stamp: u32 = 0; // the decision's stamp (decide.ts): marks time fields and paths as this decision's
let scratch: Arena = changetype<Arena>(0);
/** The zone slot of the policy whose rule is being evaluated (-1: reads no time). */
export let zoneSlot: i32 = -1;
// Paths found indeterminate in this decision: a stamp per published path id,
// and the list of ids marked (both sized at load).
let marks: usize = 0;
let markList: usize = 0;
let markStamp: u32 = 0;
let contextPathCount: u32 = 0;
/** How many paths `markList` holds. */
export let markCount: u32 = 0;

const TIME_SLOT: usize = 4 + 9 * TIME_FIELDS;
const timeScratch: usize = memory.data(8 * 8);

export function timeCacheSize(zones: u32): usize {
  return <usize>zones * TIME_SLOT;
}

export function setRequest(
  s: usize, act: usize, res: usize, id: usize, trust: usize, tags: usize,
  now: i64, offsets: usize, cache: usize, arena: Arena, decisionStamp: u32,
): void {
  slots = s;
  action = act;
  resource = res;
  agentId = id;
  agentTrust = trust;
  agentTags = tags;
  nowSeconds = now;
  zoneOffsets = offsets;
  timeCache = cache;
  scratch = arena;
  stamp = decisionStamp;
}

export function setZoneSlot(z: i32): void {
  zoneSlot = z;
}

/** Points the path marks at the current policy set's tables (`pathCount` entries) and clears them. */
// @ts-ignore: decorator
@inline export function resetMarks(stamps: usize, list: usize, contextPaths: u32, pathCount: u32): void {
  marks = stamps;
  markList = list;
  contextPathCount = contextPaths;
  markCount = 0;
  markStamp++;
  if (markStamp == 0) {
    memory.fill(stamps, 0, <usize>pathCount << 2);
    markStamp = 1;
  }
}

export function markedPath(i: u32): u32 {
  return load<u32>(markList + (<usize>i << 2));
}

function markPath(ref: u32): void {
  const id = ref & OTHER ? contextPathCount + (ref & ~OTHER) : ref;
  const at = marks + (<usize>id << 2);
  if (load<u32>(at) == markStamp) return;
  store<u32>(at, markStamp);
  store<u32>(markList + (<usize>markCount << 2), id);
  markCount++;
}

function timeValue(field: u32): usize {
  const slot = timeCache + <usize>zoneSlot * TIME_SLOT;
  if (load<u32>(slot) != stamp) {
    store<u32>(slot, stamp);
    const fields = timeScratch;
    timeFields(nowSeconds, load<i32>(zoneOffsets + (<usize>zoneSlot << 2)), fields);
    for (let i: usize = 0; i < <usize>TIME_FIELDS; i++) {
      const v = slot + 4 + i * 9;
      store<u8>(v, <u8>V_NUMBER);
      store<f64>(v, load<f64>(fields + (i << 3)), 1);
    }
  }
  return slot + 4 + <usize>field * 9;
}

/** The value a path reads, or R_MISSING. */
export function pathValue(o: Operand): usize {
  const src = o.source;
  if (src == 0) return <usize>load<u32>(slots + (<usize>o.ref << 2));
  if (src == S_AGENT_ID) return agentId;
  if (src == S_AGENT_TRUST) return agentTrust;
  if (src == S_AGENT_TAGS) return agentTags;
  if (src == S_ACTION) return action;
  if (src == S_RESOURCE) return resource;
  return timeValue(src - S_TIME);
}

// ---------------------------------------------------------------------------

export function operandValue(o: Operand): usize {
  const k = o.kind;
  if (k == O_VALUE) return o.ptr;
  if (k == O_PATH) return pathValue(o);
  if (k == O_PAREN) {
    const r = evalCond(changetype<Cond>(o.ptr));
    return r == TRUE ? VALUE_TRUE : r == FALSE ? VALUE_FALSE : R_INDETERMINATE;
  }
  return listValue(o);
}

/** Builds a list with paths as an encoded array in the scratch arena; missing if an element is. */
function listValue(o: Operand): usize {
  const n = o.ref;
  // Elements first, so nested lists are built before this one is laid out.
  const values = arenaAlloc(scratch, <usize>n << 2);
  let bytes: usize = 0;
  let indeterminate = false;
  for (let i: u32 = 0; i < n; i++) {
    const v = operandValue(changetype<Operand>(<usize>load<u32>(o.ptr + (<usize>i << 2))));
    if (v == R_MISSING) return R_MISSING;
    if (v == R_INDETERMINATE) indeterminate = true;
    else bytes += sizeOf(v);
    store<u32>(values + (<usize>i << 2), <u32>v);
  }
  if (indeterminate) return R_INDETERMINATE;
  const out = arenaAlloc(scratch, 9 + bytes);
  store<u8>(out, <u8>V_ARRAY);
  store<u32>(out, n, 1);
  store<u32>(out, <u32>bytes, 5);
  let q = out + 9;
  for (let i: u32 = 0; i < n; i++) {
    const v = <usize>load<u32>(values + (<usize>i << 2));
    const size = sizeOf(v);
    memory.copy(q, v, size);
    q += size;
  }
  return out;
}

/**
 * Marks the comparisons of a context path with a number literal under `c`
 * (`==`, `!=`, `<`, `<=`, `>`, `>=`), which evalCond then decides directly.
 */
export function specialize(c: Cond): void {
  const k = c.kind;
  if (k == C_AND || k == C_OR) {
    for (let i: usize = 0; i < c.b; i++) specialize(changetype<Cond>(<usize>load<u32>(c.a + (i << 2))));
  } else if (k == C_NOT) {
    specialize(changetype<Cond>(c.a));
  } else if (k == C_CMP && c.op >= OP_EQ && c.op <= OP_GE && c.b != 0) {
    const a = changetype<Operand>(c.a);
    const b = changetype<Operand>(c.b);
    if (a.kind == O_PATH && a.source == 0 && b.kind == O_VALUE && tagOf(b.ptr) == V_NUMBER) c.slotNumber = a.ref + 1;
  }
}

/** evalCompare for a comparison `specialize` marked: the same answers, with no calls. */
// @ts-ignore: decorator
@inline export function evalSlotNumber(c: Cond): u32 {
  const v = <usize>load<u32>(slots + (<usize>(c.slotNumber - 1) << 2));
  if (v == R_MISSING) return INDETERMINATE;
  const op = c.op;
  // Ordering a number with anything else is indeterminate; equality is false.
  if (tagOf(v) != V_NUMBER) return op == OP_EQ ? FALSE : op == OP_NE ? TRUE : INDETERMINATE;
  const x = numberOf(v);
  const y = numberOf(changetype<Operand>(c.b).ptr);
  // NaN (a raw record can hold one) orders with nothing: indeterminate, as `order` says.
  if ((x != x || y != y) && op != OP_EQ && op != OP_NE) return INDETERMINATE;
  let r: bool;
  if (op == OP_LE) r = x <= y;
  else if (op == OP_LT) r = x < y;
  else if (op == OP_GE) r = x >= y;
  else if (op == OP_GT) r = x > y;
  else if (op == OP_EQ) r = x == y;
  else r = x != y;
  return r ? TRUE : FALSE;
}

export function evalCond(c: Cond): u32 {
  const k = c.kind;
  if (k == C_CMP) return c.slotNumber != 0 ? evalSlotNumber(c) : evalCompare(c);
  if (k == C_AND) {
    let r = TRUE;
    for (let i: usize = 0; i < c.b; i++) {
      const x = evalCond(changetype<Cond>(<usize>load<u32>(c.a + (i << 2))));
      if (x == FALSE) return FALSE;
      if (x == INDETERMINATE) r = INDETERMINATE;
    }
    return r;
  }
  if (k == C_OR) {
    let r = FALSE;
    for (let i: usize = 0; i < c.b; i++) {
      const x = evalCond(changetype<Cond>(<usize>load<u32>(c.a + (i << 2))));
      if (x == TRUE) return TRUE;
      if (x == INDETERMINATE) r = INDETERMINATE;
    }
    return r;
  }
  if (k == C_NOT) {
    const x = evalCond(changetype<Cond>(c.a));
    return x == INDETERMINATE ? x : x ^ 1;
  }
  // C_BARE: a bare operand must be a boolean.
  const v = operandValue(changetype<Operand>(c.a));
  if (v <= R_INDETERMINATE) return INDETERMINATE;
  const t = tagOf(v);
  return t == V_TRUE ? TRUE : t == V_FALSE ? FALSE : INDETERMINATE;
}

const numberText: usize = memory.data(32);
const TRUE_TEXT: usize = memory.data<u8>([116, 114, 117, 101]);
const FALSE_TEXT: usize = memory.data<u8>([102, 97, 108, 115, 101]);

/** The object form's string glob (§3): strings directly, numbers and booleans through their JSON text, arrays by any element. */
function globValue(pt: Pattern, v: usize): bool {
  const t = tagOf(v);
  if (t == V_STRING) return patternMatches(pt, bytesOf(v), lengthOf(v));
  if (t == V_NUMBER) return patternMatches(pt, numberText, formatNumber(numberOf(v), numberText));
  if (t == V_TRUE) return patternMatches(pt, TRUE_TEXT, 4);
  if (t == V_FALSE) return patternMatches(pt, FALSE_TEXT, 5);
  if (t == V_ARRAY) {
    let q = itemsOf(v);
    for (let i: u32 = 0; i < lengthOf(v); i++) {
      // "An array matches if any element matches", by these same rules.
      if (globValue(pt, q)) return true;
      q += sizeOf(q);
    }
  }
  return false;
}

function memberOf(list: usize, v: usize): bool {
  let q = itemsOf(list);
  for (let i: u32 = 0; i < lengthOf(list); i++) {
    if (deepEqual(v, q)) return true;
    q += sizeOf(q);
  }
  return false;
}

/** Matches a string against a pattern held in a value (MATCHES with a path on the right). */
function matchesDynamic(text: usize, pattern: usize): u32 {
  const p = bytesOf(pattern);
  const n = lengthOf(pattern);
  if (!patternValid(p, n)) return INDETERMINATE;
  const pt = changetype<Pattern>(arenaAlloc(scratch, offsetof<Pattern>()));
  compilePattern(scratch, p, n, pt);
  return patternMatches(pt, bytesOf(text), lengthOf(text)) ? TRUE : FALSE;
}

export function evalCompare(c: Cond): u32 {
  const op = c.op;
  const left = operandValue(changetype<Operand>(c.a));
  if (op == OP_EXISTS) return left != R_MISSING ? TRUE : FALSE;
  if (op == OP_ABSENT) return left == R_MISSING ? TRUE : FALSE;
  if (left <= R_INDETERMINATE) return INDETERMINATE;
  if (op == OP_GLOB_VALUE) return globValue(changetype<Pattern>(c.extra), left) ? TRUE : FALSE;
  if (op == OP_GLOB) {
    if (tagOf(left) != V_STRING) return INDETERMINATE;
    return patternMatches(changetype<Pattern>(c.extra), bytesOf(left), lengthOf(left)) ? TRUE : FALSE;
  }
  if (op == OP_ANY_OF) {
    const list = c.extra;
    const n = load<u32>(list);
    for (let i: u32 = 0; i < n; i++) {
      const isGlob = load<u32>(list + 4 + (<usize>i << 3));
      const p = <usize>load<u32>(list + 8 + (<usize>i << 3));
      if (isGlob ? globValue(changetype<Pattern>(p), left) : deepEqual(left, p)) return TRUE;
    }
    return FALSE;
  }
  const right = operandValue(changetype<Operand>(c.b));
  if (right <= R_INDETERMINATE) return INDETERMINATE;
  if (op == OP_EQ) return deepEqual(left, right) ? TRUE : FALSE;
  if (op == OP_NE) return deepEqual(left, right) ? FALSE : TRUE;
  if (op <= OP_GE) {
    const o = order(left, right);
    if (o == 2) return INDETERMINATE;
    if (op == OP_LT) return o < 0 ? TRUE : FALSE;
    if (op == OP_LE) return o <= 0 ? TRUE : FALSE;
    if (op == OP_GT) return o > 0 ? TRUE : FALSE;
    return o >= 0 ? TRUE : FALSE;
  }
  if (op == OP_IN || op == OP_NOT_IN) {
    if (tagOf(right) != V_ARRAY) return INDETERMINATE;
    return memberOf(right, left) == (op == OP_IN) ? TRUE : FALSE;
  }
  // OP_MATCHES
  if (tagOf(left) != V_STRING) return INDETERMINATE;
  if (c.extra != 0) return patternMatches(changetype<Pattern>(c.extra), bytesOf(left), lengthOf(left)) ? TRUE : FALSE;
  if (tagOf(right) != V_STRING) return INDETERMINATE;
  return matchesDynamic(left, right);
}

// ---------------------------------------------------------------------------
// Indeterminate paths (§3 "Fail closed"): from each comparison, `exists`
// aside, or bare operand that came out indeterminate: its path operands that
// were missing or, when none was missing and no operand was an indeterminate
// parenthesised expression, all of its path operands. Paths inside list
// operands are path operands; parenthesised operands report their own.

// Per comparison being examined: did an operand path come out missing, was an
// operand an indeterminate parenthesised condition.
let sawMissing = false;
let sawIndeterminateParen = false;

/** First pass over an operand: notes missing paths; recurses into parentheses. */
function scanOperand(o: Operand): void {
  const k = o.kind;
  if (k == O_PATH) {
    if (pathValue(o) == R_MISSING) sawMissing = true;
  } else if (k == O_LIST) {
    for (let i: u32 = 0; i < o.ref; i++) scanOperand(changetype<Operand>(<usize>load<u32>(o.ptr + (<usize>i << 2))));
  } else if (k == O_PAREN) {
    if (evalCond(changetype<Cond>(o.ptr)) == INDETERMINATE) sawIndeterminateParen = true;
  }
}

/** Second pass: marks the operand's paths (only missing ones when `onlyMissing`). */
function markOperand(o: Operand, onlyMissing: bool): void {
  const k = o.kind;
  if (k == O_PATH) {
    if (!onlyMissing || pathValue(o) == R_MISSING) markPath(o.ref);
  } else if (k == O_LIST) {
    for (let i: u32 = 0; i < o.ref; i++) markOperand(changetype<Operand>(<usize>load<u32>(o.ptr + (<usize>i << 2))), onlyMissing);
  }
}

/** Recurses into the parenthesised conditions an operand holds. */
function collectOperand(o: Operand): void {
  if (o.kind == O_PAREN) collectPaths(changetype<Cond>(o.ptr));
  else if (o.kind == O_LIST) {
    for (let i: u32 = 0; i < o.ref; i++) collectOperand(changetype<Operand>(<usize>load<u32>(o.ptr + (<usize>i << 2))));
  }
}

function reportComparison(a: Operand, b: Operand | null): void {
  sawMissing = false;
  sawIndeterminateParen = false;
  scanOperand(a);
  if (b != null) scanOperand(b);
  if (sawMissing) {
    markOperand(a, true);
    if (b != null) markOperand(b, true);
  } else if (!sawIndeterminateParen) {
    markOperand(a, false);
    if (b != null) markOperand(b, false);
  }
}

export function collectPaths(c: Cond): void {
  const k = c.kind;
  if (k == C_AND || k == C_OR) {
    for (let i: usize = 0; i < c.b; i++) collectPaths(changetype<Cond>(<usize>load<u32>(c.a + (i << 2))));
    return;
  }
  if (k == C_NOT) {
    collectPaths(changetype<Cond>(c.a));
    return;
  }
  const a = changetype<Operand>(c.a);
  const b = c.kind == C_CMP && c.b != 0 ? changetype<Operand>(c.b) : null;
  collectOperand(a);
  if (b != null) collectOperand(b);
  const r = k == C_CMP ? evalCompare(c) : evalCond(c);
  if (r != INDETERMINATE) return;
  if (k == C_CMP && (c.op == OP_EXISTS || c.op == OP_ABSENT)) return;
  reportComparison(a, b);
}
