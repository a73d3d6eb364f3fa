// `warden test FILE...`: policy unit tests, in the format of the shared
// conformance vectors — groups of policies (inline, or `policy_files` paths
// relative to the test file) and cases with `expect` — reported case by
// case, with the explanation of each failure, as `opa test` does.
import { dirname, resolve } from "node:path";
import { Warden, PolicyInvalidError, formatError, type LocatedPolicyError } from "@warden/node";
import { compareDecision, type Expect } from "@warden/core/conformance";
import { readDataFile } from "./data-file.js";
import { formatExplanation } from "./decision-format.js";
import { parse, UsageError } from "./usage.js";

interface TestCase {
  name?: string;
  request: unknown;
  expect: Expect;
}

interface TestGroup {
  name: string;
  policies?: unknown[];
  policy_files?: string[];
  cases: TestCase[];
}

/** What is wrong with a test file's shape, or null. */
function shapeProblem(doc: unknown): string | null {
  const groups = (doc as { groups?: unknown })?.groups;
  if (!Array.isArray(groups)) return "a test file holds `groups`: a list of {name, policies or policy_files, cases}";
  for (const [i, g] of groups.entries()) {
    const group = g as Partial<TestGroup>;
    const where = `group ${i}${typeof group?.name === "string" ? ` (${group.name})` : ""}`;
    if (typeof group?.name !== "string") return `${where} needs a \`name\``;
    if ((group.policies === undefined) === (group.policy_files === undefined)) return `${where} needs \`policies\` or \`policy_files\`, one of them`;
    if (group.policies !== undefined && !Array.isArray(group.policies)) return `${where}: \`policies\` must be a list of policy documents`;
    if (group.policy_files !== undefined && !(Array.isArray(group.policy_files) && group.policy_files.every((f) => typeof f === "string"))) {
      return `${where}: \`policy_files\` must be a list of paths`;
    }
    if (!Array.isArray(group.cases)) return `${where} needs \`cases\`: a list of {request, expect}`;
    for (const [k, c] of group.cases.entries()) {
      const tc = c as Partial<TestCase>;
      if (tc?.request === undefined || typeof tc.expect !== "object" || tc.expect === null) return `${where}, case ${k + 1}: a case has \`request\` and \`expect\``;
      if (typeof tc.expect.allowed !== "boolean") return `${where}, case ${k + 1}: \`expect\` needs \`allowed\``;
    }
  }
  return null;
}

export async function runTests(args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  if (positionals.length === 0) throw new UsageError("test needs at least one test file");
  let passed = 0;
  let failed = 0;
  let broken = false;
  for (const file of positionals) {
    console.log(file);
    let doc: unknown;
    try {
      doc = await readDataFile(file);
    } catch (e) {
      console.log(`  ERROR ${(e as Error).message}`);
      broken = true;
      continue;
    }
    const problem = shapeProblem(doc);
    if (problem) {
      console.log(`  ERROR ${problem}`);
      broken = true;
      continue;
    }
    for (const group of (doc as { groups: TestGroup[] }).groups) {
      console.log(`  ${group.name}`);
      const warden = await Warden.create();
      try {
        if (group.policy_files) await warden.loadFile(group.policy_files.map((f) => resolve(dirname(file), f)));
        else warden.load(group.policies as never);
      } catch (e) {
        if (!(e instanceof PolicyInvalidError)) throw e;
        console.log("    ERROR the policies do not load:");
        for (const err of e.errors) console.log(`          ${formatError(err as LocatedPolicyError)}`);
        failed += group.cases.length;
        continue;
      }
      group.cases.forEach((c, i) => {
        const label = `#${i + 1}${c.name ? ` ${c.name}` : ""}`;
        // Explained before it is decided, so the explanation sees the state the decision saw.
        const explanation = warden.explainRequest(c.request);
        const d = warden.checkRequest(c.request);
        const problems = compareDecision(d, c.expect);
        if (problems.length === 0) {
          passed++;
          console.log(`    PASS  ${label}`);
          return;
        }
        failed++;
        console.log(`    FAIL  ${label}  ${JSON.stringify(c.request)}`);
        for (const p of problems) console.log(`          ${p}`);
        console.log(formatExplanation(explanation).replace(/^/gm, "        "));
      });
    }
  }
  const total = passed + failed;
  console.log(`${"-".repeat(72)}\nPASS: ${passed}/${total}${failed > 0 ? `\nFAIL: ${failed}/${total}` : ""}`);
  return broken ? 2 : failed > 0 ? 1 : 0;
}
