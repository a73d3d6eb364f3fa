// Warden side by side with the engines users would pick instead. Builds OPA's
// policy module, then measures each engine in a process of its own, one after
// another (engine-process.mjs: every decision checked, then timed), then cold
// starts and memory in fresh processes, profiles Warden where it misses a
// target, runs the Python and Go bindings' benchmarks where they exist, and
// writes benchmarks/results/ (results.json, REPORT.md, two SVG charts).
//
//   node compare/run.mjs            (part of `pnpm bench`)
import { spawnSync } from "node:child_process";
import { cpus, freemem, loadavg, release, totalmem, type } from "node:os";
import { mkdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { workloads } from "../workloads.mjs";
import { barChart, lineChart } from "./charts.mjs";
import { goBindingBench, pythonBindingBench } from "./bindings.mjs";
import { profile } from "./profile.mjs";
import { evaluateTargets, renderReport } from "./report.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const benchmarks = join(here, "..");
const repo = join(benchmarks, "..");
const build = join(here, ".build");
const resultsDir = join(benchmarks, "results");
const ORDER = ["warden", "warden-uncached", "baseline", "casl", "casbin", "opa", "cedar"];
const PEERS = ["cedar", "casbin", "casl", "opa"];
const COLD_ROUNDS = 2;

const log = (msg) => console.log(`[compare] ${msg}`);
const started = performance.now();
mkdirSync(build, { recursive: true });
mkdirSync(resultsDir, { recursive: true });

// ---------------------------------------------------------------------------
// The machine, and how busy it was with other work during the run.

function cpuTicks() {
  const [, ...fields] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
  const v = fields.map(Number);
  const idle = v[3] + v[4];
  return { busy: v.reduce((a, b) => a + b, 0) - idle - (v[8] ?? 0) - (v[9] ?? 0), idle };
}

/** This process's CPU ticks and those of the children it has waited for. */
function ownTicks() {
  const fields = readFileSync("/proc/self/stat", "utf8").replace(/^.*\)\s/, "").split(" ").map(Number);
  return fields[11] + fields[12] + fields[13] + fields[14]; // utime stime cutime cstime
}

function machine() {
  const info = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? cpus()[0]?.model ?? "unknown";
  const mhz = /^cpu MHz\s*:\s*(.*)$/m.exec(info)?.[1];
  return {
    cpu: model.trim(), mhz: mhz ? Number(mhz) : null, cores: cpus().length,
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), freeMemoryGiB: +(freemem() / 2 ** 30).toFixed(1),
    os: `${type()} ${release()}`, node: process.version, v8: process.versions.v8,
    loadavgAtStart: loadavg().map((x) => +x.toFixed(2)),
  };
}

function git(args) {
  const r = spawnSync("git", args, { cwd: repo, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

const cpu0 = cpuTicks();
const own0 = ownTicks();
const host = machine();
log(`${host.cpu}, ${host.cores} cores, Node ${host.node}`);

// ---------------------------------------------------------------------------
// OPA: Rego → wasm through OPA's Go compiler (compare/opa), when Go is here.

function buildOpa() {
  const goVersion = spawnSync("go", ["version"], { encoding: "utf8" });
  if (goVersion.status !== 0) return { ok: false, reason: "the `go` command is not installed, so OPA's compiler (a Go module) cannot be built" };
  const t0 = performance.now();
  const compiler = join(build, "opa-wasm-compiler");
  const b = spawnSync("go", ["build", "-o", compiler, "."], { cwd: join(here, "opa"), encoding: "utf8", timeout: 600_000 });
  if (b.status !== 0) return { ok: false, reason: `building compare/opa failed: ${(b.stderr || String(b.error)).trim().split("\n").slice(-5).join(" ")}` };
  const buildSeconds = (performance.now() - t0) / 1000;
  const wasm = join(build, "policy.wasm");
  const t1 = performance.now();
  const c = spawnSync(compiler, ["-policies", join(here, "opa/policies"), "-out", wasm], { encoding: "utf8", timeout: 300_000 });
  if (c.status !== 0) return { ok: false, reason: `compiling the Rego policies failed: ${c.stderr.trim()}` };
  return {
    ok: true, wasm, version: c.stdout.trim(), goVersion: goVersion.stdout.trim(),
    buildSeconds: +buildSeconds.toFixed(1), compileMs: +(performance.now() - t1).toFixed(0),
  };
}

log("building OPA's policy module (compare/opa, go build)");
const opa = buildOpa();
log(opa.ok ? `OPA ${opa.version}: policy.wasm in ${opa.compileMs} ms (compiler built in ${opa.buildSeconds} s)` : `OPA skipped: ${opa.reason}`);
const env = { ...process.env, ...(opa.ok ? { OPA_POLICY_WASM: opa.wasm, OPA_VERSION: opa.version } : {}) };

// ---------------------------------------------------------------------------
// Each engine in its own process, one after another.

function runEngine(id, args, what) {
  const out = join(build, `${id}-${what}.json`);
  rmSync(out, { force: true });
  const r = spawnSync(process.execPath, ["--expose-gc", join(here, "engine-process.mjs"), id, ...args, "--out", out], {
    env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 600_000,
  });
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr);
    throw new Error(`${id} (${what}) failed${r.error ? `: ${r.error}` : ""}: ${(r.stderr || "").trim().split("\n").find((l) => /Error/.test(l)) ?? ""}`);
  }
  return JSON.parse(readFileSync(out, "utf8"));
}

const list = workloads();
const sizes = list.filter((w) => w.rules).map((w) => w.id);
const engines = [];
const decisions = {};
const loads = {};
const cold = {};
for (const id of ORDER) {
  const adapter = (await import(`./engines/${id}.mjs`)).default;
  const entry = { id, label: adapter.label, packageName: adapter.packageName, wasm: adapter.wasm, call: adapter.call, expressed: adapter.expressed };
  engines.push(entry);
  if (id === "opa" && !opa.ok) {
    entry.skipped = opa.reason;
    continue;
  }
  const t0 = performance.now();
  const main = runEngine(id, [], "main");
  entry.version = id.startsWith("warden") ? `${main.version} (this workspace, commit ${git(["rev-parse", "--short", "HEAD"])})` : main.version;
  entry.wasmBytes = main.wasmBytes;
  decisions[id] = main.decisions;
  loads[id] = main.loads;
  log(`${adapter.label}: every decision checked; timed in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  // The same package and wasm as Warden's: its cold start is Warden's.
  if (id === "warden-uncached") continue;
  const t1 = performance.now();
  const rounds = [];
  for (let round = 0; round < COLD_ROUNDS; round++) for (const w of sizes) rounds.push(runEngine(id, ["--cold", w], `cold-${w}`));
  cold[id] = summariseCold(rounds);
  log(`${adapter.label}: ${rounds.length} cold starts in ${((performance.now() - t1) / 1000).toFixed(0)} s`);
}

function median(values) {
  const v = values.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)] : null;
}

function summariseCold(rounds) {
  const memory = {};
  for (const w of sizes) {
    const mine = rounds.filter((r) => r.workload === w);
    memory[w] = {
      rss: median(mine.map((r) => r.loaded.rss)),
      heapAndExternal: median(mine.map((r) => r.loaded.heap + r.loaded.external)),
      firstLoadMs: median(mine.map((r) => r.firstLoadMs)),
    };
  }
  return {
    samples: rounds.length,
    importMs: median(rounds.map((r) => r.importMs)),
    instantiateMs: median(rounds.map((r) => r.instantiateMs)),
    instantiateMsAll: rounds.map((r) => r.instantiateMs).filter((x) => x !== null).map((x) => +x.toFixed(2)),
    instance: { rss: median(rounds.map((r) => r.instance.rss)), heapAndExternal: median(rounds.map((r) => r.instance.heap + r.instance.external)) },
    memory,
  };
}

// ---------------------------------------------------------------------------
// Targets; a CPU profile of Warden on every workload where it misses one.

const peers = PEERS.filter((p) => decisions[p]);
const targets = evaluateTargets({ decisions, list, peers, subject: "warden" });
// The same targets for every check through the engine (no kept decisions); profiles follow its misses.
const uncachedTargets = evaluateTargets({ decisions, list, peers, subject: "warden-uncached" });
const missedWorkloads = [...new Set([...targets, ...uncachedTargets].filter((t) => !t.met).flatMap((t) => t.workloads))];
const profiles = [];
for (const w of missedWorkloads) {
  log(`profiling Warden (no kept decisions) on ${w} (node --cpu-prof), and timing warden.wasm's decide alone`);
  const p = profile("warden-uncached", w, join(build, `profile-${w}`), 4);
  const split = spawnSync(process.execPath, ["--expose-gc", join(here, "warden-split.mjs"), w], { env, encoding: "utf8", timeout: 120_000 });
  p.split = split.status === 0 ? JSON.parse(split.stdout.trim().split("\n").pop()) : { unavailable: `warden-split.mjs failed: ${split.stderr.trim().split("\n").slice(-3).join(" ")}` };
  profiles.push(p);
}

// ---------------------------------------------------------------------------
// The bindings' own benchmarks, when they exist.

log("Go binding: go test -bench, where bindings/go has benchmarks");
const goBench = goBindingBench(repo);
log(`Go binding: ${goBench.status}`);
log("Python binding: bindings/python/bench.py, where it exists");
const pyBench = pythonBindingBench(repo);
log(`Python binding: ${pyBench.status}`);

// ---------------------------------------------------------------------------

const cpu1 = cpuTicks();
const own1 = ownTicks();
const wall = cpu1.busy - cpu0.busy + cpu1.idle - cpu0.idle;
const others = Math.max(0, cpu1.busy - cpu0.busy - (own1 - own0));
host.loadavgAtEnd = loadavg().map((x) => +x.toFixed(2));
host.otherWorkCpuShare = wall > 0 ? +(others / wall).toFixed(3) : null;
host.shared = host.otherWorkCpuShare !== null && host.otherWorkCpuShare > 0.05;

const results = {
  generated: new Date().toISOString(),
  commit: git(["rev-parse", "--short", "HEAD"]),
  // Changes to the source measured; the results this run rewrites do not count.
  dirty: Boolean(git(["status", "--porcelain", "--", ".", ":(exclude)benchmarks/results"])),
  command: "pnpm bench (benchmarks: node compare/run.mjs)",
  seconds: +((performance.now() - started) / 1000).toFixed(0),
  machine: host,
  opa: opa.ok ? { version: opa.version, go: opa.goVersion, compilerBuildSeconds: opa.buildSeconds, regoToWasmMs: opa.compileMs } : { skipped: opa.reason },
  engines,
  workloads: list.map((w) => ({ id: w.id, label: w.label, rules: w.rules ?? w.policies.reduce((n, p) => n + p.rules.length, 0), requests: w.requests.length })),
  decisions, loads, cold, targets, uncachedTargets, profiles,
  bindings: { go: goBench, python: pyBench },
};
writeFileSync(join(resultsDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);

const measured = engines.filter((e) => decisions[e.id]);
const short = { "support-bot": "support-bot (5 rules)", refund: "refund (3 rules)" };
writeFileSync(join(resultsDir, "latency-by-workload.svg"), barChart({
  title: "Median time per decision, by workload",
  subtitle: `${host.cpu}, ${host.cores} cores, Node ${host.node}${host.shared ? ", shared machine" : ""}, ${results.generated.slice(0, 10)}`,
  engines: measured,
  workloads: list.map((w) => ({ id: w.id, label: w.label, short: short[w.id] ?? `${w.rules.toLocaleString("en-US")} rules` })),
  value: (e, w) => decisions[e]?.[w]?.p50,
}));
const ruleCounts = list.filter((w) => w.rules).map((w) => w.rules);
const wardenTen = decisions.warden?.["rules-10"]?.p50;
writeFileSync(join(resultsDir, "latency-vs-rules.svg"), lineChart({
  title: "Median time per decision against rule count",
  subtitle: "90 % `tool/svc{i}/*`, 10 % literal `tool/lit{i}`; 64 resources spread across the rules, and a miss",
  engines: measured,
  sizes: ruleCounts,
  value: (e, n) => decisions[e]?.[`rules-${n}`]?.p50,
  guide: wardenTen ? { value: 2 * wardenTen, label: "Warden's flatness bound: 2× its 10-rule median" } : null,
}));
writeFileSync(join(resultsDir, "REPORT.md"), renderReport(results));
log(`wrote benchmarks/results/ (results.json, REPORT.md, latency-by-workload.svg, latency-vs-rules.svg) in ${results.seconds} s`);
for (const t of targets) log(`${t.met ? "met   " : "missed"} ${t.name}${t.met ? "" : `: ${t.detail}`}`);
for (const t of uncachedTargets) log(`${t.met ? "met   " : "missed"} (no kept decisions) ${t.name}${t.met ? "" : `: ${t.detail}`}`);
