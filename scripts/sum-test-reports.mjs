// Adds up the test reports in a folder and prints the last line of a test
// run: "N passed, N failed". Reads vitest JSON reports (*.vitest.json), JUnit
// XML (*.junit.xml, from pytest) and `go test -json` streams (*.gotest.json),
// and counts each suite listed in `expected-suites` that left no report as
// one failure, so a suite that crashes before reporting cannot pass silently.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";

const [dir, ...expected] = process.argv.slice(2);
let passed = 0;
let failed = 0;
const seen = new Set();
/** The value of attribute `name` in an XML start tag, as a number (0 when absent). */
const attribute = (tag, name) => Number(new RegExp(`\\s${name}="(\\d+)"`).exec(tag)?.[1] ?? 0);

for (const file of existsSync(dir) ? readdirSync(dir) : []) {
  if (file.endsWith(".junit.xml")) {
    seen.add(file.replace(/\.junit\.xml$/, ""));
    for (const [tag] of readFileSync(join(dir, file), "utf8").matchAll(/<testsuite\s[^>]*>/g)) {
      const bad = attribute(tag, "failures") + attribute(tag, "errors");
      passed += attribute(tag, "tests") - bad - attribute(tag, "skipped");
      failed += bad;
    }
    continue;
  }
  if (file.endsWith(".gotest.json")) {
    seen.add(file.replace(/\.gotest\.json$/, ""));
    // One event a line; a package that fails with no failed test (it did not build, or crashed) is one failure.
    const failedIn = new Set();
    const packageFailed = new Set();
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      const e = JSON.parse(line);
      if (e.Test && e.Action === "pass") passed++;
      else if (e.Test && e.Action === "fail") {
        failed++;
        failedIn.add(e.Package);
      } else if (!e.Test && e.Action === "fail") packageFailed.add(e.Package);
    }
    for (const p of packageFailed) if (!failedIn.has(p)) failed++;
    continue;
  }
  if (!file.endsWith(".vitest.json")) continue;
  const report = JSON.parse(readFileSync(join(dir, file), "utf8"));
  seen.add(file.replace(/\.vitest\.json$/, ""));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  // A file that failed to load has no tests but is a failure.
  for (const r of report.testResults ?? []) if (r.status === "failed" && r.assertionResults.length === 0) failed++;
}
for (const suite of expected) {
  if (!seen.has(suite)) {
    console.error(`suite \`${suite}\` left no report: counted as failed`);
    failed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
