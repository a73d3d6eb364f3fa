import { WardenError } from "./errors.js";

export type Effect = "allow" | "deny" | "escalate";

/** Identifies a rate limit: its policy's index and its index in `rate_limits`. */
export interface RateLimitRef {
  policy: number;
  index: number;
}

/**
 * The answer to one request (policy-language.md §5). `check` always returns
 * one: an invalid request is a deny with `error` set.
 */
export interface Decision {
  allowed: boolean;
  /** `escalate`: not allowed now; a person may approve this one request. */
  effect: Effect;
  /** Index of the policy of the winning rule, or null when no rule won. */
  policy: number | null;
  policyName: string | null;
  /** Index of the winning rule in its policy, or null. */
  rule: number | null;
  ruleName: string | null;
  /** The rule's own reason, the rate limit's, or a generated text (see `reasonGiven`). */
  reason: string;
  /** Whether `reason` was written by the policy author (false: generated). */
  reasonGiven: boolean;
  /** Paths whose values made conditions indeterminate, sorted by code point. */
  indeterminate: readonly string[];
  /** The rate limit that denied the request, if one did. */
  rateLimit: RateLimitRef | null;
  /** Version of the bundle in force, when policies came from one. */
  bundleVersion: number | null;
  /** Whether hosts write an audit record for this decision (the rule's `log`). */
  log: boolean;
  /** The only context paths that go into the audit record, when the rule names them. */
  logContext: readonly string[] | null;
  /** Whether hosts raise an alert for this decision (the rule's `alert`). */
  alert: boolean;
  /** Set when the request was invalid (spec §1a); the decision is then a deny. */
  error?: { code: "ERR_REQUEST_INVALID" | "ERR_ENGINE"; message: string };
}

/** Thrown by `enforce` when a decision is not an allow. `decision.effect` tells a denial from an escalation. */
export class PolicyViolationError extends WardenError {
  constructor(readonly decision: Decision) {
    super(
      "ERR_POLICY_VIOLATION",
      decision.effect === "escalate" ? `escalation required: ${decision.reason}` : `denied: ${decision.reason}`,
      decision,
    );
    this.name = "PolicyViolationError";
  }
}
