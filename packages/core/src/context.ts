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
 */
export function checkContext(context: unknown): object | string {
  if (context === undefined) return EMPTY;
  const v = jsonView(context, "");
  if (v === null || typeof v !== "object" || Array.isArray(v)) return "`context` must be a JSON object";
  for (const key of Object.keys(v)) {
    if (key.length > SAFE_LENGTH && tooLong(key)) return "the context holds a member name longer than 1 MiB of UTF-8";
    const e = (v as Record<string, unknown>)[key];
    // Only objects, long strings and BigInts can make a context invalid.
    const t = typeof e;
    if ((t === "object" && e !== null) || t === "bigint" || (t === "string" && (e as string).length > SAFE_LENGTH)) {
      const problem = checkValue(jsonView(e, key), 2);
      if (problem) return problem;
    }
  }
  return v;
}

const EMPTY = Object.freeze({});

/** The value at a context path (its segments after `context.`), or MISSING. */
export function valueAt(context: object, segments: readonly string[]): unknown {
  let v: unknown = context;
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
