import { WardenError } from "./errors.js";

export type Effect = "allow" | "deny" | "escalate";

/** Identifies a rate limit: its policy's index and its index in `rate_limits`. */
export interface RateLimitRef {
  policy: number;
  index: number;
}

/**
 * The answer to one request (policy-language.md §5). `check` always returns
 * one: an invalid request is a deny with `error` set. Decisions are immutable
 * (frozen where they are shared between requests).
 */
export interface Decision {
  readonly allowed: boolean;
  /** `escalate`: not allowed now; a person may approve this one request. */
  readonly effect: Effect;
  /** Index of the policy of the winning rule, or null when no rule won. */
  readonly policy: number | null;
  readonly policyName: string | null;
  /** Index of the winning rule in its policy, or null. */
  readonly rule: number | null;
  readonly ruleName: string | null;
  /** The rule's own reason, the rate limit's, or a generated text (see `reasonGiven`). */
  readonly reason: string;
  /** Whether `reason` was written by the policy author (false: generated). */
  readonly reasonGiven: boolean;
  /** Paths whose values made conditions indeterminate, sorted by code point. */
  readonly indeterminate: readonly string[];
  /** The rate limit that denied the request, if one did. */
  readonly rateLimit: RateLimitRef | null;
  /** Version of the bundle in force, when policies came from one. */
  readonly bundleVersion: number | null;
  /** Whether hosts write an audit record for this decision (the rule's `log`). */
  readonly log: boolean;
  /** The only context paths that go into the audit record, when the rule names them. */
  readonly logContext: readonly string[] | null;
  /** Whether hosts raise an alert for this decision (the rule's `alert`). */
  readonly alert: boolean;
  /** Who approved this escalated request (`authorize`, spec §8), when someone did. */
  readonly approvedBy?: string;
  /** The request digest the approval was for. */
  readonly approvalDigest?: string;
  /** Set when the request was invalid (spec §1a); the decision is then a deny. */
  readonly error?: { code: "ERR_REQUEST_INVALID" | "ERR_ENGINE"; message: string };
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
