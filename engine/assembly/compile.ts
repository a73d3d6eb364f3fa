// Loading a policy set (policy-language.md §1–§4, §7): strict validation that
// reports every error with its JSON pointer, and compilation into the form
// decide.ts runs (model.ts). A set that has any error is freed whole.

import { Arena, arenaNew, arenaAlloc, arenaZero, arenaCopy, arenaFree, alloc } from "./memory";
import {
  Buf, bufNew, bufStr, bufBytes, bufByte, bufI64, bufU32, bufJsonString, bufJsonStr, bufBool,
  bytesIs, bytesEqual, bytesCompare, hashBytes, hashStep, HASH_SEED,
  codeUnit,
} from "./bytes";
import {
  msg, errorHere, errorAtMember, errorCount, errorsReset, setPolicy, pointer, pushKey, pushName, pushIndex, errorAt,
} from "./errors";
import {
  JNode, J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT,
  parseJson, member, memberKey, memberKeyLen, memberKeyHash, memberValue, element, isInteger,
} from "./json";
import { Pattern, compilePattern } from "./pattern";
import { ByteMap, mapNew, mapGet, mapPut, NOT_FOUND } from "./bytemap";
import { PathSet, pathSetNew, pathSetRelease, contextPath, pathCount, pathText, pathTextLen } from "./paths";
import { zoneIndex, zoneName, zoneNameLen, TIME_FIELDS } from "./time";
import { ZONE_COUNT } from "./zones";
import { encode, MAX_CONTEXT_DEPTH } from "./value";
import { exprSetup, exprSetReadsTime, compileExpression, readsTime } from "./expr";
import { timeCacheSize, specialize } from "./eval";
import {
  Cond, Operand, newCond, newOperand, C_AND, C_CMP, O_VALUE, O_PATH,
  OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOT_IN, OP_GLOB_VALUE, OP_ANY_OF, OP_GLOB, OP_EXISTS, OP_ABSENT,
} from "./conditions";
import {
  Policy, Rule, Limit, Alt, Bucket, PolicySet, EFFECT_ALLOW, EFFECT_DENY, EFFECT_ESCALATE,
  SCOPE_AGENT, SCOPE_GLOBAL, SCOPE_CONTEXT,
} from "./model";
import { P_EXACT } from "./pattern";
import { sortU64, sortPathIds } from "./sort";

const POLICY_FIELDS = "name description version default_effect agent_match timezone trust_levels rules rate_limits audit";
const RULE_FIELDS = "effect action resource conditions trust_level name reason log log_context alert";
// Indexes of RULE_FIELDS' names, for fieldAt.
const RF_EFFECT: u32 = 0;
const RF_ACTION: u32 = 1;
const RF_RESOURCE: u32 = 2;
const RF_CONDITIONS: u32 = 3;
const RF_TRUST_LEVEL: u32 = 4;
const RF_NAME: u32 = 5;
const RF_REASON: u32 = 6;
const RF_LOG: u32 = 7;
const RF_LOG_CONTEXT: u32 = 8;
const RF_ALERT: u32 = 9;
const LIMIT_FIELDS = "action resource limit period scope reason";
const AGENT_MATCH_FIELDS = "ids tags";
const AUDIT_FIELDS = "log_allowed log_denied redact";
const OPERATORS = "eq ne lt lte gt gte in not_in glob exists";

// The set being built, and the metadata document written alongside it.
let arena: Arena = changetype<Arena>(0);
let paths: PathSet = changetype<PathSet>(0);
export const meta: Buf = bufNew(4096);
const rulePtrs: Buf = bufNew(1024); // u32 Rule pointers in order
const limitPtrs: Buf = bufNew(64);
const zoneList: Buf = bufNew(64); // u32 tzdata indexes
const condParts: Buf = bufNew(256); // u32 Cond pointers of the rule being compiled
const scratch: Buf = bufNew(256);

let defaultTrust: usize = 0; // (pointer, length) pairs of basic, elevated, admin
let starPattern: Pattern = changetype<Pattern>(0);
const STAR_TEXT: usize = memory.data<u8>([42]);

// ---------------------------------------------------------------------------
// Error helpers

function typeError(name: string, what: string): void {
  const m = msg();
  bufByte(m, 96);
  bufStr(m, name);
  bufStr(m, "` must be ");
  bufStr(m, what);
  errorAtMember(name);
}

/** Levenshtein distance between two short byte strings (for did-you-mean). */
const distanceRow: usize = memory.data(4 * 66);
function distance(a: usize, an: usize, b: usize, bn: usize): u32 {
  if (an > 64 || bn > 64) return 99;
  for (let j: usize = 0; j <= bn; j++) store<u32>(distanceRow + (j << 2), <u32>j);
  for (let i: usize = 1; i <= an; i++) {
    let diag = load<u32>(distanceRow);
    store<u32>(distanceRow, <u32>i);
    for (let j: usize = 1; j <= bn; j++) {
      const up = load<u32>(distanceRow + (j << 2));
      const cost: u32 = load<u8>(a + i - 1) == load<u8>(b + j - 1) ? 0 : 1;
      let v = min(up + 1, load<u32>(distanceRow + ((j - 1) << 2)) + 1);
      v = min(v, diag + cost);
      diag = up;
      store<u32>(distanceRow + (j << 2), v);
    }
  }
  return load<u32>(distanceRow + (bn << 2));
}

// The names of each field list (a space-separated ASCII literal), made the first time the list is used: a u32
// count, then (hash, start, length) u32 triples, then one u32 slot per name that `fields` fills. A key is then
// checked with one comparison per name, and a member found by name without another pass over the object.
const MAX_LISTS: usize = 8;
const wordLists: usize = memory.data(<i32>(MAX_LISTS * 8 + 8));

function wordsOf(names: string): usize {
  const id = changetype<usize>(names);
  let slot = wordLists;
  for (; load<u32>(slot) != 0; slot += 8) if (<usize>load<u32>(slot) == id) return <usize>load<u32>(slot, 4);
  if (slot >= wordLists + MAX_LISTS * 8) unreachable(); // more field lists than MAX_LISTS: raise it
  const len = names.length;
  let count: u32 = 1;
  for (let i = 0; i < len; i++) if (codeUnit(names, <usize>i) == 32) count++;
  const words = alloc(4 + <usize>count * 16);
  store<u32>(words, count);
  let start = 0;
  let w = words + 4;
  for (let i = 0; i <= len; i++) {
    if (i < len && codeUnit(names, <usize>i) != 32) continue;
    let h = HASH_SEED;
    for (let k = start; k < i; k++) h = hashStep(h, codeUnit(names, <usize>k));
    store<u32>(w, h);
    store<u32>(w, <u32>start, 4);
    store<u32>(w, <u32>(i - start), 8);
    w += 12;
    start = i + 1;
  }
  store<u32>(slot, <u32>id);
  store<u32>(slot, <u32>words, 4);
  return words;
}

/** The index among `names` (its word table) of the key `p, n` with FNV-1a hash `h`, or -1. */
function wordIndex(words: usize, names: string, p: usize, n: usize, h: u32): i32 {
  const count = load<u32>(words);
  for (let j: u32 = 0; j < count; j++) {
    const w = words + 4 + <usize>j * 12;
    if (load<u32>(w) != h || <usize>load<u32>(w, 8) != n) continue;
    const start = <usize>load<u32>(w, 4);
    let same = true;
    for (let k: usize = 0; k < n; k++) {
      if (<u32>load<u8>(p + k) != codeUnit(names, start + k)) {
        same = false;
        break;
      }
    }
    if (same) return <i32>j;
  }
  return -1;
}

/** Appends " (did you mean `x`?)" when one of the names is close to `p, n`. */
function suggest(m: Buf, p: usize, n: usize, names: string): void {
  let best: u32 = 99;
  let bestStart = 0;
  let bestLen = 0;
  let start = 0;
  const len = names.length;
  const candidate = scratch;
  for (let i = 0; i <= len; i++) {
    if (i == len || codeUnit(names, <usize>i) == 32) {
      candidate.len = 0;
      for (let k = start; k < i; k++) bufByte(candidate, codeUnit(names, <usize>k));
      const d = distance(p, n, candidate.ptr, candidate.len);
      if (d < best) {
        best = d;
        bestStart = start;
        bestLen = i - start;
      }
      start = i + 1;
    }
  }
  const limit: u32 = n <= 3 ? 1 : n <= 6 ? 2 : 3;
  if (best > limit) return;
  bufStr(m, " (did you mean `");
  for (let k = bestStart; k < bestStart + bestLen; k++) bufByte(m, codeUnit(names, <usize>k));
  bufStr(m, "`?)");
}

/**
 * Reports every member of `obj` that is not one of `names`, and returns the
 * members by the index of their name in `names` (u32 node pointers, 0 where
 * absent; read them with `fieldAt`), good until the next call for the same list.
 */
function fields(obj: JNode, names: string, where: string): usize {
  const words = wordsOf(names);
  const count = load<u32>(words);
  const slots = words + 4 + <usize>count * 12;
  for (let j: u32 = 0; j < count; j++) store<u32>(slots + (<usize>j << 2), 0);
  for (let i: u32 = 0; i < obj.count; i++) {
    const k = memberKey(obj, i);
    const n = memberKeyLen(obj, i);
    const j = wordIndex(words, names, k, n, memberKeyHash(obj, i));
    if (j >= 0) {
      // The first of duplicate members, as `member` finds (the parser reported the others).
      if (load<u32>(slots + (<usize>j << 2)) == 0) store<u32>(slots + (<usize>j << 2), changetype<u32>(memberValue(obj, i)));
      continue;
    }
    const mark = pointer.len;
    pushKey(k, n);
    const m = msg();
    bufStr(m, "unknown field `");
    bufBytes(m, k, n);
    bufStr(m, "` in ");
    bufStr(m, where);
    suggest(m, k, n, names);
    errorHere();
    pointer.len = mark;
  }
  return slots;
}

/** The member `fields` found for name `index` of its list, or null. */
// @ts-ignore: decorator
@inline function fieldAt(slots: usize, index: u32): JNode | null {
  return changetype<JNode | null>(<usize>load<u32>(slots + (<usize>index << 2)));
}

/** Reports every member of `obj` that is not one of `names`. */
function checkMembers(obj: JNode, names: string, where: string): void {
  fields(obj, names, where);
}

function optionalString(obj: JNode, name: string): JNode | null {
  return stringValue(member(obj, name), name);
}

/** The member `v` named `name` if it is a string; null when absent or wrong (reported). */
function stringValue(v: JNode | null, name: string): JNode | null {
  if (v == null) return null;
  if (v.kind != J_STRING) {
    typeError(name, "a string");
    return null;
  }
  return v;
}

/** A boolean member: its value, `dflt` when absent or wrong (reported). */
function optionalBool(obj: JNode, name: string, dflt: bool): bool {
  return boolValue(member(obj, name), name, dflt);
}

/** The member `v` named `name` as a boolean: `dflt` when absent or wrong (reported). */
function boolValue(v: JNode | null, name: string, dflt: bool): bool {
  if (v == null) return dflt;
  if (v.kind != J_TRUE && v.kind != J_FALSE) {
    typeError(name, "`true` or `false`");
    return dflt;
  }
  return v.kind == J_TRUE;
}

function missing(name: string, what: string): void {
  const m = msg();
  bufStr(m, "missing required field `");
  bufStr(m, name);
  bufStr(m, "`: ");
  bufStr(m, what);
  errorAtMember(name);
}

// ---------------------------------------------------------------------------
// Patterns

/** Compiles one pattern string at the current pointer; null after an error. */
function patternAt(s: JNode, allowEmpty: bool): Pattern | null {
  if (s.kind != J_STRING) {
    const m = msg();
    bufStr(m, "a pattern must be a string");
    errorHere();
    return null;
  }
  if (s.count == 0 && !allowEmpty) {
    const m = msg();
    bufStr(m, "a pattern may not be empty (use `*` to match anything)");
    errorHere();
    return null;
  }
  const pt = changetype<Pattern>(arenaAlloc(arena, offsetof<Pattern>()));
  const text = arenaCopy(arena, s.ptr, s.count);
  if (!compilePattern(arena, text, s.count, pt)) {
    const m = msg();
    bufStr(m, "the pattern `");
    bufBytes(m, s.ptr, s.count);
    bufStr(m, "` ends with a lone `\\` (write `\\\\` for a backslash)");
    errorHere();
    return null;
  }
  return pt;
}

// Result of `patternList`: Pattern structs, contiguous.
let listPtr: usize = 0;
let listCount: u32 = 0;

/** A pattern or a non-empty array of patterns, at member `name`. */
function patternList(v: JNode, name: string): bool {
  const mark = pointer.len;
  pushName(name);
  const size = offsetof<Pattern>();
  let ok = true;
  if (v.kind == J_STRING) {
    const pt = patternAt(v, false);
    listPtr = changetype<usize>(pt);
    listCount = 1;
    ok = pt != null;
  } else if (v.kind == J_ARRAY && v.count > 0) {
    listPtr = arenaAlloc(arena, size * v.count);
    listCount = v.count;
    for (let i: u32 = 0; i < v.count; i++) {
      const m2 = pointer.len;
      pushIndex(i);
      const pt = patternAt(element(v, i), false);
      if (pt == null) ok = false;
      else memory.copy(listPtr + size * i, changetype<usize>(pt), size);
      pointer.len = m2;
    }
  } else {
    const m = msg();
    bufByte(m, 96);
    bufStr(m, name);
    bufStr(m, "` must be a pattern or a non-empty array of patterns");
    errorHere();
    ok = false;
  }
  pointer.len = mark;
  return ok;
}

/**
 * Reads `action` (required) and `resource` (default `*`) into four
 * consecutive fields at `dst`: actions, actionCount, resources, resourceCount
 * (the layout Rule and Limit share).
 */
function actionsAndResources(action: JNode | null, resource: JNode | null, dst: usize): void {
  if (action == null) missing("action", "a pattern or an array of patterns");
  else if (patternList(action, "action")) {
    store<u32>(dst, <u32>listPtr);
    store<u32>(dst, listCount, 4);
  }
  if (resource == null) {
    store<u32>(dst, changetype<u32>(starPattern), 8);
    store<u32>(dst, 1, 12);
  } else if (patternList(resource, "resource")) {
    store<u32>(dst, <u32>listPtr, 8);
    store<u32>(dst, listCount, 12);
  }
}

// ---------------------------------------------------------------------------
// Context paths outside expressions: dotted segments of [A-Za-z0-9_-]+.

function isContextPath(p: usize, n: usize): bool {
  if (n == 0) return false;
  let segment: usize = 0;
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (c == 46) {
      if (segment == 0) return false;
      segment = 0;
      continue;
    }
    const ok = (c - 48 < 10) || ((c | 32) - 97 < 26) || c == 95 || c == 45;
    if (!ok) return false;
    segment++;
  }
  return segment > 0;
}

function contextPathError(p: usize, n: usize): void {
  const m = msg();
  bufByte(m, 96);
  bufBytes(m, p, n);
  bufStr(m, "` is not a context path: use dotted names of letters, digits, `_` and `-`, as in `user.tier`");
  errorHere();
}

/** An array of context paths at member `name`, written into the metadata as JSON. */
function pathArray(v: JNode | null, name: string, out: Buf): void {
  if (v == null) {
    bufStr(out, "null");
    return;
  }
  if (v.kind != J_ARRAY) {
    typeError(name, "an array of context paths");
    bufStr(out, "null");
    return;
  }
  const mark = pointer.len;
  pushName(name);
  bufByte(out, 91);
  for (let i: u32 = 0; i < v.count; i++) {
    const e = element(v, i);
    const m2 = pointer.len;
    pushIndex(i);
    if (e.kind != J_STRING || !isContextPath(e.ptr, e.count)) {
      if (e.kind != J_STRING) {
        const m = msg();
        bufStr(m, "a context path must be a string");
        errorHere();
      } else contextPathError(e.ptr, e.count);
    } else {
      if (i > 0) bufByte(out, 44);
      bufJsonString(out, e.ptr, e.count);
    }
    pointer.len = m2;
  }
  bufByte(out, 93);
  pointer.len = mark;
}

// ---------------------------------------------------------------------------
// Conditions

function pushCond(c: Cond): void {
  bufU32(condParts, changetype<u32>(c));
}

function literalOperand(v: JNode): Operand {
  return newOperand(arena, O_VALUE, 0, encode(arena, v), 0);
}

/** One object-form entry: `key: value` (§3 "Object form"). */
function objectEntry(left: Operand, v: JNode): void {
  const k = v.kind;
  const l = changetype<usize>(left);
  if (k == J_STRING) {
    const pt = patternAt(v, true);
    if (pt != null) pushCond(newCond(arena, C_CMP, OP_GLOB_VALUE, l, 0, changetype<usize>(pt)));
    return;
  }
  if (k == J_NUMBER || k == J_TRUE || k == J_FALSE || k == J_NULL) {
    pushCond(newCond(arena, C_CMP, OP_EQ, l, changetype<usize>(literalOperand(v)), 0));
    return;
  }
  if (k == J_ARRAY) {
    // Any-of: count, then (is glob, Pattern or encoded value) per element.
    const list = arenaAlloc(arena, 4 + <usize>v.count * 8);
    store<u32>(list, v.count);
    let ok = true;
    for (let i: u32 = 0; i < v.count; i++) {
      const e = element(v, i);
      const mark = pointer.len;
      pushIndex(i);
      const slot = list + 4 + (<usize>i << 3);
      if (e.kind == J_STRING) {
        const pt = patternAt(e, true);
        if (pt == null) ok = false;
        store<u32>(slot, 1);
        store<u32>(slot, changetype<u32>(pt), 4);
      } else if (e.kind == J_ARRAY || e.kind == J_OBJECT) {
        const m = msg();
        bufStr(m, "an any-of element must be a string, a number, a boolean or `null`");
        errorHere();
        ok = false;
      } else {
        store<u32>(slot, 0);
        store<u32>(slot, <u32>encode(arena, e), 4);
      }
      pointer.len = mark;
    }
    if (ok) pushCond(newCond(arena, C_CMP, OP_ANY_OF, l, 0, list));
    return;
  }
  // An operator object.
  if (v.count == 0) {
    const m = msg();
    bufStr(m, "an operator object needs at least one of `eq`, `ne`, `lt`, `lte`, `gt`, `gte`, `in`, `not_in`, `glob`, `exists`");
    errorHere();
    return;
  }
  for (let i: u32 = 0; i < v.count; i++) {
    const name = memberKey(v, i);
    const nameLen = memberKeyLen(v, i);
    const operand = memberValue(v, i);
    const mark = pointer.len;
    pushKey(name, nameLen);
    const ok = operand.kind;
    if (bytesIs(name, nameLen, "eq") || bytesIs(name, nameLen, "ne")) {
      const op = bytesIs(name, nameLen, "eq") ? OP_EQ : OP_NE;
      pushCond(newCond(arena, C_CMP, op, l, changetype<usize>(literalOperand(operand)), 0));
    } else if (bytesIs(name, nameLen, "lt") || bytesIs(name, nameLen, "lte") || bytesIs(name, nameLen, "gt") || bytesIs(name, nameLen, "gte")) {
      if (ok != J_NUMBER && ok != J_STRING) {
        const m = msg();
        bufByte(m, 96);
        bufBytes(m, name, nameLen);
        bufStr(m, "` compares with a number or a string");
        errorHere();
      } else {
        const op = bytesIs(name, nameLen, "lt") ? OP_LT : bytesIs(name, nameLen, "lte") ? OP_LE : bytesIs(name, nameLen, "gt") ? OP_GT : OP_GE;
        pushCond(newCond(arena, C_CMP, op, l, changetype<usize>(literalOperand(operand)), 0));
      }
    } else if (bytesIs(name, nameLen, "in") || bytesIs(name, nameLen, "not_in")) {
      if (ok != J_ARRAY) {
        const m = msg();
        bufByte(m, 96);
        bufBytes(m, name, nameLen);
        bufStr(m, "` needs an array of values");
        errorHere();
      } else {
        const op = bytesIs(name, nameLen, "in") ? OP_IN : OP_NOT_IN;
        pushCond(newCond(arena, C_CMP, op, l, changetype<usize>(literalOperand(operand)), 0));
      }
    } else if (bytesIs(name, nameLen, "glob")) {
      if (ok != J_STRING) {
        const m = msg();
        bufStr(m, "`glob` needs a pattern string");
        errorHere();
      } else {
        const pt = patternAt(operand, true);
        if (pt != null) pushCond(newCond(arena, C_CMP, OP_GLOB, l, 0, changetype<usize>(pt)));
      }
    } else if (bytesIs(name, nameLen, "exists")) {
      if (ok != J_TRUE && ok != J_FALSE) {
        const m = msg();
        bufStr(m, "`exists` must be `true` or `false`");
        errorHere();
      } else pushCond(newCond(arena, C_CMP, ok == J_TRUE ? OP_EXISTS : OP_ABSENT, l, 0, 0));
    } else {
      const m = msg();
      bufStr(m, "unknown operator `");
      bufBytes(m, name, nameLen);
      bufStr(m, "`: use `eq`, `ne`, `lt`, `lte`, `gt`, `gte`, `in`, `not_in`, `glob` or `exists`");
      suggest(m, name, nameLen, OPERATORS);
      errorHere();
    }
    pointer.len = mark;
  }
}

/** Compiles `conditions` into `condParts`; returns the §5 condition count. */
function conditions(v: JNode): u32 {
  const mark = pointer.len;
  pushName("conditions");
  let count: u32 = 0;
  if (v.kind == J_OBJECT) {
    for (let i: u32 = 0; i < v.count; i++) {
      const k = memberKey(v, i);
      const n = memberKeyLen(v, i);
      const m2 = pointer.len;
      pushKey(k, n);
      if (!isContextPath(k, n)) contextPathError(k, n);
      else {
        const left = newOperand(arena, O_PATH, contextPath(arena, paths, k, n), 0, 0);
        objectEntry(left, memberValue(v, i));
      }
      pointer.len = m2;
      count++;
    }
  } else if (v.kind == J_STRING) {
    const c = compileExpression(v.ptr, v.count);
    if (c != null) pushCond(c);
    count = 1;
  } else if (v.kind == J_ARRAY) {
    for (let i: u32 = 0; i < v.count; i++) {
      const e = element(v, i);
      const m2 = pointer.len;
      pushIndex(i);
      if (e.kind != J_STRING) {
        const m = msg();
        bufStr(m, "an expression must be a string");
        errorHere();
      } else {
        const c = compileExpression(e.ptr, e.count);
        if (c != null) pushCond(c);
      }
      pointer.len = m2;
      count++;
    }
  } else {
    const m = msg();
    bufStr(m, "`conditions` must be an object, an expression string or an array of expression strings");
    errorHere();
  }
  pointer.len = mark;
  return count;
}

// ---------------------------------------------------------------------------
// Rules

function effectOf(v: JNode): i32 {
  if (v.kind != J_STRING) return -1;
  if (bytesIs(v.ptr, v.count, "allow")) return <i32>EFFECT_ALLOW;
  if (bytesIs(v.ptr, v.count, "deny")) return <i32>EFFECT_DENY;
  if (bytesIs(v.ptr, v.count, "escalate")) return <i32>EFFECT_ESCALATE;
  return -1;
}

function effectName(e: u32): string {
  return e == EFFECT_ALLOW ? "allow" : e == EFFECT_DENY ? "deny" : "escalate";
}

function writeNullableString(out: Buf, v: JNode | null): void {
  if (v == null) bufStr(out, "null");
  else bufJsonString(out, v.ptr, v.count);
}

function compileRule(policy: Policy, r: Rule, node: JNode, out: Buf): void {
  if (node.kind != J_OBJECT) {
    const m = msg();
    bufStr(m, "a rule must be an object with `effect` and `action`");
    errorHere();
    return;
  }
  const f = fields(node, RULE_FIELDS, "a rule");
  const effect = fieldAt(f, RF_EFFECT);
  let e: i32 = <i32>EFFECT_DENY;
  if (effect == null) missing("effect", "`allow`, `deny` or `escalate`");
  else {
    e = effectOf(effect);
    if (e < 0) {
      const m = msg();
      if (effect.kind == J_STRING) {
        bufByte(m, 96);
        bufBytes(m, effect.ptr, effect.count);
        bufStr(m, "` is not an effect: use `allow`, `deny` or `escalate` (lower case)");
      } else bufStr(m, "`effect` must be `allow`, `deny` or `escalate`");
      errorAtMember("effect");
      e = <i32>EFFECT_DENY;
    }
  }
  r.effect = <u32>e;
  actionsAndResources(fieldAt(f, RF_ACTION), fieldAt(f, RF_RESOURCE), changetype<usize>(r) + offsetof<Rule>("actions"));
  condParts.len = 0;
  const conds = fieldAt(f, RF_CONDITIONS);
  let count: u32 = conds != null ? conditions(conds) : 0;
  const parts = <u32>(condParts.len >> 2);
  if (parts == 1) r.cond = <usize>load<u32>(condParts.ptr);
  else if (parts > 1) {
    const children = arenaCopy(arena, condParts.ptr, condParts.len);
    r.cond = changetype<usize>(newCond(arena, C_AND, 0, children, parts, 0));
  }
  if (r.cond != 0) specialize(changetype<Cond>(r.cond));
  r.trust = -1;
  const trust = fieldAt(f, RF_TRUST_LEVEL);
  if (trust != null) {
    count++;
    if (trust.kind != J_STRING) typeError("trust_level", "a string");
    else {
      for (let i: u32 = 0; i < policy.trustCount; i++) {
        const lp = load<u32>(policy.trustLevels + (<usize>i << 3));
        const ln = load<u32>(policy.trustLevels + (<usize>i << 3), 4);
        if (bytesEqual(lp, ln, trust.ptr, trust.count)) r.trust = <i32>i;
      }
      r.trustText = arenaCopy(arena, trust.ptr, trust.count);
      r.trustLen = trust.count;
      if (r.trust < 0) {
        const m = msg();
        bufStr(m, "unknown trust level `");
        bufBytes(m, trust.ptr, trust.count);
        bufStr(m, "`: the policy's levels are ");
        for (let i: u32 = 0; i < policy.trustCount; i++) {
          if (i > 0) bufStr(m, i + 1 == policy.trustCount ? " and " : ", ");
          bufByte(m, 96);
          bufBytes(m, load<u32>(policy.trustLevels + (<usize>i << 3)), load<u32>(policy.trustLevels + (<usize>i << 3), 4));
          bufByte(m, 96);
        }
        errorAtMember("trust_level");
      }
    }
  }
  r.conditionCount = count;
  const name = stringValue(fieldAt(f, RF_NAME), "name");
  if (name != null) {
    r.name = arenaCopy(arena, name.ptr, name.count);
    r.nameLen = name.count;
    r.hasName = 1;
  }
  const reason = stringValue(fieldAt(f, RF_REASON), "reason");
  const log = boolValue(fieldAt(f, RF_LOG), "log", true);
  const alert = boolValue(fieldAt(f, RF_ALERT), "alert", false);
  const logContext = fieldAt(f, RF_LOG_CONTEXT);
  // A rule that leaves all of these out (most do) is written as its effect alone (ABI.md §Loading):
  // a tenth of the text, for the engine to write and the host to parse.
  if (name == null && reason == null && log && !alert && logContext == null) {
    bufJsonStr(out, effectName(r.effect));
    return;
  }
  bufStr(out, "{\"name\":");
  writeNullableString(out, name);
  bufStr(out, ",\"effect\":");
  bufJsonStr(out, effectName(r.effect));
  bufStr(out, ",\"reason\":");
  writeNullableString(out, reason);
  bufStr(out, ",\"log\":");
  bufBool(out, log);
  bufStr(out, ",\"log_context\":");
  pathArray(logContext, "log_context", out);
  bufStr(out, ",\"alert\":");
  bufBool(out, alert);
  bufByte(out, 125);
}

// ---------------------------------------------------------------------------
// Rate limits (§7)

// Periods saturate here: far longer than any span between two instants, so a
// longer one (a "positive integer", however large) behaves the same.
const FOREVER: i64 = 1 << 62;

/** Seconds of a period such as `30s` or `2h` (a positive integer and a unit), or -1. */
function periodSeconds(p: usize, n: usize): i64 {
  if (n < 2) return -1;
  let v: i64 = 0;
  let nonZero = false;
  for (let i: usize = 0; i < n - 1; i++) {
    const d = <u32>load<u8>(p + i) - 48;
    if (d > 9) return -1;
    if (d != 0) nonZero = true;
    v = v > FOREVER / 10 ? FOREVER : v * 10 + <i64>d;
  }
  const unit = <u32>load<u8>(p + n - 1);
  const scale: i64 = unit == 115 ? 1 : unit == 109 ? 60 : unit == 104 ? 3600 : unit == 100 ? 86400 : 0;
  if (scale == 0 || !nonZero) return -1;
  return v > FOREVER / scale ? FOREVER : v * scale;
}

function compileLimit(policy: Policy, l: Limit, node: JNode, nameNode: JNode | null, out: Buf): void {
  l.policy = policy.index;
  if (nameNode != null) {
    l.policyName = arenaCopy(arena, nameNode.ptr, nameNode.count);
    l.policyNameLen = nameNode.count;
    l.hasPolicyName = 1;
  }
  if (node.kind != J_OBJECT) {
    const m = msg();
    bufStr(m, "a rate limit must be an object with `action`, `limit` and `period`");
    errorHere();
    return;
  }
  checkMembers(node, LIMIT_FIELDS, "a rate limit");
  actionsAndResources(member(node, "action"), member(node, "resource"), changetype<usize>(l) + offsetof<Limit>("actions"));
  const limit = member(node, "limit");
  if (limit == null) missing("limit", "an integer of at least 1");
  else if (!isInteger(limit) || limit.num < 1) typeError("limit", "an integer of at least 1");
  else l.limit = limit.num > 4294967295 ? 0xffffffff : <u32>limit.num;
  const period = member(node, "period");
  if (period == null) missing("period", "a positive integer and a unit, as in `30s`, `5m`, `2h` or `1d`");
  else {
    const seconds = period.kind == J_STRING ? periodSeconds(period.ptr, period.count) : -1;
    if (seconds < 0) typeError("period", "a positive integer and a unit `s`, `m`, `h` or `d`, as in `30s`, `5m`, `2h` or `1d`");
    else l.periodSeconds = seconds;
  }
  l.scope = SCOPE_AGENT;
  l.scopeText = arenaCopy(arena, changetype<usize>(AGENT_TEXT), 5);
  l.scopeLen = 5;
  const scope = member(node, "scope");
  if (scope != null) {
    let ok = scope.kind == J_STRING;
    if (ok) {
      if (bytesIs(scope.ptr, scope.count, "agent")) l.scope = SCOPE_AGENT;
      else if (bytesIs(scope.ptr, scope.count, "global")) l.scope = SCOPE_GLOBAL;
      else if (scope.count > 8 && bytesIs(scope.ptr, 8, "context.") && isContextPath(scope.ptr + 8, scope.count - 8)) {
        l.scope = SCOPE_CONTEXT;
        l.scopeRef = contextPath(arena, paths, scope.ptr + 8, scope.count - 8);
      } else ok = false;
      l.scopeText = arenaCopy(arena, scope.ptr, scope.count);
      l.scopeLen = scope.count;
    }
    if (!ok) typeError("scope", "`agent`, `global` or `context.<path>` (a dotted context path)");
  }
  const reason = optionalString(node, "reason");
  bufStr(out, "{\"reason\":");
  if (reason == null) bufJsonStr(out, "rate limit exceeded");
  else bufJsonString(out, reason.ptr, reason.count);
  bufByte(out, 125);
}

const AGENT_TEXT: usize = memory.data<u8>([97, 103, 101, 110, 116]);

// ---------------------------------------------------------------------------
// Policies

const ruleMeta: Buf = bufNew(1024);
const limitMeta: Buf = bufNew(128);

function compileTrustLevels(p: Policy, node: JNode): void {
  const v = member(node, "trust_levels");
  p.trustLevels = defaultTrust;
  p.trustCount = 3;
  if (v == null) return;
  if (v.kind != J_ARRAY || v.count == 0) {
    typeError("trust_levels", "a non-empty array of distinct, non-empty strings, lowest first");
    return;
  }
  const levels = arenaAlloc(arena, <usize>v.count << 3);
  const mark = pointer.len;
  pushName("trust_levels");
  let ok = true;
  for (let i: u32 = 0; i < v.count; i++) {
    const e = element(v, i);
    const m2 = pointer.len;
    pushIndex(i);
    if (e.kind != J_STRING || e.count == 0) {
      const m = msg();
      bufStr(m, "a trust level must be a non-empty string");
      errorHere();
      ok = false;
    } else {
      for (let j: u32 = 0; j < i; j++) {
        const f = element(v, j);
        if (f.kind == J_STRING && bytesEqual(f.ptr, f.count, e.ptr, e.count)) {
          const m = msg();
          bufStr(m, "duplicate trust level `");
          bufBytes(m, e.ptr, e.count);
          bufStr(m, "`: each level may appear once");
          errorHere();
          ok = false;
          break;
        }
      }
      store<u32>(levels + (<usize>i << 3), <u32>arenaCopy(arena, e.ptr, e.count));
      store<u32>(levels + (<usize>i << 3), e.count, 4);
    }
    pointer.len = m2;
  }
  pointer.len = mark;
  if (ok) {
    p.trustLevels = levels;
    p.trustCount = v.count;
  }
}

function compileAgentMatch(p: Policy, node: JNode): void {
  const v = member(node, "agent_match");
  if (v == null) return;
  p.hasAgentMatch = 1;
  if (v.kind != J_OBJECT) {
    typeError("agent_match", "an object with `ids` and/or `tags`");
    return;
  }
  const mark = pointer.len;
  pushName("agent_match");
  checkMembers(v, AGENT_MATCH_FIELDS, "`agent_match`");
  const ids = member(v, "ids");
  const tags = member(v, "tags");
  if (ids == null && tags == null) {
    const m = msg();
    bufStr(m, "`agent_match` needs `ids` (patterns) or `tags` (strings), or both");
    errorHere();
  }
  if (ids != null) {
    if (ids.kind != J_ARRAY) typeError("ids", "an array of agent id patterns");
    else {
      const size = offsetof<Pattern>();
      p.ids = arenaAlloc(arena, size * ids.count);
      p.idCount = ids.count;
      const m2 = pointer.len;
      pushName("ids");
      for (let i: u32 = 0; i < ids.count; i++) {
        const m3 = pointer.len;
        pushIndex(i);
        const pt = patternAt(element(ids, i), false);
        if (pt != null) memory.copy(p.ids + size * i, changetype<usize>(pt), size);
        pointer.len = m3;
      }
      pointer.len = m2;
    }
  }
  if (tags != null) {
    if (tags.kind != J_ARRAY) typeError("tags", "an array of strings");
    else {
      p.tags = arenaAlloc(arena, <usize>tags.count << 3);
      p.tagCount = tags.count;
      const m2 = pointer.len;
      pushName("tags");
      for (let i: u32 = 0; i < tags.count; i++) {
        const e = element(tags, i);
        if (e.kind != J_STRING) {
          const m3 = pointer.len;
          pushIndex(i);
          const m = msg();
          bufStr(m, "a tag must be a string");
          errorHere();
          pointer.len = m3;
          continue;
        }
        store<u32>(p.tags + (<usize>i << 3), <u32>arenaCopy(arena, e.ptr, e.count));
        store<u32>(p.tags + (<usize>i << 3), e.count, 4);
      }
      pointer.len = m2;
    }
  }
  pointer.len = mark;
}

function compileTimezone(p: Policy, node: JNode): void {
  const v = member(node, "timezone");
  p.zone = <u32>zoneIndex(changetype<usize>(UTC_TEXT), 3);
  if (v == null) return;
  const z = v.kind == J_STRING ? zoneIndex(v.ptr, v.count) : -1;
  if (z >= 0) {
    p.zone = <u32>z;
    return;
  }
  const m = msg();
  if (v.kind != J_STRING) bufStr(m, "`timezone` must be an IANA time zone name, as in `Europe/Berlin`");
  else {
    bufStr(m, "unknown time zone `");
    bufBytes(m, v.ptr, v.count);
    bufStr(m, "`: use a Zone or Link name of the IANA database, spelled exactly, as in `Europe/Berlin`");
    // A name that differs only in case is the likeliest slip.
    for (let i: u32 = 0; i < ZONE_COUNT; i++) {
      const name = zoneName(i);
      if (zoneNameLen() == v.count && sameIgnoringCase(name, v.ptr, v.count)) {
        bufStr(m, " (did you mean `");
        bufBytes(m, name, zoneNameLen());
        bufStr(m, "`?)");
        break;
      }
    }
  }
  errorAtMember("timezone");
}

const UTC_TEXT: usize = memory.data<u8>([85, 84, 67]);

function sameIgnoringCase(a: usize, b: usize, n: usize): bool {
  for (let i: usize = 0; i < n; i++) {
    let x = <u32>load<u8>(a + i);
    let y = <u32>load<u8>(b + i);
    if (x - 65 < 26) x |= 32;
    if (y - 65 < 26) y |= 32;
    if (x != y) return false;
  }
  return true;
}

function compileAudit(node: JNode, out: Buf): void {
  const v = member(node, "audit");
  bufStr(out, "{\"log_allowed\":");
  if (v == null) {
    bufStr(out, "true,\"log_denied\":true,\"redact\":null}");
    return;
  }
  if (v.kind != J_OBJECT) {
    typeError("audit", "an object with `log_allowed`, `log_denied` and `redact`");
    bufStr(out, "true,\"log_denied\":true,\"redact\":null}");
    return;
  }
  const mark = pointer.len;
  pushName("audit");
  checkMembers(v, AUDIT_FIELDS, "`audit`");
  bufBool(out, optionalBool(v, "log_allowed", true));
  bufStr(out, ",\"log_denied\":");
  bufBool(out, optionalBool(v, "log_denied", true));
  bufStr(out, ",\"redact\":");
  pathArray(member(v, "redact"), "redact", out);
  bufByte(out, 125);
  pointer.len = mark;
}

function compilePolicy(index: u32, p: Policy, node: JNode): void {
  setPolicy(<i32>index);
  p.index = index;
  p.zoneSlot = -1;
  p.trustLevels = defaultTrust;
  p.trustCount = 3;
  if (node.kind != J_OBJECT) {
    const m = msg();
    bufStr(m, "a policy must be an object with `rules`");
    errorHere();
    bufStr(meta, "{\"name\":null,\"default_effect\":\"deny\",\"audit\":null,\"rules\":[],\"rate_limits\":[]}");
    return;
  }
  checkMembers(node, POLICY_FIELDS, "a policy");
  const name = optionalString(node, "name");
  if (name != null) {
    p.name = arenaCopy(arena, name.ptr, name.count);
    p.nameLen = name.count;
    p.hasName = 1;
  }
  optionalString(node, "description");
  const version = member(node, "version");
  if (version != null && !isInteger(version)) typeError("version", "an integer");
  const dflt = member(node, "default_effect");
  if (dflt != null) {
    if (dflt.kind == J_STRING && bytesIs(dflt.ptr, dflt.count, "allow")) p.defaultAllow = 1;
    else if (!(dflt.kind == J_STRING && bytesIs(dflt.ptr, dflt.count, "deny"))) typeError("default_effect", "`deny` or `allow`");
  }
  compileTimezone(p, node);
  compileTrustLevels(p, node);
  compileAgentMatch(p, node);

  bufStr(meta, "{\"name\":");
  writeNullableString(meta, name);
  bufStr(meta, ",\"default_effect\":");
  bufJsonStr(meta, p.defaultAllow ? "allow" : "deny");
  bufStr(meta, ",\"audit\":");
  compileAudit(node, meta);

  exprSetReadsTime(false);
  ruleMeta.len = 0;
  const rules = member(node, "rules");
  if (rules == null) missing("rules", "an array of rules (it may be empty)");
  else if (rules.kind != J_ARRAY) typeError("rules", "an array of rules");
  else {
    const size = offsetof<Rule>();
    p.rules = arenaZero(arena, size * rules.count);
    p.ruleCount = rules.count;
    const mark = pointer.len;
    pushName("rules");
    for (let i: u32 = 0; i < rules.count; i++) {
      const r = changetype<Rule>(p.rules + size * i);
      r.policy = index;
      r.index = i;
      r.order = <u32>(rulePtrs.len >> 2);
      bufU32(rulePtrs, changetype<u32>(r));
      const m2 = pointer.len;
      pushIndex(i);
      if (i > 0) bufByte(ruleMeta, 44);
      compileRule(p, r, element(rules, i), ruleMeta);
      pointer.len = m2;
    }
    pointer.len = mark;
  }
  if (readsTime) {
    // One zone slot per distinct zone that some rule reads time in.
    let slot: i32 = -1;
    for (let i: u32 = 0; i < <u32>(zoneList.len >> 2); i++) {
      if (load<u32>(zoneList.ptr + (<usize>i << 2)) == p.zone) slot = <i32>i;
    }
    if (slot < 0) {
      slot = <i32>(zoneList.len >> 2);
      bufU32(zoneList, p.zone);
    }
    p.zoneSlot = slot;
  }
  bufStr(meta, ",\"rules\":[");
  bufBytes(meta, ruleMeta.ptr, ruleMeta.len);
  bufStr(meta, "],\"rate_limits\":[");

  const limits = member(node, "rate_limits");
  if (limits != null) {
    if (limits.kind != J_ARRAY) typeError("rate_limits", "an array of rate limits");
    else {
      const size = offsetof<Limit>();
      p.limits = arenaZero(arena, size * limits.count);
      p.limitCount = limits.count;
      const mark = pointer.len;
      pushName("rate_limits");
      for (let i: u32 = 0; i < limits.count; i++) {
        const l = changetype<Limit>(p.limits + size * i);
        l.index = i;
        bufU32(limitPtrs, changetype<u32>(l));
        const m2 = pointer.len;
        pushIndex(i);
        if (i > 0) bufByte(meta, 44);
        compileLimit(p, l, element(limits, i), name, meta);
        pointer.len = m2;
      }
      pointer.len = mark;
    }
  }
  bufStr(meta, "]}");
}

// ---------------------------------------------------------------------------
// The rule index

let set: PolicySet = changetype<PolicySet>(0);
// (bucket number << 32 | prefix length) for every resource prefix key, and the buckets by number.
const bucketLens: Buf = bufNew(256);
const buckets: Buf = bufNew(256);
const actionLens: Buf = bufNew(64);

function bucketFor(a: Pattern): Bucket {
  const exact = a.kind == P_EXACT;
  const map = exact ? set.exact : set.prefix;
  const n = <usize>a.prefixLen;
  const h = hashBytes(a.tok, n);
  const found = mapGet(map, a.tok, n, h);
  if (found != NOT_FOUND) return changetype<Bucket>(<usize>found);
  const b = changetype<Bucket>(arenaZero(arena, offsetof<Bucket>()));
  b.exact = mapNew(arena, 4);
  b.prefix = mapNew(arena, 4);
  b.number = <u32>(buckets.len >> 2);
  bufU32(buckets, changetype<u32>(b));
  mapPut(map, a.tok, n, h, changetype<u32>(b));
  if (!exact) bufU32(actionLens, <u32>n);
  return b;
}

function addAlt(rule: Rule, a: Pattern, r: Pattern): void {
  const b = bucketFor(a);
  const exact = r.kind == P_EXACT;
  const map = exact ? b.exact : b.prefix;
  const n = <usize>r.prefixLen;
  const h = hashBytes(r.tok, n);
  const head = mapGet(map, r.tok, n, h);
  const alt = changetype<Alt>(arenaAlloc(arena, offsetof<Alt>()));
  alt.rule = changetype<usize>(rule);
  alt.action = changetype<usize>(a);
  alt.resource = changetype<usize>(r);
  alt.next = head == NOT_FOUND ? 0 : <usize>head;
  mapPut(map, r.tok, n, h, changetype<u32>(alt));
  if (!exact && head == NOT_FOUND) {
    bufU32(bucketLens, <u32>n);
    bufU32(bucketLens, b.number);
    if (<u32>n > set.maxResourcePrefix) set.maxResourcePrefix = <u32>n;
  }
}

/** Sorted distinct values of the u32 list, copied into the arena. */
function sortedDistinct(list: Buf): usize {
  const n = list.len >> 2;
  const keys = arenaAlloc(arena, n << 3);
  for (let i: usize = 0; i < n; i++) store<u64>(keys + (i << 3), <u64>load<u32>(list.ptr + (i << 2)));
  sortU64(keys, n);
  const out = arenaAlloc(arena, n << 2);
  let count: u32 = 0;
  for (let i: usize = 0; i < n; i++) {
    const v = <u32>load<u64>(keys + (i << 3));
    if (count > 0 && load<u32>(out + (<usize>(count - 1) << 2)) == v) continue;
    store<u32>(out + (<usize>count << 2), v);
    count++;
  }
  distinctCount = count;
  return out;
}
let distinctCount: u32 = 0;

function buildIndex(): void {
  set.exact = mapNew(arena, set.ruleCount);
  set.prefix = mapNew(arena, 16);
  bucketLens.len = 0;
  buckets.len = 0;
  actionLens.len = 0;
  for (let i: u32 = 0; i < set.ruleCount; i++) {
    const rule = changetype<Rule>(<usize>load<u32>(set.rules + (<usize>i << 2)));
    for (let a: u32 = 0; a < rule.actionCount; a++) {
      for (let r: u32 = 0; r < rule.resourceCount; r++) {
        addAlt(
          rule,
          changetype<Pattern>(rule.actions + offsetof<Pattern>() * a),
          changetype<Pattern>(rule.resources + offsetof<Pattern>() * r),
        );
      }
    }
  }
  set.lens = sortedDistinct(actionLens);
  set.lensCount = distinctCount;
  // Each bucket's resource prefix lengths: sort (bucket, length) pairs and cut per bucket.
  const pairs = bucketLens.len >> 3;
  const keys = arenaAlloc(arena, pairs << 3);
  for (let i: usize = 0; i < pairs; i++) {
    const len = <u64>load<u32>(bucketLens.ptr + (i << 3));
    const number = <u64>load<u32>(bucketLens.ptr + (i << 3), 4);
    store<u64>(keys + (i << 3), (number << 32) | len);
  }
  sortU64(keys, pairs);
  const nBuckets = <u32>(buckets.len >> 2);
  const lens = arenaAlloc(arena, pairs << 2);
  let i: usize = 0;
  let written: u32 = 0;
  for (let b: u32 = 0; b < nBuckets; b++) {
    const bucket = changetype<Bucket>(<usize>load<u32>(buckets.ptr + (<usize>b << 2)));
    bucket.lens = lens + (<usize>written << 2);
    let count: u32 = 0;
    while (i < pairs && <u32>(load<u64>(keys + (i << 3)) >> 32) == b) {
      const len = <u32>load<u64>(keys + (i << 3));
      i++;
      // Distinct lengths only: each is one hash lookup per request.
      if (count > 0 && load<u32>(lens + (<usize>(written - 1) << 2)) == len) continue;
      store<u32>(lens + (<usize>written << 2), len);
      written++;
      count++;
    }
    bucket.lensCount = count;
  }
}

// ---------------------------------------------------------------------------

function writePathsAndZones(): void {
  const n = pathCount(paths);
  bufStr(meta, "],\"paths\":[");
  for (let i: u32 = 0; i < n; i++) {
    if (i > 0) bufByte(meta, 44);
    bufJsonString(meta, pathText(paths, i), pathTextLen(paths, i));
  }
  bufStr(meta, "],\"context_paths\":");
  bufI64(meta, paths.ctxCount);
  bufStr(meta, ",\"zones\":[");
  for (let i: u32 = 0; i < set.zoneCount; i++) {
    if (i > 0) bufByte(meta, 44);
    const name = zoneName(load<u32>(set.zones + (<usize>i << 2)));
    bufByte(meta, 34);
    bufBytes(meta, name, zoneNameLen());
    bufByte(meta, 34);
  }
  bufStr(meta, "],\"reads_time\":");
  bufBool(meta, set.zoneCount > 0);
  bufStr(meta, ",\"rules\":");
  bufI64(meta, set.ruleCount);
  bufStr(meta, ",\"action_resource_only\":");
  bufBool(meta, decidesByActionAndResource());
  bufByte(meta, 125);
}

/**
 * Whether every decision of this set depends on the request's action and
 * resource alone: no agent_match, trust level, condition or rate limit. Hosts
 * may then keep decisions by (action, resource) until the next load.
 */
function decidesByActionAndResource(): bool {
  if (set.limitCount > 0 || set.matchCount > 0) return false;
  for (let i: u32 = 0; i < set.ruleCount; i++) {
    const rule = changetype<Rule>(<usize>load<u32>(set.rules + (<usize>i << 2)));
    if (rule.trust >= 0 || rule.cond != 0) return false;
  }
  return true;
}

function sizeTables(): void {
  const a = arena;
  const rules = <usize>set.ruleCount;
  const n = <usize>pathCount(paths);
  set.ruleStamp = arenaZero(a, rules << 2);
  set.ruleSpec = arenaZero(a, rules << 4);
  set.visited = arenaZero(a, rules << 2);
  set.pathMarks = arenaZero(a, n << 2);
  set.pathList = arenaZero(a, n << 2);
  set.policyStamp = arenaZero(a, <usize>set.policyCount << 2);
  set.applicable = arenaZero(a, <usize>set.policyCount);
  set.agentRank = arenaZero(a, <usize>set.policyCount << 2);
  set.matchPolicies = arenaAlloc(a, <usize>set.policyCount << 2);
  set.plainAllAllow = 1;
  for (let i: u32 = 0; i < set.policyCount; i++) {
    const p = changetype<Policy>(set.policies + offsetof<Policy>() * i);
    if (p.hasAgentMatch) {
      store<u32>(set.matchPolicies + (<usize>set.matchCount << 2), changetype<u32>(p));
      set.matchCount++;
    } else {
      set.plainPolicies++;
      if (!p.defaultAllow) set.plainAllAllow = 0;
    }
  }
  // A context path of k segments sits inside k objects (the context is the first).
  set.slotDepth = arenaAlloc(a, <usize>paths.ctxCount << 2);
  for (let i: u32 = 0; i < paths.ctxCount; i++) {
    const t = pathText(paths, i);
    let segments: u32 = 0;
    for (let j: usize = 0; j < pathTextLen(paths, i); j++) if (load<u8>(t + j) == 46) segments++;
    store<u32>(set.slotDepth + (<usize>i << 2), segments < MAX_CONTEXT_DEPTH ? MAX_CONTEXT_DEPTH - segments : 0);
  }
  set.timeCache = arenaZero(a, timeCacheSize(set.zoneCount));
  set.resourceHashes = arenaZero(a, (<usize>set.maxResourcePrefix + 1) << 2);
  set.slotValues = arenaZero(a, <usize>paths.ctxCount << 2);
  set.offsets = arenaZero(a, <usize>set.zoneCount << 2);
  // Rank of each path in code-point order, for sorting a decision's indeterminate list.
  const ids = arenaAlloc(a, n << 2);
  for (let i: usize = 0; i < n; i++) store<u32>(ids + (i << 2), <u32>i);
  sortPathIds(paths, ids, n);
  set.pathRank = arenaAlloc(a, n << 2);
  for (let i: usize = 0; i < n; i++) store<u32>(set.pathRank + (<usize>load<u32>(ids + (i << 2)) << 2), <u32>i);
}

/**
 * Loads policies from JSON bytes. Returns the compiled set, or null with the
 * errors recorded (errors.ts). `meta` then holds the metadata document.
 */
export function compileSet(src: usize, len: usize): PolicySet | null {
  errorsReset();
  meta.len = 0;
  rulePtrs.len = 0;
  limitPtrs.len = 0;
  zoneList.len = 0;
  const tree = arenaNew();
  arena = arenaNew();
  let root = parseJson(tree, src, len);
  if (root == null) {
    arenaFree(tree);
    arenaFree(arena);
    return null;
  }
  // A bundle's payload, {"policies": [...]}, is read as its array.
  let list: JNode | null = root;
  if (root.kind == J_OBJECT) {
    list = member(root, "policies");
    if (root.count != 1 || list == null) list = null;
  }
  if (list == null || list.kind != J_ARRAY) {
    const m = msg();
    bufStr(m, "the policies must be a JSON array of policy objects, or an object whose only member `policies` is one");
    errorAt(-1, 0, 0, -1);
    arenaFree(tree);
    arenaFree(arena);
    return null;
  }
  root = list;
  paths = pathSetNew(arena);
  exprSetup(arena, paths);
  set = changetype<PolicySet>(arenaZero(arena, offsetof<PolicySet>()));
  set.arena = arena;
  set.paths = paths;
  defaultTrust = arenaAlloc(arena, 24);
  store<u32>(defaultTrust, <u32>arenaCopy(arena, changetype<usize>(BASIC), 5));
  store<u32>(defaultTrust, 5, 4);
  store<u32>(defaultTrust, <u32>arenaCopy(arena, changetype<usize>(ELEVATED), 8), 8);
  store<u32>(defaultTrust, 8, 12);
  store<u32>(defaultTrust, <u32>arenaCopy(arena, changetype<usize>(ADMIN), 5), 16);
  store<u32>(defaultTrust, 5, 20);
  starPattern = changetype<Pattern>(arenaAlloc(arena, offsetof<Pattern>()));
  compilePattern(arena, arenaCopy(arena, STAR_TEXT, 1), 1, starPattern);

  const size = offsetof<Policy>();
  set.policyCount = root.count;
  set.policies = arenaZero(arena, size * root.count);
  bufStr(meta, "{\"ok\":true,\"policies\":[");
  for (let i: u32 = 0; i < root.count; i++) {
    if (i > 0) bufByte(meta, 44);
    compilePolicy(i, changetype<Policy>(set.policies + size * i), element(root, i));
  }
  setPolicy(-1);
  arenaFree(tree);
  if (errorCount() > 0) {
    pathSetRelease(paths);
    arenaFree(arena);
    return null;
  }
  set.rules = arenaCopy(arena, rulePtrs.ptr, rulePtrs.len);
  set.ruleCount = <u32>(rulePtrs.len >> 2);
  set.limits = arenaCopy(arena, limitPtrs.ptr, limitPtrs.len);
  set.limitCount = <u32>(limitPtrs.len >> 2);
  set.zones = arenaCopy(arena, zoneList.ptr, zoneList.len);
  set.zoneCount = <u32>(zoneList.len >> 2);
  buildIndex();
  sizeTables();
  writePathsAndZones();
  return set;
}

const BASIC: usize = memory.data<u8>([98, 97, 115, 105, 99]);
const ELEVATED: usize = memory.data<u8>([101, 108, 101, 118, 97, 116, 101, 100]);
const ADMIN: usize = memory.data<u8>([97, 100, 109, 105, 110]);

/** Frees a set (its rate-limit states are the caller's). */
export function freeSet(s: PolicySet): void {
  pathSetRelease(s.paths);
  arenaFree(s.arena);
}
