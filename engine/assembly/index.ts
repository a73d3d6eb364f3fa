// The exports of warden.wasm: exactly the functions ABI.md lists, over
// integers and bytes in linear memory.

import { alloc as heapAlloc, free as heapFree } from "./memory";
import { Buf, bufNew, bufStr, bufBytes } from "./bytes";
import { errorsJson } from "./errors";
import { compileSet, freeSet, meta } from "./compile";
import { PolicySet, Limit } from "./model";
import { current, setCurrent, decide as decideRecord } from "./decide";
import { stateNew, stateFree, sameLimit, trimAll } from "./ratelimit";
import { parseTime, parsedSeconds, parsedFraction } from "./time";
import { explainDecision } from "./explain";
import { exportState, importState } from "./state";
import { internString, internReset } from "./intern";
import { plansClear } from "./plans";

const ABI_VERSION: i32 = 2;

/** The output buffer: load results, explanations, exported state. */
const output: Buf = bufNew(4096);
let request: usize = 0;
let requestCap: usize = 0;
const timeResult: usize = memory.data(16);

export function abi_version(): i32 {
  return ABI_VERSION;
}

export function alloc(size: usize): usize {
  return heapAlloc(size);
}

export function free(ptr: usize): void {
  heapFree(ptr);
}

export function output_ptr(): usize {
  return output.ptr;
}

export function output_len(): usize {
  return output.len;
}

/** The request scratch area; growing it keeps what the host already wrote. */
export function request_reserve(size: usize): usize {
  if (size > requestCap || request == 0) {
    const cap = max<usize>(size, max<usize>(requestCap << 1, 1024));
    const fresh = heapAlloc(cap);
    if (request != 0) {
      memory.copy(fresh, request, requestCap);
      heapFree(request);
    }
    request = fresh;
    requestCap = cap;
  }
  return request;
}

/** Hands each new limit the counts of the old limit with the same identity (§7); frees the rest. */
function carryCounts(old: PolicySet | null, fresh: PolicySet): void {
  const taken = old != null ? heapAlloc(<usize>old.limitCount + 1) : 0;
  if (old != null) memory.fill(taken, 0, <usize>old.limitCount);
  for (let i: u32 = 0; i < fresh.limitCount; i++) {
    const l = changetype<Limit>(<usize>load<u32>(fresh.limits + (<usize>i << 2)));
    l.state = 0;
    if (old != null) {
      for (let j: u32 = 0; j < old.limitCount; j++) {
        if (load<u8>(taken + j) != 0) continue;
        const o = changetype<Limit>(<usize>load<u32>(old.limits + (<usize>j << 2)));
        if (!sameLimit(o, l)) continue;
        store<u8>(taken + j, 1);
        l.state = o.state;
        trimAll(changetype<RateStateRef>(l.state), l.limit);
        break;
      }
    }
    if (l.state == 0) l.state = changetype<usize>(stateNew());
  }
  if (old != null) {
    for (let j: u32 = 0; j < old.limitCount; j++) {
      if (load<u8>(taken + j) != 0) continue;
      const o = changetype<Limit>(<usize>load<u32>(old.limits + (<usize>j << 2)));
      stateFree(changetype<RateStateRef>(o.state));
    }
    heapFree(taken);
  }
}

import { RateState as RateStateRef } from "./ratelimit";

function loadPolicies(ptr: usize, len: usize): i32 {
  const fresh = compileSet(ptr, len);
  output.len = 0;
  if (fresh == null) {
    const errors = errorsJson();
    bufStr(output, "{\"ok\":false,\"errors\":[");
    bufBytes(output, errors.ptr, errors.len);
    bufStr(output, "]}");
    return 1;
  }
  const old = current != 0 ? changetype<PolicySet>(current) : null;
  carryCounts(old, fresh);
  if (old != null) freeSet(old);
  setCurrent(changetype<usize>(fresh));
  plansClear();
  bufBytes(output, meta.ptr, meta.len);
  return 0;
}

export function decide(len: usize): usize {
  return decideRecord(request, len, true);
}

export function explain(len: usize): usize {
  const record = decideRecord(request, len, false);
  output.len = 0;
  explainDecision(output, record);
  return record;
}

/** The instant as the first 16 bytes of a request record: f64 whole seconds, u32 nanoseconds, u32 attoseconds. */
export function parse_time(ptr: usize, len: usize): usize {
  if (!parseTime(ptr, len)) return 0;
  store<f64>(timeResult, <f64>parsedSeconds);
  store<u32>(timeResult, <u32>(parsedFraction / 1_000_000_000), 8);
  store<u32>(timeResult, <u32>(parsedFraction % 1_000_000_000), 12);
  return timeResult;
}

/** Registers a string for requests to name by number (tag 8); its id, or -1. */
export function intern(ptr: usize, len: usize): i32 {
  return internString(ptr, len);
}

/** Forgets every interned string (the host then forgets its ids). */
export function intern_reset(): void {
  internReset();
  plansClear();
}

export function state_export(): usize {
  output.len = 0;
  exportState(output);
  return output.len;
}

export function state_import(ptr: usize, len: usize): i32 {
  output.len = 0;
  return importState(ptr, len, output) ? 0 : 1;
}

// `load` would shadow the memory builtin inside this file, so it is exported under an alias.
export { loadPolicies as load };
