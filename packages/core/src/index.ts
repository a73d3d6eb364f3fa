export { Warden } from "./warden.js";
export type {
  Agent, CheckOptions, Explanation, ExplainedRule, PatternMatch, PolicyDocument, PolicyInput, RecoveredEvent, WardenOptions,
} from "./warden.js";
export { PolicyViolationError } from "./decision.js";
export type { Decision, Effect, RateLimitRef } from "./decision.js";
export { WardenError, PolicyInvalidError } from "./errors.js";
export type { ErrorCode, PolicyError } from "./errors.js";
export type { PolicyMetadata, WasmSource } from "./engine-host.js";
