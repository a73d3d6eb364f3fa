// Explaining a decision (policy-language.md §6): every rule of every
// applicable policy with what matched, its specificity and its conditions'
// outcome, the rate limits, and why the winner won. Written as JSON (ABI.md
// §The explanation): explaining is not on the hot path, so it may walk every
// rule instead of the index.

import { Buf, bufNew, bufStr, bufByte, bufBytes, bufI64, bufBool, bufJsonString, bufJsonStr } from "./bytes";
import { Pattern, patternMatches, compareSpecificity } from "./pattern";
import { Cond, TRUE, FALSE, INDETERMINATE } from "./conditions";
import { evalCond, collectPaths, resetMarks, markCount, markedPath, setZoneSlot } from "./eval";
import { pathText, pathTextLen } from "./paths";
import { Policy, Rule, Limit, PolicySet, EFFECT_ALLOW, EFFECT_DENY } from "./model";
import { lengthOf, bytesOf } from "./value";
import {
  current, RECORD, R_STATUS, R_EFFECT, R_ALLOWED, R_POLICY, R_RULE, R_LIMIT_POLICY, R_LIMIT_INDEX,
  R_INDET_COUNT, R_INDET_PTR, R_ERROR_PTR, R_ERROR_LEN,
  applicable, agentRankIn, beats, limitMatches, limitCount, limitFull, keyPtr, keyLen,
  actionValue, resourceValue, agentTrust, sortMarked,
} from "./decide";

function effectName(e: u32): string {
  return e == EFFECT_ALLOW ? "allow" : e == EFFECT_DENY ? "deny" : "escalate";
}

function nullableIndex(out: Buf, v: i32): void {
  if (v < 0) bufStr(out, "null");
  else bufI64(out, v);
}

function writePaths(out: Buf, set: PolicySet, list: usize, n: u32): void {
  bufByte(out, 91);
  for (let i: u32 = 0; i < n; i++) {
    if (i > 0) bufByte(out, 44);
    const id = load<u32>(list + (<usize>i << 2));
    bufJsonString(out, pathText(set.paths, id), pathTextLen(set.paths, id));
  }
  bufByte(out, 93);
}

// The most specific pattern of a list that matches, from `bestMatch`.
let matchLit: u32 = 0;
let matchWild: u32 = 0;
let matchPattern: Pattern | null = null;

function bestMatch(list: usize, count: u32, text: usize): bool {
  matchPattern = null;
  for (let i: u32 = 0; i < count; i++) {
    const pt = changetype<Pattern>(list + offsetof<Pattern>() * i);
    if (!patternMatches(pt, bytesOf(text), lengthOf(text))) continue;
    if (matchPattern == null || compareSpecificity(pt.lit, pt.wild, matchLit, matchWild) > 0) {
      matchPattern = pt;
      matchLit = pt.lit;
      matchWild = pt.wild;
    }
  }
  return matchPattern != null;
}

function writeMatch(out: Buf, matched: bool, list: usize, count: u32): void {
  bufStr(out, "{\"matched\":");
  bufBool(out, matched);
  if (matched) {
    const pt = matchPattern!;
    bufStr(out, ",\"pattern\":");
    bufJsonString(out, pt.src, pt.srcLen);
    bufStr(out, ",\"specificity\":[");
    bufI64(out, pt.lit);
    bufByte(out, 44);
    bufI64(out, pt.wild);
    bufByte(out, 93);
  } else {
    // What it would have needed: every pattern of the rule.
    bufStr(out, ",\"patterns\":[");
    for (let i: u32 = 0; i < count; i++) {
      if (i > 0) bufByte(out, 44);
      const pt = changetype<Pattern>(list + offsetof<Pattern>() * i);
      bufJsonString(out, pt.src, pt.srcLen);
    }
    bufByte(out, 93);
  }
  bufByte(out, 125);
}

function ruleLabel(out: Buf, r: Rule): void {
  bufStr(out, "rule ");
  bufI64(out, r.index);
  bufStr(out, " of policy ");
  bufI64(out, r.policy);
}

function specText(out: Buf, lit: u32, wild: u32): void {
  bufI64(out, lit);
  bufStr(out, lit == 1 ? " literal character, " : " literal characters, ");
  bufI64(out, wild);
  bufStr(out, wild == 1 ? " wildcard" : " wildcards");
}

/** Why `w` beats `r` (§5 step 3), as text. */
function whyBeats(out: Buf, set: PolicySet, w: Rule, r: Rule): void {
  const sw = set.ruleSpec + (<usize>w.order << 4);
  const sr = set.ruleSpec + (<usize>r.order << 4);
  ruleLabel(out, w);
  bufStr(out, " wins over ");
  ruleLabel(out, r);
  bufStr(out, ": ");
  if (compareSpecificity(load<u32>(sw), load<u32>(sw, 4), load<u32>(sr), load<u32>(sr, 4)) != 0) {
    bufStr(out, "its resource pattern is more specific (");
    specText(out, load<u32>(sw), load<u32>(sw, 4));
    bufStr(out, " against ");
    specText(out, load<u32>(sr), load<u32>(sr, 4));
    bufByte(out, 41);
  } else if (compareSpecificity(load<u32>(sw, 8), load<u32>(sw, 12), load<u32>(sr, 8), load<u32>(sr, 12)) != 0) {
    bufStr(out, "the resource patterns tie and its action pattern is more specific (");
    specText(out, load<u32>(sw, 8), load<u32>(sw, 12));
    bufStr(out, " against ");
    specText(out, load<u32>(sr, 8), load<u32>(sr, 12));
    bufByte(out, 41);
  } else if (w.conditionCount != r.conditionCount) {
    bufStr(out, "the patterns tie and it has more conditions (");
    bufI64(out, w.conditionCount);
    bufStr(out, " against ");
    bufI64(out, r.conditionCount);
    bufByte(out, 41);
  } else if (w.effect != r.effect) {
    bufStr(out, "a full tie, where deny beats escalate beats allow");
  } else bufStr(out, "a full tie between rules of one effect, where the earlier rule wins");
}

export function explainDecision(out: Buf, record: usize): void {
  bufStr(out, "{\"decision\":{\"allowed\":");
  bufBool(out, load<u32>(record + R_ALLOWED) != 0);
  bufStr(out, ",\"effect\":");
  bufJsonStr(out, effectName(load<u32>(record + R_EFFECT)));
  if (load<u32>(record + R_STATUS) != 0) {
    bufStr(out, ",\"policy\":null,\"rule\":null,\"rate_limit\":null,\"indeterminate\":[],\"error\":{\"code\":\"ERR_REQUEST_INVALID\",\"message\":");
    bufJsonString(out, load<u32>(record + R_ERROR_PTR), load<u32>(record + R_ERROR_LEN));
    bufStr(out, "}},\"policies\":[],\"rules\":[],\"rate_limits\":[],\"why\":\"the request is invalid, so it is denied\"}");
    return;
  }
  bufStr(out, ",\"policy\":");
  nullableIndex(out, load<i32>(record + R_POLICY));
  bufStr(out, ",\"rule\":");
  nullableIndex(out, load<i32>(record + R_RULE));
  bufStr(out, ",\"rate_limit\":");
  if (load<i32>(record + R_LIMIT_POLICY) < 0) bufStr(out, "null");
  else {
    bufStr(out, "{\"policy\":");
    bufI64(out, load<i32>(record + R_LIMIT_POLICY));
    bufStr(out, ",\"index\":");
    bufI64(out, load<i32>(record + R_LIMIT_INDEX));
    bufByte(out, 125);
  }
  bufStr(out, ",\"indeterminate\":");
  if (current == 0) {
    bufStr(out, "[]},\"policies\":[],\"rules\":[],\"rate_limits\":[],\"why\":\"no policies are loaded, so everything is denied\"}");
    return;
  }
  const set = changetype<PolicySet>(current);
  writePaths(out, set, load<u32>(record + R_INDET_PTR), load<u32>(record + R_INDET_COUNT));
  bufStr(out, "},\"policies\":[");
  const psize = offsetof<Policy>();
  for (let i: u32 = 0; i < set.policyCount; i++) {
    const p = changetype<Policy>(set.policies + psize * i);
    if (i > 0) bufByte(out, 44);
    bufStr(out, "{\"policy\":");
    bufI64(out, i);
    bufStr(out, ",\"name\":");
    if (p.hasName) bufJsonString(out, p.name, p.nameLen);
    else bufStr(out, "null");
    bufStr(out, ",\"applicable\":");
    bufBool(out, applicable(set, p));
    bufStr(out, ",\"default_effect\":");
    bufJsonStr(out, p.defaultAllow ? "allow" : "deny");
    bufByte(out, 125);
  }
  // Every rule of the applicable policies. The decision's own path list is
  // written above, so the marks can be reused rule by rule here.
  bufStr(out, "],\"rules\":[");
  let first = true;
  let best: Rule | null = null;
  let second: Rule | null = null;
  for (let i: u32 = 0; i < set.ruleCount; i++) {
    const r = changetype<Rule>(<usize>load<u32>(set.rules + (<usize>i << 2)));
    const p = changetype<Policy>(set.policies + psize * r.policy);
    if (!applicable(set, p)) continue;
    if (!first) bufByte(out, 44);
    first = false;
    bufStr(out, "{\"policy\":");
    bufI64(out, r.policy);
    bufStr(out, ",\"rule\":");
    bufI64(out, r.index);
    bufStr(out, ",\"name\":");
    if (r.hasName) bufJsonString(out, r.name, r.nameLen);
    else bufStr(out, "null");
    bufStr(out, ",\"effect\":");
    bufJsonStr(out, effectName(r.effect));
    bufStr(out, ",\"action\":");
    const actionOk = bestMatch(r.actions, r.actionCount, actionValue);
    const spec = set.ruleSpec + (<usize>r.order << 4);
    store<u32>(spec, 0, 8);
    if (actionOk) {
      store<u32>(spec, matchLit, 8);
      store<u32>(spec, matchWild, 12);
    }
    writeMatch(out, actionOk, r.actions, r.actionCount);
    if (!actionOk) {
      bufByte(out, 125);
      continue;
    }
    bufStr(out, ",\"resource\":");
    const resourceOk = bestMatch(r.resources, r.resourceCount, resourceValue);
    if (resourceOk) {
      store<u32>(spec, matchLit);
      store<u32>(spec, matchWild, 4);
    }
    writeMatch(out, resourceOk, r.resources, r.resourceCount);
    if (!resourceOk) {
      bufByte(out, 125);
      continue;
    }
    bufStr(out, ",\"trust\":");
    let trustOk = true;
    if (r.trust < 0) bufStr(out, "null");
    else {
      trustOk = agentRankIn(set, p) >= r.trust;
      bufStr(out, "{\"required\":");
      bufJsonString(out, r.trustText, r.trustLen);
      bufStr(out, ",\"agent\":");
      if (agentTrust != 0) bufJsonString(out, bytesOf(agentTrust), lengthOf(agentTrust));
      else bufStr(out, "null");
      bufStr(out, ",\"matched\":");
      bufBool(out, trustOk);
      bufByte(out, 125);
    }
    let result = TRUE;
    if (trustOk) {
      bufStr(out, ",\"conditions\":{\"count\":");
      bufI64(out, r.conditionCount - (r.trust >= 0 ? 1 : 0));
      bufStr(out, ",\"result\":");
      if (r.cond == 0) bufStr(out, "\"none\"");
      else {
        setZoneSlot(p.zoneSlot);
        resetMarks(set.pathMarks, set.pathList, set.paths.ctxCount, set.paths.ctxCount + set.paths.otherCount);
        const c = changetype<Cond>(r.cond);
        result = evalCond(c);
        if (result == INDETERMINATE) collectPaths(c);
        bufJsonStr(out, result == TRUE ? "true" : result == FALSE ? "false" : "indeterminate");
        if (result == INDETERMINATE) {
          bufStr(out, ",\"indeterminate\":");
          sortMarked(set);
          writePaths(out, set, set.pathList, markCount);
        }
      }
      bufByte(out, 125);
    } else result = FALSE;
    const candidate = result == TRUE || (result == INDETERMINATE && r.effect != EFFECT_ALLOW);
    bufStr(out, ",\"candidate\":");
    bufBool(out, candidate);
    bufByte(out, 125);
    if (!candidate) continue;
    if (best == null || beats(set, r, best)) {
      second = best;
      best = r;
    } else if (second == null || beats(set, r, second)) second = r;
  }
  bufStr(out, "],\"rate_limits\":[");
  // Limits are checked only for a request allowed before them.
  const checkLimits = load<u32>(record + R_ALLOWED) != 0 || load<i32>(record + R_LIMIT_POLICY) >= 0;
  first = true;
  for (let i: u32 = 0; i < set.limitCount; i++) {
    const l = changetype<Limit>(<usize>load<u32>(set.limits + (<usize>i << 2)));
    if (!applicable(set, changetype<Policy>(set.policies + psize * l.policy))) continue;
    if (!first) bufByte(out, 44);
    first = false;
    bufStr(out, "{\"policy\":");
    bufI64(out, l.policy);
    bufStr(out, ",\"index\":");
    bufI64(out, l.index);
    const matched = limitMatches(l);
    bufStr(out, ",\"matched\":");
    bufBool(out, matched);
    if (matched && checkLimits) {
      const n = limitCount(l);
      bufStr(out, ",\"key\":");
      if (keyPtr == 0) bufStr(out, "null");
      else bufJsonString(out, keyPtr, keyLen);
      bufStr(out, ",\"count\":");
      bufI64(out, n);
      bufStr(out, ",\"limit\":");
      bufI64(out, l.limit);
      bufStr(out, ",\"full\":");
      bufBool(out, limitFull(l));
    }
    bufByte(out, 125);
  }
  bufStr(out, "],\"why\":");
  why.len = 0;
  if (best == null) {
    bufStr(why, "no rule is a candidate, so the default applies: ");
    // §5 step 4: allow only when some policy applies and every applicable one defaults to allow.
    let applying: i32 = -1;
    let denying: i32 = -1;
    for (let i: u32 = 0; i < set.policyCount; i++) {
      const p = changetype<Policy>(set.policies + psize * i);
      if (!applicable(set, p)) continue;
      if (applying < 0) applying = <i32>i;
      if (!p.defaultAllow && denying < 0) denying = <i32>i;
    }
    if (applying < 0) bufStr(why, "deny, as no policy applies to this request");
    else if (denying >= 0) {
      bufStr(why, "deny, as policy ");
      bufI64(why, denying);
      bufStr(why, " applies and defaults to deny");
    } else bufStr(why, "allow, as every applicable policy defaults to allow");
  } else if (second == null) {
    ruleLabel(why, best);
    bufStr(why, " is the only candidate");
  } else whyBeats(why, set, best, second);
  if (load<i32>(record + R_LIMIT_POLICY) >= 0) {
    bufStr(why, "; then rate limit ");
    bufI64(why, load<i32>(record + R_LIMIT_INDEX));
    bufStr(why, " of policy ");
    bufI64(why, load<i32>(record + R_LIMIT_POLICY));
    bufStr(why, " denied it: its limit was reached within the period");
  }
  bufJsonString(out, why.ptr, why.len);
  bufByte(out, 125);
}

const why: Buf = bufNew(256);
