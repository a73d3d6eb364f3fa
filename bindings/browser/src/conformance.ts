// The TypeScript conformance runner, re-exported for the standalone build (pages that test in place).
export { runConformance, compareDecision } from "@warden/core/conformance";
export type { ConformanceResult, ConformanceSource, ConformanceFailure } from "@warden/core/conformance";
