// Audit records (policy-language.md §1: a policy's `audit`, a rule's `log`,
// `log_context` and `alert`): whether a decision is recorded, and what of
// its request goes into the record. The one place for both; runtimes only
// say where records go (a sink).
import type { Decision } from "./decision.js";
import type { PolicyMetadata } from "./engine-host.js";

/** What a host writes for a decision it records: the decision, and the request as far as the policies allow. */
export interface AuditRecord {
  /** When: the request's own time when it gave one, else the clock's (ISO 8601, UTC). */
  at: string;
  action: unknown;
  resource: unknown;
  /** The agent's `id`, `trust_level` and `tags`, as the engine read them (null: no agent). */
  agent: { id?: unknown; trust_level?: unknown; tags?: unknown } | null;
  /**
   * The context as JSON would write it: only the paths of the rule's
   * `log_context` when it names them, and every path of any policy's
   * `audit.redact` replaced by `"[redacted]"`. Null when there is none, or
   * when it has no JSON form.
   */
  context: Record<string, unknown> | null;
  allowed: boolean;
  effect: Decision["effect"];
  policy: number | null;
  policyName: string | null;
  rule: number | null;
  ruleName: string | null;
  reason: string;
  indeterminate: readonly string[];
  rateLimit: Decision["rateLimit"];
  bundleVersion: number | null;
  alert: boolean;
  approvedBy?: string;
  approvalDigest?: string;
  error?: Decision["error"];
}

/** Where records go: called once per recorded decision, synchronously; what it throws is an `auditError` event. */
export type AuditSink = (record: AuditRecord) => void;

export const REDACTED = "[redacted]";

/**
 * Whether a decision is recorded: its rule's `log`, then its policy's
 * `audit.log_allowed` for an allow or `log_denied` for a deny or an
 * escalation (approved or not: the approval is what the record is for).
 */
export function isRecorded(d: Decision, meta: PolicyMetadata | null): boolean {
  if (!d.log) return false;
  const audit = d.policy === null || meta === null ? null : meta.policies[d.policy]?.audit;
  if (!audit) return true;
  return d.effect === "allow" ? audit.log_allowed : audit.log_denied;
}

/** The `audit.redact` paths of every policy in force, each once: a path one policy protects is kept out of every record. */
export function redactedPaths(meta: PolicyMetadata): string[] {
  const paths = new Set<string>();
  for (const p of meta.policies) for (const path of p.audit?.redact ?? []) paths.add(path);
  return [...paths];
}

/** The JSON form of a value (a copy the caller can no longer change), or undefined when it has none. */
function jsonCopy(value: unknown): unknown {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * A request's context or agent as JSON reads it, made once for an observed
 * check: a plain copy (its `toJSON` and getters run here, once, and the check
 * and the record read the same values), or the value itself when it has no
 * JSON form (the check then says why).
 */
export function readOnce(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  return jsonCopy(value) ?? value;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Segments of a path of `log_context` or `audit.redact`: dotted, from the context (`user.email` is `context.user.email`). */
const segmentsOf = (path: string) => path.split(".");

function pick(from: Record<string, unknown>, paths: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of paths) {
    const segments = segmentsOf(path);
    let v: unknown = from;
    for (const s of segments) v = isObject(v) && Object.prototype.hasOwnProperty.call(v, s) ? v[s] : undefined;
    if (v === undefined) continue;
    let at = out;
    for (const s of segments.slice(0, -1)) at = isObject(at[s]) ? (at[s] as Record<string, unknown>) : (at[s] = {});
    at[segments[segments.length - 1]] = v;
  }
  return out;
}

function redact(context: Record<string, unknown>, paths: readonly string[]): void {
  for (const path of paths) {
    const segments = segmentsOf(path);
    let at: unknown = context;
    for (const s of segments.slice(0, -1)) at = isObject(at) ? at[s] : undefined;
    const last = segments[segments.length - 1];
    if (isObject(at) && Object.prototype.hasOwnProperty.call(at, last)) at[last] = REDACTED;
  }
}

/** RFC 3339 date-time with an offset: only such a text is converted (JavaScript reads looser ones in the local zone). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * The instant of a request's `time` option as ISO 8601 in UTC: the clock's
 * when there is none; the text itself when it is not RFC 3339 JavaScript
 * reads (a leap second, say); the clock's when it is not even text.
 */
function instantText(time: unknown, now: () => number): string {
  if (time === undefined || time === null) return new Date(now()).toISOString();
  const date = time instanceof Date ? time : typeof time === "number" ? new Date(time)
    : typeof time === "string" && RFC3339.test(time) ? new Date(time) : null;
  if (date !== null && !Number.isNaN(date.getTime())) return date.toISOString();
  return typeof time === "string" ? time : new Date(now()).toISOString();
}

/** The record of a decision made for this request. */
export function auditRecord(
  d: Decision, request: { action: unknown; resource: unknown; context: unknown; agent: unknown; time: unknown },
  now: () => number, redacted: readonly string[],
): AuditRecord {
  const copied = request.context === undefined || request.context === null ? undefined : jsonCopy(request.context);
  let context: Record<string, unknown> | null = isObject(copied) ? copied : null;
  if (context !== null && d.logContext !== null) context = pick(context, d.logContext);
  if (context !== null) redact(context, redacted);
  const agentCopy = jsonCopy(request.agent);
  const agent = isObject(agentCopy)
    ? Object.fromEntries(["id", "trust_level", "tags"].filter((k) => k in agentCopy).map((k) => [k, agentCopy[k]]))
    : null;
  const record: AuditRecord = {
    at: instantText(request.time, now),
    // Copies, as JSON writes them (an action that is not a string comes from an invalid request).
    action: typeof request.action === "string" ? request.action : jsonCopy(request.action) ?? null,
    resource: typeof request.resource === "string" ? request.resource : jsonCopy(request.resource) ?? null,
    agent,
    context,
    allowed: d.allowed,
    effect: d.effect,
    policy: d.policy,
    policyName: d.policyName,
    rule: d.rule,
    ruleName: d.ruleName,
    reason: d.reason,
    indeterminate: d.indeterminate,
    rateLimit: d.rateLimit,
    bundleVersion: d.bundleVersion,
    alert: d.alert,
  };
  if (d.approvedBy !== undefined) record.approvedBy = d.approvedBy;
  if (d.approvalDigest !== undefined) record.approvalDigest = d.approvalDigest;
  if (d.error !== undefined) record.error = d.error;
  return record;
}
