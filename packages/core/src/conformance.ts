// The TypeScript conformance runner: every TypeScript runtime runs the shared
// vectors (shared/conformance/, read in place) through the public `Warden`
// API with this one runner. It counts the checks the files hold and fails a
// run that ran fewer, so a skipped file cannot pass unnoticed.

// Only through the package's main entry, so the built runner shares its
// classes (one PolicyInvalidError, one Warden) instead of bundling copies.
import { BundleError, PolicyInvalidError, type Decision, type Warden } from "./index.js";

export interface ConformanceSource {
  /** Names of the `*.json` files directly in the conformance folder. */
  list(): Promise<string[]>;
  /** Text of a file, by its path relative to the conformance folder (`bundles/v7.json`). */
  read(path: string): Promise<string>;
}

interface BundleManifest {
  project: string;
  project_key: string;
  trusted_keys: Record<string, string>;
  cases: Array<{ file: string; note?: string; expect: { ok?: boolean; version?: number; policies?: number; error?: string; after?: string; needs?: string } }>;
}

export interface ConformanceFailure {
  file: string;
  /** Group name and case index, or the invalid document's name. */
  check: string;
  message: string;
}

export interface ConformanceResult {
  /** Checks the files hold (cases of decision files, documents of invalid-policies.json). */
  checks: number;
  /** Checks that ran. */
  ran: number;
  passed: number;
  failures: ConformanceFailure[];
}

interface Request {
  action: string;
  resource?: string;
  context?: Record<string, unknown>;
  agent?: { id?: string; trust_level?: string; tags?: string[] } | null;
  time?: string;
}

/** A vector's `expect` (conformance/README.md): members absent here are not checked. */
export interface Expect {
  allowed: boolean;
  policy: number | null;
  rule: number | null;
  effect?: string;
  reason?: string;
  indeterminate?: string[];
  rate_limit?: { policy: number; index: number } | null;
  error?: string;
}

interface DecisionFile {
  groups: Array<{ name: string; policies: unknown[]; cases: Array<{ request: Request; expect: Expect }> }>;
}

interface InvalidFile {
  invalid: Array<{ name: string; policies: unknown[]; error: { policy: number; pointer: string } }>;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** What `compareDecision` reads of a decision. */
export type ComparedDecision = Pick<Decision, "allowed" | "effect" | "policy" | "rule" | "indeterminate" | "rateLimit"> & {
  reason: string | null;
  error?: { code: string; message: string };
};

/** Differences between a decision and what a vector expects (empty when it conforms). */
export function compareDecision(d: ComparedDecision, expect: Expect): string[] {
  const problems: string[] = [];
  const check = (name: string, actual: unknown, expected: unknown): void => {
    if (!same(actual, expected)) problems.push(`${name}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  };
  check("allowed", d.allowed, expect.allowed);
  check("policy", d.policy, expect.policy);
  check("rule", d.rule, expect.rule);
  if (expect.effect !== undefined) check("effect", d.effect, expect.effect);
  if (expect.reason !== undefined) check("reason", d.reason, expect.reason);
  if (expect.indeterminate !== undefined) check("indeterminate", d.indeterminate, expect.indeterminate);
  if (expect.rate_limit !== undefined) check("rate_limit", d.rateLimit, expect.rate_limit);
  if (expect.error !== undefined) check("error", d.error?.code ?? null, expect.error);
  if (d.error && expect.error === undefined) problems.push(`unexpected request error: ${d.error.message}`);
  return problems;
}

/**
 * Runs every decision file and `invalid-policies.json` of the folder.
 * `createWarden` gives a fresh client (no policies) for each group.
 */
export async function runConformance(source: ConformanceSource, createWarden: () => Promise<Warden>): Promise<ConformanceResult> {
  const result: ConformanceResult = { checks: 0, ran: 0, passed: 0, failures: [] };
  const files = (await source.list()).filter((f) => f.endsWith(".json")).sort();
  if (files.length === 0) throw new Error("the conformance folder holds no vector files");
  const fail = (file: string, check: string, message: string): void => {
    result.failures.push({ file, check, message });
  };
  for (const file of files) {
    const doc = JSON.parse(await source.read(file)) as Partial<DecisionFile & InvalidFile>;
    if (doc.invalid) {
      result.checks += doc.invalid.length;
      for (const item of doc.invalid) {
        const warden = await createWarden();
        result.ran++;
        try {
          warden.load(item.policies as never);
          fail(file, item.name, "loaded, but must be refused");
        } catch (e) {
          if (!(e instanceof PolicyInvalidError)) {
            fail(file, item.name, `threw ${String(e)} instead of ERR_POLICY_INVALID`);
            continue;
          }
          const named = e.errors.some((x) => x.policy === item.error.policy && x.pointer === item.error.pointer);
          if (named) result.passed++;
          else fail(file, item.name, `no error names policy ${item.error.policy} at ${JSON.stringify(item.error.pointer)}; got ${JSON.stringify(e.errors)}`);
        }
      }
      continue;
    }
    if (!doc.groups) throw new Error(`${file} has neither \`groups\` nor \`invalid\``);
    for (const group of doc.groups) result.checks += group.cases.length;
    for (const group of doc.groups) {
      const warden = await createWarden();
      try {
        warden.load(group.policies as never);
      } catch (e) {
        fail(file, group.name, `policies do not load: ${String(e)}`);
        result.ran += group.cases.length;
        continue;
      }
      group.cases.forEach((c, i) => {
        result.ran++;
        const d = warden.checkRequest(c.request);
        const problems = compareDecision(d, c.expect);
        if (problems.length === 0) result.passed++;
        else fail(file, `${group.name} #${i}`, `${JSON.stringify(c.request)}: ${problems.join("; ")}`);
      });
    }
  }
  await runBundles(source, createWarden, result);
  return result;
}

/**
 * The bundle vectors (bundles/manifest.json): each case in a fresh client that
 * trusts the manifest's keys and serves its project; `after` loads first; a
 * case that `needs: allow_plain` counts twice, loading with plain bundles
 * allowed and failing with ERR_BUNDLE_DECRYPT without.
 */
async function runBundles(source: ConformanceSource, createWarden: () => Promise<Warden>, result: ConformanceResult): Promise<void> {
  const file = "bundles/manifest.json";
  const manifest = JSON.parse(await source.read(file)) as BundleManifest;
  for (const c of manifest.cases) result.checks += c.expect.needs === "allow_plain" ? 2 : 1;
  const outcome = async (name: string, allowPlain: boolean): Promise<{ version: number; policies: number } | { error: string }> => {
    const warden = await createWarden();
    const trust = { project: manifest.project, projectKey: manifest.project_key, trustedKeys: manifest.trusted_keys, allowPlain };
    const c = manifest.cases.find((x) => x.file === name)!;
    try {
      if (c.expect.after) await warden.loadBundle(await source.read(`bundles/${c.expect.after}`), trust);
      const loaded = await warden.loadBundle(await source.read(`bundles/${name}`), trust);
      return { version: loaded.version, policies: warden.metadata?.policies.length ?? 0 };
    } catch (e) {
      if (e instanceof BundleError || e instanceof PolicyInvalidError) return { error: e.code };
      return { error: `threw ${String(e)}` };
    }
  };
  for (const c of manifest.cases) {
    const check = async (allowPlain: boolean, expected: { version: number; policies: number } | { error: string }, label: string): Promise<void> => {
      result.ran++;
      const got = await outcome(c.file, allowPlain);
      if (same(got, expected)) result.passed++;
      else result.failures.push({ file: `bundles/${c.file}`, check: label, message: `expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}` });
    };
    const e = c.expect;
    const success = e.ok ? { version: e.version!, policies: e.policies! } : { error: e.error! };
    if (e.needs === "allow_plain") {
      await check(true, success, `${c.note ?? c.file} (plain bundles allowed)`);
      await check(false, { error: "ERR_BUNDLE_DECRYPT" }, `${c.note ?? c.file} (plain bundles not allowed)`);
    } else await check(false, success, c.note ?? c.file);
  }
}

