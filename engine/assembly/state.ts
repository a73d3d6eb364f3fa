// Rate-limit state export and import (ABI.md §Rate-limit state, spec §7): so a
// host that must replace its engine instance carries the counts over.

import { alloc, free, arenaNew, arenaFree } from "./memory";
import { Buf, bufStr, bufByte, bufI64, bufNumber, bufJsonString, bytesEqual, bytesIs } from "./bytes";
import { errorsReset } from "./errors";
import { JNode, J_NULL, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT, parseJson, member, element } from "./json";
import { Pattern } from "./pattern";
import { Limit, PolicySet } from "./model";
import { current } from "./decide";
import { RateState, Entry, entryFor, record, slotAt } from "./ratelimit";
import { ATTOS_PER_SECOND } from "./time";

function writePatterns(out: Buf, list: usize, n: u32): void {
  bufByte(out, 91);
  for (let i: u32 = 0; i < n; i++) {
    if (i > 0) bufByte(out, 44);
    const pt = changetype<Pattern>(list + offsetof<Pattern>() * i);
    bufJsonString(out, pt.src, pt.srcLen);
  }
  bufByte(out, 93);
}

/** Writes one key's counts; returns whether it wrote anything. */
function writeEntry(out: Buf, e: Entry, first: bool, noValue: bool): bool {
  if (e.size == 0) return false;
  if (!first) bufByte(out, 44);
  bufStr(out, "{\"key\":");
  if (noValue) bufStr(out, "null");
  else bufJsonString(out, e.key, e.keyLen);
  bufStr(out, ",\"times\":[");
  for (let i: u32 = 0; i < e.size; i++) {
    if (i > 0) bufByte(out, 44);
    const t = slotAt(e, i);
    writeInstant(out, load<i64>(t), load<u64>(t, 8));
  }
  bufStr(out, "]}");
  return true;
}

/** An instant as the string "seconds[.fraction]", exact. */
function writeInstant(out: Buf, s: i64, f: u64): void {
  bufByte(out, 34);
  bufI64(out, s);
  if (f != 0) {
    bufByte(out, 46);
    let digits = 18;
    while (f % 10 == 0) {
      f /= 10;
      digits--;
    }
    const start = out.len;
    for (let i = 0; i < digits; i++) bufByte(out, 48);
    for (let i = digits - 1; i >= 0; i--) {
      store<u8>(out.ptr + start + <usize>i, <u8>(48 + f % 10));
      f /= 10;
    }
  }
  bufByte(out, 34);
}

// The instant `readInstant` read.
let instantS: i64 = 0;
let instantF: u64 = 0;

/** Reads "seconds[.fraction]" (at most 18 fraction digits); false when malformed. */
function readInstant(p: usize, n: usize): bool {
  let i: usize = 0;
  const negative = n > 0 && load<u8>(p) == 45;
  if (negative) i++;
  const start = i;
  let s: i64 = 0;
  while (i < n && <u32>load<u8>(p + i) - 48 < 10) {
    if (s > 100_000_000_000_000_000) return false;
    s = s * 10 + <i64>(load<u8>(p + i) - 48);
    i++;
  }
  if (i == start) return false;
  let f: u64 = 0;
  if (i < n) {
    if (load<u8>(p + i) != 46 || n - i - 1 < 1 || n - i - 1 > 18) return false;
    let scale: u64 = ATTOS_PER_SECOND / 10;
    for (i++; i < n; i++) {
      const d = <u32>load<u8>(p + i) - 48;
      if (d > 9) return false;
      f += <u64>d * scale;
      scale /= 10;
    }
  }
  instantS = negative ? -s : s;
  instantF = f;
  return true;
}

export function exportState(out: Buf): void {
  bufStr(out, "{\"format\":\"warden-rate-limits-1\",\"limits\":[");
  if (current != 0) {
    const set = changetype<PolicySet>(current);
    for (let i: u32 = 0; i < set.limitCount; i++) {
      const l = changetype<Limit>(<usize>load<u32>(set.limits + (<usize>i << 2)));
      if (i > 0) bufByte(out, 44);
      bufStr(out, "{\"policy\":");
      if (l.hasPolicyName) bufJsonString(out, l.policyName, l.policyNameLen);
      else bufStr(out, "null");
      bufStr(out, ",\"action\":");
      writePatterns(out, l.actions, l.actionCount);
      bufStr(out, ",\"resource\":");
      writePatterns(out, l.resources, l.resourceCount);
      bufStr(out, ",\"period_seconds\":");
      bufI64(out, l.periodSeconds);
      bufStr(out, ",\"scope\":");
      bufJsonString(out, l.scopeText, l.scopeLen);
      bufStr(out, ",\"counts\":[");
      const s = changetype<RateState>(l.state);
      let first = true;
      for (let k: u32 = 0; k <= s.mask; k++) {
        const p = <usize>load<u32>(s.slots + (<usize>k << 2));
        if (p != 0 && writeEntry(out, changetype<Entry>(p), first, false)) first = false;
      }
      if (s.noValue != 0) writeEntry(out, changetype<Entry>(s.noValue), first, true);
      bufStr(out, "]}");
    }
  }
  bufStr(out, "]}");
}

// ---------------------------------------------------------------------------

function samePatternList(list: usize, n: u32, v: JNode | null): bool {
  if (v == null || v.kind != J_ARRAY || v.count != n) return false;
  for (let i: u32 = 0; i < n; i++) {
    const e = element(v, i);
    const pt = changetype<Pattern>(list + offsetof<Pattern>() * i);
    if (e.kind != J_STRING || !bytesEqual(e.ptr, e.count, pt.src, pt.srcLen)) return false;
  }
  return true;
}

function matches(l: Limit, x: JNode): bool {
  const policy = member(x, "policy");
  if (policy == null) return false;
  if (l.hasPolicyName) {
    if (policy.kind != J_STRING || !bytesEqual(policy.ptr, policy.count, l.policyName, l.policyNameLen)) return false;
  } else if (policy.kind != J_NULL) return false;
  const period = member(x, "period_seconds");
  const scope = member(x, "scope");
  return samePatternList(l.actions, l.actionCount, member(x, "action"))
    && samePatternList(l.resources, l.resourceCount, member(x, "resource"))
    && period != null && period.kind == J_NUMBER && period.num == <f64>l.periodSeconds
    && scope != null && scope.kind == J_STRING && bytesEqual(scope.ptr, scope.count, l.scopeText, l.scopeLen);
}

/** Checks the shape of one exported limit's counts. */
function countsValid(x: JNode): bool {
  const counts = member(x, "counts");
  if (counts == null || counts.kind != J_ARRAY) return false;
  for (let i: u32 = 0; i < counts.count; i++) {
    const c = element(counts, i);
    if (c.kind != J_OBJECT) return false;
    const key = member(c, "key");
    const times = member(c, "times");
    if (key == null || (key.kind != J_STRING && key.kind != J_NULL)) return false;
    if (times == null || times.kind != J_ARRAY) return false;
    for (let k: u32 = 0; k < times.count; k++) {
      const t = element(times, k);
      if (t.kind != J_STRING || !readInstant(t.ptr, t.count)) return false;
    }
  }
  return true;
}

function fail(out: Buf, message: string): bool {
  bufStr(out, "{\"ok\":false,\"message\":");
  bufByte(out, 34);
  bufStr(out, message);
  bufByte(out, 34);
  bufByte(out, 125);
  return false;
}

/** Adds exported counts to the limits in force; on any error changes nothing. */
export function importState(p: usize, n: usize, out: Buf): bool {
  const tree = arenaNew();
  errorsReset();
  const root = parseJson(tree, p, n);
  errorsReset();
  if (root == null || root.kind != J_OBJECT) {
    arenaFree(tree);
    return fail(out, "rate-limit state must be the JSON object that `state_export` writes");
  }
  const format = member(root, "format");
  const limits = member(root, "limits");
  if (format == null || format.kind != J_STRING || !bytesIs(format.ptr, format.count, "warden-rate-limits-1") || limits == null || limits.kind != J_ARRAY) {
    arenaFree(tree);
    return fail(out, "rate-limit state must have `format: warden-rate-limits-1` and `limits`");
  }
  for (let i: u32 = 0; i < limits.count; i++) {
    const x = element(limits, i);
    if (x.kind != J_OBJECT || !countsValid(x)) {
      arenaFree(tree);
      return fail(out, "a limit in the rate-limit state is malformed");
    }
  }
  if (current != 0) {
    const set = changetype<PolicySet>(current);
    // Each exported limit goes to the first limit in force with its identity not yet given counts.
    const taken = alloc(<usize>set.limitCount + 1);
    memory.fill(taken, 0, <usize>set.limitCount);
    for (let i: u32 = 0; i < limits.count; i++) {
      const x = element(limits, i);
      for (let j: u32 = 0; j < set.limitCount; j++) {
        const l = changetype<Limit>(<usize>load<u32>(set.limits + (<usize>j << 2)));
        if (load<u8>(taken + j) != 0 || !matches(l, x)) continue;
        store<u8>(taken + j, 1);
        const counts = member(x, "counts")!;
        const s = changetype<RateState>(l.state);
        for (let k: u32 = 0; k < counts.count; k++) {
          const c = element(counts, k);
          const key = member(c, "key")!;
          const times = member(c, "times")!;
          const e = key.kind == J_NULL
            ? entryFor(s, 0, 0, true, l.periodSeconds)
            : entryFor(s, key.count == 0 ? EMPTY : key.ptr, key.count, true, l.periodSeconds);
          for (let t: u32 = 0; t < times.count; t++) {
            const time = element(times, t);
            readInstant(time.ptr, time.count);
            record(s, changetype<Entry>(e), l.limit, instantS, instantF);
          }
        }
        break;
      }
    }
    free(taken);
  }
  arenaFree(tree);
  bufStr(out, "{\"ok\":true}");
  return true;
}

const EMPTY: usize = memory.data(8);
