// Shared vitest settings. When WARDEN_TEST_REPORT_DIR is set (scripts/test
// sets it), each suite also writes a JSON report there, which
// scripts/sum-test-reports.mjs adds up into the final "N passed, N failed".
import { join } from "node:path";

export function reporting(suite: string) {
  const dir = process.env.WARDEN_TEST_REPORT_DIR;
  if (!dir) return {};
  return {
    reporters: ["default", "json"],
    outputFile: { json: join(dir, `${suite}.vitest.json`) },
  };
}
