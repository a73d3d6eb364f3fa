export { Warden } from "./warden.js";
export type {
  Agent, ApprovalHandler, ApprovalRequest, CheckOptions, Explanation, ExplainedRule, PatternMatch, WardenEvents, PolicyDocument, PolicyInput, RecoveredEvent, WardenOptions,
} from "./warden.js";
export { PolicyViolationError } from "./decision.js";
export { REDACTED } from "./audit.js";
export type { AuditRecord, AuditSink } from "./audit.js";
export { canonicalJson, requestDigest } from "./approval.js";
export type { Decision, Effect, RateLimitRef } from "./decision.js";
export { WardenError, PolicyInvalidError } from "./errors.js";
export { BundleError, parseBundle, bundleHeader, fromBase64url, toBase64url } from "./bundle-format.js";
export type { BundleFile } from "./bundle-format.js";
export { buildBundle, signingKeyFromSeed } from "./bundle-crypto.js";
export type { BundleSpec } from "./bundle-crypto.js";
export type { BundleTrust } from "./bundle-loader.js";
export type { BundleCache, BundleSource, BundleStatus, BundleUpdate, ConnectOptions } from "./bundle-client.js";
export { cacheOption } from "./bundle-client.js";
export type { ErrorCode, PolicyError } from "./errors.js";
export type { PolicyMetadata, WasmSource } from "./engine-host.js";
