// Deciding (policy-language.md §5, §7): read and check the request record
// (ABI.md), find the rules whose patterns can match through the index, judge
// them, pick the most specific candidate, apply the default, then the rate
// limits. Nothing here allocates beyond the per-call scratch arena and tables
// sized at load; a decision never throws.

import { Arena, arenaNew, arenaReset } from "./memory";
import { Buf, bufNew, bufStr, bufBytes, bufNumber, bufJsonString, bytesEqual, hashBytes, hashStep, HASH_SEED, codeUnit } from "./bytes";
import { mapGet, NOT_FOUND, ByteMap } from "./bytemap";
import { Pattern, P_GENERAL, globMatch, patternMatches, compareSpecificity } from "./pattern";
import {
  V_MISSING, V_NULL, V_FALSE, V_TRUE, V_NUMBER, V_STRING, V_ARRAY, V_OBJECT, V_INTERNED, V_AGENT, VALUE_EMPTY_STRING,
  tagOf, lengthOf, bytesOf, itemsOf, sizeOf, numberOf, validateValue, invalidReason,
} from "./value";
import { Cond, TRUE, FALSE, INDETERMINATE } from "./conditions";
import { setRequest, setZoneSlot, evalCond, evalSlotNumber, collectPaths, resetMarks, markCount, markedPath } from "./eval";
import {
  Policy, Rule, Limit, Alt, Bucket, PolicySet, EFFECT_ALLOW, EFFECT_DENY, EFFECT_ESCALATE, effectRank,
  SCOPE_AGENT, SCOPE_GLOBAL, SCOPE_CONTEXT,
} from "./model";
import { RateState, Entry, entryFor, isFull, record, countWithin } from "./ratelimit";
import { internedValue, internedIdHash, internedPrefixCount, internedPrefixHashes } from "./intern";
import { planFind, planKeep, MAX_PLAN_RULES } from "./plans";

/** The policies in force (0 before the first successful load). */
export let current: usize = 0;

export function setCurrent(s: usize): void {
  current = s;
}

// The decision record (ABI.md §The decision record).
export const RECORD: usize = memory.data(44);
export const R_STATUS: usize = 0;
export const R_EFFECT: usize = 4;
export const R_ALLOWED: usize = 8;
export const R_POLICY: usize = 12;
export const R_RULE: usize = 16;
export const R_LIMIT_POLICY: usize = 20;
export const R_LIMIT_INDEX: usize = 24;
export const R_INDET_COUNT: usize = 28;
export const R_INDET_PTR: usize = 32;
export const R_ERROR_PTR: usize = 36;
export const R_ERROR_LEN: usize = 40;

const requestError: Buf = bufNew(128);
export const scratch: Arena = arenaNew();
let stamp: u32 = 0;

// The request, once read.
export let actionValue: usize = 0;
export let resourceValue: usize = 0;
export let agentPresent: bool = false;
export let agentId: usize = 0;
export let agentTrust: usize = 0;
export let agentTags: usize = 0;
// Now: whole seconds since the epoch and attoseconds (time.ts).
export let nowS: i64 = 0;
export let nowF: u64 = 0;
/** Bytes before the zone offsets in a request record. */
const HEADER: usize = 24;
let actionPtr: usize = 0;
let actionLen: usize = 0;
let resourcePtr: usize = 0;
let resourceLen: usize = 0;
let resourceHash: u32 = 0;
let actionHash: u32 = 0;
// Whether the hashes above are known already (interned strings carry theirs),
// and then the strings' interned ids.
let actionHashed = false;
let resourceHashed = false;
let actionId: u32 = 0;
let resourceId: u32 = 0;

// The decision so far.
export let winner: Rule | null = null;
export let deniedBy: Limit | null = null;
let visitedCount: u32 = 0;

function invalid(reason: string): usize {
  requestError.len = 0;
  bufStr(requestError, reason);
  return invalidRecord();
}

function invalidRecord(): usize {
  store<u32>(RECORD + R_STATUS, 1);
  store<u32>(RECORD + R_EFFECT, EFFECT_DENY);
  store<u32>(RECORD + R_ALLOWED, 0);
  store<i32>(RECORD + R_POLICY, -1);
  store<i32>(RECORD + R_RULE, -1);
  store<i32>(RECORD + R_LIMIT_POLICY, -1);
  store<i32>(RECORD + R_LIMIT_INDEX, -1);
  store<u32>(RECORD + R_INDET_COUNT, 0);
  store<u32>(RECORD + R_INDET_PTR, 0);
  store<u32>(RECORD + R_ERROR_PTR, <u32>requestError.ptr);
  store<u32>(RECORD + R_ERROR_LEN, <u32>requestError.len);
  return RECORD;
}

/** A fresh stamp; on wrap-around, every table stamped with old values is cleared. */
function nextStamp(set: PolicySet): u32 {
  stamp++;
  if (stamp == 0) {
    stamp = 1;
    memory.fill(set.ruleStamp, 0, <usize>set.ruleCount << 2);
    memory.fill(set.policyStamp, 0, <usize>set.policyCount << 2);
    memory.fill(set.timeCache, 0, <usize>set.zoneCount * (4 + 9 * 7));
  }
  return stamp;
}

// ---------------------------------------------------------------------------
// Reading the request record

// @ts-ignore: decorator
@inline function stringTag(v: usize): bool {
  return tagOf(v) == V_STRING;
}

/** Reads the agent object; returns false when it is not `{id, trust_level, tags}`. */
function readAgent(v: usize): bool {
  agentPresent = false;
  agentId = 0;
  agentTrust = 0;
  agentTags = 0;
  const t = tagOf(v);
  if (t == V_MISSING || t == V_NULL) return true;
  if (t != V_OBJECT) {
    requestError.len = 0;
    bufStr(requestError, "`agent` must be an object with `id`, `trust_level` and `tags`, or null");
    return false;
  }
  agentPresent = true;
  let q = itemsOf(v);
  for (let i: u32 = 0; i < lengthOf(v); i++) {
    const nameLen = <usize>load<u32>(q);
    const name = q + 4;
    const value = name + nameLen;
    q = value + sizeOf(value);
    let ok = true;
    if (isName(name, nameLen, "id")) {
      ok = stringTag(value);
      agentId = value;
    } else if (isName(name, nameLen, "trust_level")) {
      ok = stringTag(value);
      agentTrust = value;
    } else if (isName(name, nameLen, "tags")) {
      ok = tagOf(value) == V_ARRAY;
      if (ok) {
        let e = itemsOf(value);
        for (let j: u32 = 0; j < lengthOf(value); j++) {
          if (!stringTag(e)) ok = false;
          e += sizeOf(e);
        }
      }
      agentTags = value;
    } else {
      requestError.len = 0;
      bufStr(requestError, "unknown agent field `");
      bufBytes(requestError, name, nameLen);
      bufStr(requestError, "`: an agent has `id`, `trust_level` and `tags`");
      return false;
    }
    if (!ok) {
      requestError.len = 0;
      bufStr(requestError, "agent `");
      bufBytes(requestError, name, nameLen);
      bufStr(requestError, isName(name, nameLen, "tags") ? "` must be an array of strings" : "` must be a string");
      return false;
    }
  }
  return true;
}

/**
 * Reads a request string (text, or interned) at `p` into fieldValue, with
 * fieldHash when it is interned; returns its end, or 0 with the error, which
 * names the field as `name`, in requestError.
 */
// @ts-ignore: decorator
@inline function requestString(p: usize, end: usize, name: string): usize {
  // The common case, an interned string, inline; everything else (and every error) in requestText.
  if (p + 5 <= end && load<u8>(p) == <u8>V_INTERNED) {
    const id = load<u32>(p, 1);
    const value = internedValue(id);
    if (value != 0) {
      fieldId = id;
      fieldValue = value;
      fieldHash = internedIdHash(id);
      fieldHashed = true;
      return p + 5;
    }
  }
  return requestText(p, end, name);
}

function requestText(p: usize, end: usize, name: string): usize {
  fieldHashed = false;
  const t = p < end ? tagOf(p) : V_MISSING;
  if (t == V_INTERNED) {
    if (p + 5 > end) return fieldError("the request record is truncated", "");
    fieldId = load<u32>(p, 1);
    fieldValue = internedValue(fieldId);
    if (fieldValue == 0) return fieldError(name, " names no interned string");
    fieldHash = internedIdHash(fieldId);
    fieldHashed = true;
    return p + 5;
  }
  if (t != V_STRING) return fieldError(name, " must be a string");
  const next = validateValue(p, end, 0);
  if (next == 0) {
    fieldError("invalid ", name);
    bufStr(requestError, ": ");
    bufStr(requestError, invalidReason);
    return 0;
  }
  fieldValue = p;
  return next;
}

function fieldError(a: string, b: string): usize {
  requestError.len = 0;
  bufStr(requestError, a);
  bufStr(requestError, b);
  return 0;
}

let fieldHash: u32 = 0;
let fieldHashed = false;
let fieldValue: usize = 0;
let fieldId: u32 = 0;

/**
 * An agent record (tag 0x09): a byte of which fields follow (1 id, 2
 * trust_level, 4 tags), then id and trust_level as strings (text or
 * interned) and tags as an array of strings. Returns its end, or 0 with the
 * error in requestError.
 */
// @ts-ignore: decorator
@inline function readAgentRecord(p: usize, end: usize): usize {
  agentId = 0;
  agentTrust = 0;
  agentTags = 0;
  agentPresent = true;
  if (p + 2 > end) return agentError("the agent record is truncated");
  const fields = <u32>load<u8>(p, 1);
  if (fields > 7) return agentError("the agent record names unknown fields");
  let q = p + 2;
  if (fields & 1) {
    q = requestString(q, end, "agent `id`");
    if (q == 0) return 0;
    agentId = fieldValue;
  }
  if (fields & 2) {
    q = requestString(q, end, "agent `trust_level`");
    if (q == 0) return 0;
    agentTrust = fieldValue;
  }
  if (fields & 4) {
    if (q >= end || tagOf(q) != V_ARRAY) return agentError("agent `tags` must be an array of strings");
    const next = validateValue(q, end, 1);
    if (next == 0) {
      // The value itself is bad (not UTF-8, truncated): say so, not just what it should be.
      agentError("invalid agent `tags`: ");
      bufStr(requestError, invalidReason);
      return 0;
    }
    let e = itemsOf(q);
    for (let j: u32 = 0; j < lengthOf(q); j++) {
      if (!stringTag(e)) return agentError("agent `tags` must be an array of strings");
      e += sizeOf(e);
    }
    agentTags = q;
    q = next;
  }
  return q;
}


function agentError(message: string): usize {
  requestError.len = 0;
  bufStr(requestError, message);
  return 0;
}

function isName(p: usize, n: usize, s: string): bool {
  if (n != <usize>s.length) return false;
  for (let i: usize = 0; i < n; i++) if (<u32>load<u8>(p + i) != codeUnit(s, i)) return false;
  return true;
}

/** Reads and checks the record; returns 0, or the invalid-request record. */
function readRequest(set: PolicySet, p: usize, len: usize): usize {
  const end = p + len;
  if (len < HEADER) return invalid("the request record is shorter than its 24-byte header");
  const seconds = load<f64>(p);
  const nanos = load<u32>(p, 8);
  const attos = load<u32>(p, 12);
  const zones = load<u32>(p, 16);
  const slots = load<u32>(p, 20);
  if (zones != set.zoneCount || slots != set.paths.ctxCount) {
    return invalid("the request record does not match the policies in force (zone or context path count): reload the metadata");
  }
  // Seconds are a whole number within ±2^53 (well past year 9999 either way).
  if (!(Math.abs(seconds) <= 9007199254740991) || Math.floor(seconds) != seconds || nanos >= 1_000_000_000 || attos >= 1_000_000_000) {
    return invalid("the request time is not a valid instant");
  }
  nowS = <i64>seconds;
  nowF = <u64>nanos * 1_000_000_000 + <u64>attos;
  if (<usize>zones * 4 > len - HEADER) return invalid("the request record is truncated");
  const offsets = p + HEADER;
  let q = offsets + (<usize>zones << 2);
  // action
  q = requestString(q, end, "`action`");
  if (q == 0) return invalidRecord();
  actionValue = fieldValue;
  actionHashed = fieldHashed;
  actionHash = fieldHash;
  actionId = fieldId;
  actionPtr = bytesOf(actionValue);
  actionLen = lengthOf(actionValue);
  // resource
  if (q >= end) return invalid("the request record is truncated");
  resourceHashed = false;
  if (tagOf(q) == V_MISSING) {
    resourceValue = VALUE_EMPTY_STRING;
    q++;
  } else {
    q = requestString(q, end, "`resource`");
    if (q == 0) return invalidRecord();
    resourceValue = fieldValue;
    resourceHashed = fieldHashed;
    resourceHash = fieldHash;
    resourceId = fieldId;
  }
  resourcePtr = bytesOf(resourceValue);
  resourceLen = lengthOf(resourceValue);
  let next: usize = 0;
  // agent
  if (q >= end) return invalid("the request record is truncated");
  if (tagOf(q) == V_MISSING) {
    readAgent(q);
    q++;
  } else if (tagOf(q) == V_AGENT) {
    q = readAgentRecord(q, end);
    if (q == 0) return invalidRecord();
  } else {
    next = validateValue(q, end, 2);
    if (next == 0) return invalidValue("agent");
    if (!readAgent(q)) return invalidRecord();
    q = next;
  }
  // context slots
  for (let i: u32 = 0; i < slots; i++) {
    if (q >= end) return invalid("the request record is truncated");
    const at = set.slotValues + (<usize>i << 2);
    if (tagOf(q) == V_MISSING) {
      store<u32>(at, 0);
      q++;
      continue;
    }
    // A number, the commonest slot value, without a call.
    if (tagOf(q) == V_NUMBER && q + 9 <= end) next = q + 9;
    else {
      next = validateValue(q, end, load<u32>(set.slotDepth + (<usize>i << 2)));
      if (next == 0) return invalidValue("context");
    }
    store<u32>(at, <u32>q);
    q = next;
  }
  if (q != end) return invalid("the request record has bytes after its last value");
  setRequest(set.slotValues, actionValue, resourceValue, agentId, agentTrust, agentTags, nowS, offsets, set.timeCache, scratch, stamp);
  resetMarks(set.pathMarks, set.pathList, set.paths.ctxCount, set.paths.ctxCount + set.paths.otherCount);
  return 0;
}

function invalidValue(where: string): usize {
  requestError.len = 0;
  bufStr(requestError, "invalid `");
  bufStr(requestError, where);
  bufStr(requestError, "`: ");
  bufStr(requestError, invalidReason);
  return invalidRecord();
}

// ---------------------------------------------------------------------------
// Agents (§4)

/** Whether the policy applies to the request's agent; also computes the agent's trust rank there. */
// @ts-ignore: decorator
@inline export function applicable(set: PolicySet, p: Policy): bool {
  const i = <usize>p.index;
  if (load<u32>(set.policyStamp + (i << 2)) == stamp) return load<u8>(set.applicable + i) != 0;
  return judgeApplicable(set, p);
}

/** applicable for the first time in this decision: computes and stamps it, and the agent's rank. */
function judgeApplicable(set: PolicySet, p: Policy): bool {
  const i = <usize>p.index;
  store<u32>(set.policyStamp + (i << 2), stamp);
  let applies = true;
  if (p.hasAgentMatch) {
    applies = false;
    if (agentPresent) {
      if (agentId != 0) {
        for (let k: u32 = 0; k < p.idCount && !applies; k++) {
          applies = patternMatches(changetype<Pattern>(p.ids + offsetof<Pattern>() * k), bytesOf(agentId), lengthOf(agentId));
        }
      }
      if (!applies && agentTags != 0) {
        for (let k: u32 = 0; k < p.tagCount && !applies; k++) {
          const tp = <usize>load<u32>(p.tags + (<usize>k << 3));
          const tn = <usize>load<u32>(p.tags + (<usize>k << 3), 4);
          let e = itemsOf(agentTags);
          for (let j: u32 = 0; j < lengthOf(agentTags); j++) {
            if (bytesEqual(bytesOf(e), lengthOf(e), tp, tn)) {
              applies = true;
              break;
            }
            e += sizeOf(e);
          }
        }
      }
    }
  }
  store<u8>(set.applicable + i, applies ? 1 : 0);
  // An agent with no level, or a level the policy does not list, is below every level.
  let rank: i32 = -1;
  if (agentTrust != 0) {
    for (let k: u32 = 0; k < p.trustCount; k++) {
      if (bytesEqual(load<u32>(p.trustLevels + (<usize>k << 3)), load<u32>(p.trustLevels + (<usize>k << 3), 4), bytesOf(agentTrust), lengthOf(agentTrust))) {
        rank = <i32>k;
        break;
      }
    }
  }
  store<i32>(set.agentRank + (i << 2), rank);
  return applies;
}

export function agentRankIn(set: PolicySet, p: Policy): i32 {
  applicable(set, p);
  return load<i32>(set.agentRank + (<usize>p.index << 2));
}

// @ts-ignore: decorator
@inline export function policyOf(set: PolicySet, rule: Rule): Policy {
  return changetype<Policy>(set.policies + offsetof<Policy>() * rule.policy);
}

// ---------------------------------------------------------------------------
// Finding the rules through the index

function visit(set: PolicySet, rule: Rule, a: Pattern, r: Pattern): void {
  const o = <usize>rule.order;
  const spec = set.ruleSpec + (o << 4);
  if (load<u32>(set.ruleStamp + (o << 2)) != stamp) {
    store<u32>(set.ruleStamp + (o << 2), stamp);
    store<u32>(set.visited + (<usize>visitedCount << 2), <u32>o);
    visitedCount++;
    store<u32>(spec, r.lit);
    store<u32>(spec, r.wild, 4);
    store<u32>(spec, a.lit, 8);
    store<u32>(spec, a.wild, 12);
    return;
  }
  // Another pattern of the same rule matched: keep the most specific of each (§5 3a, 3b).
  if (compareSpecificity(r.lit, r.wild, load<u32>(spec), load<u32>(spec, 4)) > 0) {
    store<u32>(spec, r.lit);
    store<u32>(spec, r.wild, 4);
  }
  if (compareSpecificity(a.lit, a.wild, load<u32>(spec, 8), load<u32>(spec, 12)) > 0) {
    store<u32>(spec, a.lit, 8);
    store<u32>(spec, a.wild, 12);
  }
}

function scanAlts(set: PolicySet, list: usize): void {
  while (list != 0) {
    const alt = changetype<Alt>(list);
    list = alt.next;
    const rule = changetype<Rule>(alt.rule);
    // A plan holds the rules of every policy: applicability depends on the agent.
    if (!planning && !applicable(set, policyOf(set, rule))) continue;
    const a = changetype<Pattern>(alt.action);
    if (a.kind == P_GENERAL && !globMatch(a.tok, a.tokLen, actionPtr, actionLen)) continue;
    const r = changetype<Pattern>(alt.resource);
    if (r.kind == P_GENERAL && !globMatch(r.tok, r.tokLen, resourcePtr, resourceLen)) continue;
    visit(set, rule, a, r);
  }
}

// Whether findRules is making a plan (plans.ts).
let planning = false;

// Hashes of the resource's prefixes (u32 for lengths 0 …), for every length a bucket asks for.
let resourcePrefixes: usize = 0;

function scanBucket(set: PolicySet, b: Bucket): void {
  const exact = mapGet(b.exact, resourcePtr, resourceLen, resourceHash);
  if (exact != NOT_FOUND) scanAlts(set, <usize>exact);
  for (let i: u32 = 0; i < b.lensCount; i++) {
    const len = <usize>load<u32>(b.lens + (<usize>i << 2));
    if (len > resourceLen) break;
    const h = load<u32>(resourcePrefixes + (len << 2));
    const list = mapGet(b.prefix, resourcePtr, len, h);
    if (list != NOT_FOUND) scanAlts(set, <usize>list);
  }
}

function findRules(set: PolicySet): void {
  visitedCount = 0;
  // Hashes of every resource prefix the buckets can ask for, and of the whole
  // resource: an interned resource has them already.
  const upto = min<usize>(resourceLen, <usize>set.maxResourcePrefix);
  if (resourceHashed && <usize>internedPrefixCount(resourceValue) >= upto) {
    resourcePrefixes = internedPrefixHashes(resourceValue);
  } else {
    let h = HASH_SEED;
    store<u32>(set.resourceHashes, h);
    for (let i: usize = 0; i < upto; i++) {
      h = hashStep(h, load<u8>(resourcePtr + i));
      store<u32>(set.resourceHashes + ((i + 1) << 2), h);
    }
    if (!resourceHashed) {
      for (let i = upto; i < resourceLen; i++) h = hashStep(h, load<u8>(resourcePtr + i));
      resourceHash = h;
    }
    resourcePrefixes = set.resourceHashes;
  }
  // Action prefixes in one pass (or from an interned action's table), then the whole action.
  // Prefix lengths below `known` come from the interned table (none when not interned).
  const known: isize = actionHashed ? <isize>internedPrefixCount(actionValue) : -1;
  const table = actionHashed ? internedPrefixHashes(actionValue) : 0;
  let ha = HASH_SEED;
  let li: u32 = 0;
  for (let len: usize = 0; li < set.lensCount; len++) {
    if (<isize>len <= known) ha = load<u32>(table + (len << 2));
    while (li < set.lensCount && <usize>load<u32>(set.lens + (<usize>li << 2)) == len) {
      const b = mapGet(set.prefix, actionPtr, len, ha);
      if (b != NOT_FOUND) scanBucket(set, changetype<Bucket>(<usize>b));
      li++;
    }
    if (len >= actionLen) break;
    if (<isize>len >= known) ha = hashStep(ha, load<u8>(actionPtr + len));
  }
  const b = mapGet(set.exact, actionPtr, actionLen, actionHashed ? actionHash : hashBytes(actionPtr, actionLen));
  if (b != NOT_FOUND) scanBucket(set, changetype<Bucket>(<usize>b));
}

// ---------------------------------------------------------------------------
// Judging and ranking (§5)

/** Judges a matched rule: TRUE or FALSE (its trust failing is FALSE), or INDETERMINATE; marks paths when indeterminate. */
export function judge(set: PolicySet, rule: Rule): u32 {
  const p = policyOf(set, rule);
  if (rule.trust >= 0 && agentRankIn(set, p) < rule.trust) return FALSE;
  if (rule.cond == 0) return TRUE;
  setZoneSlot(p.zoneSlot);
  const c = changetype<Cond>(rule.cond);
  const r = evalCond(c);
  if (r == INDETERMINATE) collectPaths(c);
  return r;
}

/** Whether rule `a` beats rule `b` (§5 step 3). */
export function beats(set: PolicySet, a: Rule, b: Rule): bool {
  const sa = set.ruleSpec + (<usize>a.order << 4);
  const sb = set.ruleSpec + (<usize>b.order << 4);
  let c = compareSpecificity(load<u32>(sa), load<u32>(sa, 4), load<u32>(sb), load<u32>(sb, 4));
  if (c != 0) return c > 0;
  c = compareSpecificity(load<u32>(sa, 8), load<u32>(sa, 12), load<u32>(sb, 8), load<u32>(sb, 12));
  if (c != 0) return c > 0;
  if (a.conditionCount != b.conditionCount) return a.conditionCount > b.conditionCount;
  const ea = effectRank(a.effect);
  const eb = effectRank(b.effect);
  if (ea != eb) return ea > eb;
  return a.order < b.order;
}

function defaultAllows(set: PolicySet): bool {
  let applies = set.plainPolicies > 0;
  let allAllow = set.plainAllAllow != 0;
  if (applies && !allAllow) return false;
  for (let i: u32 = 0; i < set.matchCount; i++) {
    const p = changetype<Policy>(<usize>load<u32>(set.matchPolicies + (<usize>i << 2)));
    if (!applicable(set, p)) continue;
    applies = true;
    if (!p.defaultAllow) return false;
  }
  return applies && allAllow;
}

// ---------------------------------------------------------------------------
// Rate limits (§7)

const keyText: Buf = bufNew(64);
const EMPTY_KEY: usize = memory.data(8);
export let keyPtr: usize = 0;
export let keyLen: usize = 0;

/** Computes the scope key of a limit for this request into keyPtr/keyLen (keyPtr 0: no value). */
export function scopeKey(l: Limit): void {
  keyLen = 0;
  if (l.scope == SCOPE_GLOBAL) {
    keyPtr = EMPTY_KEY;
    return;
  }
  if (l.scope == SCOPE_AGENT) {
    keyPtr = agentId != 0 ? bytesOf(agentId) : 0;
    keyLen = agentId != 0 ? <usize>lengthOf(agentId) : 0;
    return;
  }
  const set = changetype<PolicySet>(current);
  const v = <usize>load<u32>(set.slotValues + (<usize>l.scopeRef << 2));
  const t = v == 0 ? V_MISSING : tagOf(v);
  if (t == V_MISSING || t == V_ARRAY || t == V_OBJECT) {
    keyPtr = 0;
    return;
  }
  // The value's JSON text (numbers as §3 writes them).
  keyText.len = 0;
  if (t == V_NULL) bufStr(keyText, "null");
  else if (t == V_TRUE) bufStr(keyText, "true");
  else if (t == V_FALSE) bufStr(keyText, "false");
  else if (t == V_NUMBER) bufNumber(keyText, numberOf(v));
  else bufJsonString(keyText, bytesOf(v), lengthOf(v));
  keyPtr = keyText.ptr;
  keyLen = keyText.len;
}

export function limitMatches(l: Limit): bool {
  let ok = false;
  for (let i: u32 = 0; i < l.actionCount && !ok; i++) {
    ok = patternMatches(changetype<Pattern>(l.actions + offsetof<Pattern>() * i), actionPtr, actionLen);
  }
  if (!ok) return false;
  for (let i: u32 = 0; i < l.resourceCount; i++) {
    if (patternMatches(changetype<Pattern>(l.resources + offsetof<Pattern>() * i), resourcePtr, resourceLen)) return true;
  }
  return false;
}

/** Counts of the limit for this request's key: used by explain. */
export function limitCount(l: Limit): u32 {
  scopeKey(l);
  const e = entryFor(changetype<RateState>(l.state), keyPtr, keyLen, false, l.periodSeconds);
  return e == 0 ? 0 : countWithin(changetype<Entry>(e), nowS, nowF, l.periodSeconds);
}

export function limitFull(l: Limit): bool {
  scopeKey(l);
  const e = entryFor(changetype<RateState>(l.state), keyPtr, keyLen, false, l.periodSeconds);
  return e != 0 && isFull(changetype<Entry>(e), l.limit, nowS, nowF, l.periodSeconds);
}

function applyLimits(set: PolicySet, count: bool): Limit | null {
  for (let i: u32 = 0; i < set.limitCount; i++) {
    const l = changetype<Limit>(<usize>load<u32>(set.limits + (<usize>i << 2)));
    if (!applicable(set, changetype<Policy>(set.policies + offsetof<Policy>() * l.policy))) continue;
    if (!limitMatches(l)) continue;
    if (limitFull(l)) return l;
  }
  if (!count) return null;
  for (let i: u32 = 0; i < set.limitCount; i++) {
    const l = changetype<Limit>(<usize>load<u32>(set.limits + (<usize>i << 2)));
    if (!applicable(set, changetype<Policy>(set.policies + offsetof<Policy>() * l.policy))) continue;
    if (!limitMatches(l)) continue;
    scopeKey(l);
    const state = changetype<RateState>(l.state);
    record(state, changetype<Entry>(entryFor(state, keyPtr, keyLen, true, l.periodSeconds)), l.limit, nowS, nowF);
  }
  return null;
}

// ---------------------------------------------------------------------------

/**
 * Decides the request record at `p` (ABI.md). `count`: whether an allowed
 * request counts against its rate limits (false for explain). Returns RECORD.
 */
export function decide(p: usize, len: usize, count: bool): usize {
  arenaReset(scratch);
  winner = null;
  deniedBy = null;
  if (current == 0) {
    // Nothing loaded: deny (DESIGN.md principle 5). The record must still be well formed.
    if (len < HEADER || load<u32>(p, 16) != 0 || load<u32>(p, 20) != 0) return invalid("no policies are loaded and the request record is not empty of zones and paths");
    return writeRecord(false, EFFECT_DENY);
  }
  const set = changetype<PolicySet>(current);
  nextStamp(set);
  const bad = readRequest(set, p, len);
  if (bad != 0) return bad;
  // A pair of interned strings has a plan: its rules in the order of §5 step 3.
  let best: Rule | null;
  if (actionHashed && resourceHashed) {
    let plan = planFind(actionId, resourceId);
    if (plan == 0) plan = makePlan(set);
    best = plan != 0 ? judgeInOrder(set, plan + 4, load<u32>(plan)) : judgeAll(set);
  } else {
    findRules(set);
    best = judgeAll(set);
  }
  winner = best;
  let effect: u32;
  if (best != null) effect = best.effect;
  else effect = defaultAllows(set) ? EFFECT_ALLOW : EFFECT_DENY;
  if (effect == EFFECT_ALLOW) {
    if (set.limitCount > 0) deniedBy = applyLimits(set, count);
    if (deniedBy != null) effect = EFFECT_DENY;
  }
  return writeRecord(true, effect);
}

/** Judges the rules findRules visited; the candidate that beats the others, or null. */
function judgeAll(set: PolicySet): Rule | null {
  let best: Rule | null = null;
  for (let i: u32 = 0; i < visitedCount; i++) {
    const rule = changetype<Rule>(<usize>load<u32>(set.rules + (<usize>load<u32>(set.visited + (<usize>i << 2)) << 2)));
    if (planning && !applicable(set, policyOf(set, rule))) continue;
    const r = judge(set, rule);
    if (r == FALSE || (r == INDETERMINATE && rule.effect == EFFECT_ALLOW)) continue;
    if (best == null || beats(set, rule, best)) best = rule;
  }
  planning = false;
  return best;
}

/**
 * Judges every rule of a plan (`n` Rule pointers at `list`, most specific
 * first) whose policy applies; the first candidate wins. Every one is judged,
 * for the paths that came out indeterminate. This is `judge` written out for
 * the loop that runs most: each step of a rule → policy → stamp chain is a
 * load that waits on the one before.
 */
function judgeInOrder(set: PolicySet, list: usize, n: u32): Rule | null {
  let best: Rule | null = null;
  for (let i: u32 = 0; i < n; i++) {
    const rule = changetype<Rule>(<usize>load<u32>(list + (<usize>i << 2)));
    const pi = <usize>rule.policy;
    if (load<u32>(set.policyStamp + (pi << 2)) != stamp) judgeApplicable(set, changetype<Policy>(set.policies + offsetof<Policy>() * pi));
    if (load<u8>(set.applicable + pi) == 0) continue;
    if (rule.trust >= 0 && load<i32>(set.agentRank + (pi << 2)) < rule.trust) continue;
    let r = TRUE;
    if (rule.cond != 0) {
      const c = changetype<Cond>(rule.cond);
      // slotNumber is set only on comparisons (eval.ts specialize).
      if (c.slotNumber != 0) r = evalSlotNumber(c);
      else {
        setZoneSlot(changetype<Policy>(set.policies + offsetof<Policy>() * pi).zoneSlot);
        r = evalCond(c);
      }
      if (r == INDETERMINATE) {
        collectPaths(c);
        if (rule.effect == EFFECT_ALLOW) continue;
      } else if (r == FALSE) continue;
    }
    if (best == null) best = rule;
  }
  return best;
}

/**
 * Finds the rules of the request's (interned) action and resource in every
 * policy, sorts them by §5 step 3 and keeps them as the pair's plan; returns
 * it, or 0 when it has too many rules to keep (then `visited` holds them, and
 * `planning` stays set for judgeAll).
 */
function makePlan(set: PolicySet): usize {
  planning = true;
  findRules(set);
  const n = visitedCount;
  if (n > MAX_PLAN_RULES) return 0;
  planning = false;
  // Insertion sort, most specific first (n is small).
  const v = set.visited;
  for (let i: u32 = 1; i < n; i++) {
    const o = load<u32>(v + (<usize>i << 2));
    const rule = changetype<Rule>(<usize>load<u32>(set.rules + (<usize>o << 2)));
    let j = i;
    while (j > 0) {
      const prev = load<u32>(v + (<usize>(j - 1) << 2));
      if (!beats(set, rule, changetype<Rule>(<usize>load<u32>(set.rules + (<usize>prev << 2))))) break;
      store<u32>(v + (<usize>j << 2), prev);
      j--;
    }
    store<u32>(v + (<usize>j << 2), o);
  }
  // The plan holds the rules themselves.
  for (let i: u32 = 0; i < n; i++) store<u32>(v + (<usize>i << 2), load<u32>(set.rules + (<usize>load<u32>(v + (<usize>i << 2)) << 2)));
  return planKeep(actionId, resourceId, v, n);
}

function writeRecord(loaded: bool, effect: u32): usize {
  store<u32>(RECORD + R_STATUS, 0);
  store<u32>(RECORD + R_EFFECT, effect);
  store<u32>(RECORD + R_ALLOWED, effect == EFFECT_ALLOW ? 1 : 0);
  const w = winner;
  store<i32>(RECORD + R_POLICY, w != null ? <i32>w.policy : -1);
  store<i32>(RECORD + R_RULE, w != null ? <i32>w.index : -1);
  const l = deniedBy;
  store<i32>(RECORD + R_LIMIT_POLICY, l != null ? <i32>l.policy : -1);
  store<i32>(RECORD + R_LIMIT_INDEX, l != null ? <i32>l.index : -1);
  store<u32>(RECORD + R_ERROR_PTR, 0);
  store<u32>(RECORD + R_ERROR_LEN, 0);
  if (!loaded) {
    store<u32>(RECORD + R_INDET_COUNT, 0);
    store<u32>(RECORD + R_INDET_PTR, 0);
    return RECORD;
  }
  const set = changetype<PolicySet>(current);
  if (markCount > 1) sortMarked(set);
  store<u32>(RECORD + R_INDET_COUNT, markCount);
  store<u32>(RECORD + R_INDET_PTR, <u32>set.pathList);
  return RECORD;
}

/** Sorts the marked paths into code-point order (insertion sort: the list is short). */
export function sortMarked(set: PolicySet): void {
  const list = set.pathList;
  const rank = set.pathRank;
  for (let i: u32 = 1; i < markCount; i++) {
    const id = load<u32>(list + (<usize>i << 2));
    const r = load<u32>(rank + (<usize>id << 2));
    let j = i;
    while (j > 0 && load<u32>(rank + (<usize>load<u32>(list + (<usize>(j - 1) << 2)) << 2)) > r) {
      store<u32>(list + (<usize>j << 2), load<u32>(list + (<usize>(j - 1) << 2)));
      j--;
    }
    store<u32>(list + (<usize>j << 2), id);
  }
}
