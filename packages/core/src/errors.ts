/**
 * Every error Warden throws, with a stable `code` to switch on; messages are
 * for people. `detail` carries structured data (the load errors, the decision).
 */
export type ErrorCode =
  | "ERR_BUNDLE_FORMAT"
  | "ERR_BUNDLE_PROJECT"
  | "ERR_BUNDLE_UNKNOWN_KEY"
  | "ERR_BUNDLE_SIGNATURE"
  | "ERR_BUNDLE_STALE"
  | "ERR_BUNDLE_DECRYPT"
  | "ERR_BUNDLE_FETCH"
  | "ERR_NOT_CONNECTED"
  | "ERR_POLICY_INVALID"
  | "ERR_POLICY_VIOLATION"
  | "ERR_REQUEST_INVALID"
  | "ERR_ENGINE"
  | "ERR_STATE_INVALID"
  | "ERR_TIMEZONE_UNSUPPORTED"
  | "ERR_WASM";

export class WardenError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = "WardenError";
  }
}

/** One problem the engine found in a policy set (engine/ABI.md §Loading). */
export interface PolicyError {
  /** Index of the policy in the set, or -1 outside any policy. */
  policy: number;
  /** RFC 6901 JSON pointer inside that policy. */
  pointer: string;
  message: string;
  /** Byte offset in the JSON text, for syntax and encoding errors. */
  offset?: number;
}

/** Thrown by `load` when the policies do not load; `errors` lists every problem. */
export class PolicyInvalidError extends WardenError {
  constructor(readonly errors: PolicyError[]) {
    super("ERR_POLICY_INVALID", summarize(errors), errors);
    this.name = "PolicyInvalidError";
  }
}

function summarize(errors: PolicyError[]): string {
  const first = errors[0];
  const where = first ? `policy ${first.policy}${first.pointer ? ` at ${first.pointer}` : ""}: ${first.message}` : "unknown error";
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
  return `policies do not load: ${where}${more}`;
}
