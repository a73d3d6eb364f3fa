// The request's context as the engine sees it (policy-language.md §1a, §3):
// JSON values, read through JSON.stringify's rules (`toJSON`, dropped
// `undefined`), checked as a whole for the limits only the host can see, and
// sent as the values at the paths the policies read.

import { jsonView, omitted } from "./engine-host.js";

const MAX_DEPTH = 64;
const MAX_STRING_BYTES = 1 << 20;
/** Strings this short cannot exceed 1 MiB of UTF-8 (3 bytes per UTF-16 unit at most). */
const SAFE_LENGTH = Math.floor(MAX_STRING_BYTES / 3);

/** Marks a path with no value. */
export const MISSING: unique symbol = Symbol("missing");

const utf8 = new TextEncoder();
const hasOwnEnumerable = Object.prototype.propertyIsEnumerable;

function tooLong(s: string): boolean {
  return s.length > SAFE_LENGTH && (s.length > MAX_STRING_BYTES || utf8.encode(s).length > MAX_STRING_BYTES);
}

function checkValue(v: unknown, depth: number): string | null {
  if (typeof v === "string") return tooLong(v) ? "the context holds a string longer than 1 MiB of UTF-8" : null;
  if (typeof v === "bigint") return "the context holds a BigInt, which has no JSON form: convert it to a number or a string";
  if (v === null || typeof v !== "object") return null;
  if (depth > MAX_DEPTH) return "the context nests more than 64 objects or arrays deep";
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const e = jsonView(v[i], String(i));
      const problem = checkValue(e, depth + 1);
      if (problem) return problem;
    }
    return null;
  }
  for (const key of Object.keys(v)) {
    if (tooLong(key)) return "the context holds a member name longer than 1 MiB of UTF-8";
    const e = jsonView((v as Record<string, unknown>)[key], key);
    if (omitted(e)) continue;
    const problem = checkValue(e, depth + 1);
    if (problem) return problem;
  }
  return null;
}

/**
 * The context as a JSON object, or (a string) the reason it is not a valid
 * one: not an object, nested more than 64 deep (the context itself is level
 * 1), a string or member name over 1 MiB, or a value with no JSON form.
 *
 * In the same pass it reads the members named `heads` (the first segments of
 * the paths the policies read, as `ContextPaths` keeps them) into `values`:
 * each as JSON sees it, or undefined when JSON has no such member (JSON has
 * no undefined, and storing it costs no write barrier, unlike a symbol). One
 * for-in over the context costs a third of listing its keys and then looking
 * each path up with an own-enumerable check (measured: 11 against 33 ns for
 * a one-member context).
 */
export function checkContext(context: unknown, heads: readonly string[] = NO_HEADS, values: unknown[] = NO_VALUES): object | string {
  for (let i = 0; i < heads.length; i++) values[i] = undefined;
  if (context === undefined) return EMPTY;
  const v = jsonView(context, "");
  if (v === null || typeof v !== "object" || Array.isArray(v)) return "`context` must be a JSON object";
  // for-in with an own-property test visits exactly the own enumerable string keys, as JSON does, at a
  // third of the cost of Object.keys. (It also walks the prototype chain: a Proxy set there runs traps
  // JSON would not, and what they throw denies the request, with the reason.)
  const n = heads.length;
  for (const key in v) {
    // Spelled out in full: V8 then folds the test away inside for-in (~25 ns a refund check), which it does
    // not do through a const holding the same function.
    if (!Object.prototype.hasOwnProperty.call(v, key)) continue;
    if (key.length > SAFE_LENGTH && tooLong(key)) return "the context holds a member name longer than 1 MiB of UTF-8";
    let e = (v as Record<string, unknown>)[key];
    // Only objects, long strings and BigInts can make a context invalid; functions and BigInts may have a
    // toJSON. (Each `typeof e === "…"` written out: V8 compiles those to type checks, a `typeof` kept in a
    // variable to a call.)
    if ((typeof e === "object" && e !== null) || typeof e === "function" || typeof e === "bigint") {
      e = jsonView(e, key);
      const problem = checkValue(e, 2);
      if (problem) return problem;
    } else if (typeof e === "string" && e.length > SAFE_LENGTH && tooLong(e)) {
      return "the context holds a string longer than 1 MiB of UTF-8";
    }
    for (let i = 0; i < n; i++) {
      if (key === heads[i]) {
        values[i] = omitted(e) ? undefined : e;
        break;
      }
    }
  }
  return v;
}

const NO_HEADS: readonly string[] = Object.freeze([]);
const NO_VALUES: unknown[] = [];

/**
 * The context paths of the policies in force (their context slots, in
 * order), arranged for `checkContext`: the distinct first segments, and for
 * each slot which of them it starts with and the segments after it.
 */
export class ContextPaths {
  readonly heads: string[];
  /** Per head, its value in the context `checkContext` read last into it (undefined: none); a nested check reads into an array of its own. */
  readonly values: unknown[];
  private readonly headOf: number[];
  private readonly rests: string[][];

  constructor(paths: readonly string[]) {
    const segments = paths.map((p) => p.split(".").slice(1));
    const index = new Map<string, number>();
    for (const s of segments) if (!index.has(s[0])) index.set(s[0], index.size);
    // Property keys come back internalized, so comparing a context's keys with them is a pointer test.
    const names: Record<string, true> = Object.create(null);
    for (const head of index.keys()) names[head] = true;
    const internalized = new Map(Object.keys(names).map((k) => [k, k]));
    this.heads = [...index.keys()].map((h) => internalized.get(h)!);
    this.values = this.heads.map(() => undefined);
    this.headOf = segments.map((s) => index.get(s[0])!);
    this.rests = segments.map((s) => s.slice(1));
  }

  get count(): number {
    return this.headOf.length;
  }

  /** Slot `i` of a context `checkContext` read into `values` with these heads: its value, or MISSING. */
  value(values: readonly unknown[], i: number): unknown {
    const v = values[this.headOf[i]];
    if (v === undefined) return MISSING;
    const rest = this.rests[i];
    return rest.length === 0 ? v : valueAt(v, rest);
  }

  /** How deep the value of slot `i` sits (its segments). */
  depth(i: number): number {
    return this.rests[i].length + 1;
  }
}

const EMPTY = Object.freeze({});

/** The value at `segments` under `value` (a context member), or MISSING. */
function valueAt(value: unknown, segments: readonly string[]): unknown {
  let v: unknown = value;
  for (const segment of segments) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return MISSING;
    const member = (v as Record<string, unknown>)[segment];
    // JSON holds own enumerable members only (not `__proto__`, nor what a prototype lends).
    if (member === undefined || !hasOwnEnumerable.call(v, segment)) return MISSING;
    v = jsonView(member, segment);
    if (omitted(v)) return MISSING;
  }
  return v;
}
