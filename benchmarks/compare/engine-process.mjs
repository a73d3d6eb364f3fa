// One engine's measurements, in a process of its own (compare/run.mjs starts
// one per engine, one after another). Writes its figures as JSON to --out.
//
//   node --expose-gc compare/engine-process.mjs <engine> --out f.json
//       checks every decision of every workload, then times the decisions
//       (mitata) and the loads
//   node --expose-gc compare/engine-process.mjs <engine> --cold <workload> --out f.json
//       in a fresh process: import, instantiate, one load, and the memory
//       that the instance and the loaded policy hold
//   node --cpu-prof compare/engine-process.mjs <engine> --profile <workload> --seconds 4
//       the decisions of one workload in a loop, for a CPU profile
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { measure, do_not_optimize } from "mitata";
import { workloads } from "../workloads.mjs";

const { positionals, values: opts } = parseArgs({
  allowPositionals: true,
  options: { out: { type: "string" }, cold: { type: "string" }, profile: { type: "string" }, seconds: { type: "string", default: "4" } },
});
const engine = (await import(`./engines/${positionals[0]}.mjs`)).default;
const all = workloads();
const byId = (id) => {
  const w = all.find((x) => x.id === id);
  if (!w) throw new Error(`no workload ${id}`);
  return w;
};

const gc = () => {
  if (!globalThis.gc) throw new Error("run with --expose-gc");
  globalThis.gc();
  globalThis.gc();
};
const isPromise = (v) => typeof v?.then === "function";

/**
 * Translates, creates and loads a workload (into `instance` when given);
 * `loadMs` is the load call alone, not the translation nor the instance.
 */
async function loadWorkload(api, w, instance) {
  const source = engine.source(w);
  const created = instance ?? engine.create(api, w.id);
  const into = isPromise(created) ? await created : created;
  const t0 = performance.now();
  const loaded = engine.load(api, into, source);
  const handle = isPromise(loaded) ? await loaded : loaded;
  const loadMs = performance.now() - t0;
  return { w, source, handle, loadMs, args: w.requests.map((r) => engine.prepare(api, handle, r)) };
}

/** Every request must get its expected decision; anything else ends the run. */
function verify(p, when) {
  p.w.requests.forEach((r, i) => {
    const got = engine.outcome(engine.decide(p.handle, p.args[i]));
    if (got !== r.expect) {
      throw new Error(`${engine.label} decides ${p.w.id} request ${i} (${r.action} ${r.resource} ${JSON.stringify(r.context)} ${JSON.stringify(r.agent)}) as ${got}, expected ${r.expect} (${when})`);
    }
  });
}

/**
 * The timed call: a fresh function per workload (new Function), so that the
 * harness's own call sites never carry type feedback from another workload.
 */
function loop(p) {
  return new Function("decide", "h", "args", "keep", `
    let i = 0;
    const n = args.length;
    return () => keep(decide(h, args[i++ % n]));
  `)(engine.decide, p.handle, p.args, do_not_optimize);
}

/** Steady state before sampling: up to 300,000 calls (what decide.bench.mjs gives V8 to tier up), at most 1.5 s. */
function warm(f) {
  const end = performance.now() + 1500;
  for (let i = 0; i < 300_000; i++) {
    f();
    if ((i & 15) === 0 && performance.now() > end) return i + 1;
  }
  return 300_000;
}

const percentile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];

/** Loads of the workload's source into one instance, as a client takes a new policy version: up to 1,000, at most about 1.5 s. */
async function timeLoads(api, p) {
  const created = engine.create(api, `load-${p.w.id}`);
  const target = isPromise(created) ? await created : created;
  const times = [];
  const budget = performance.now() + 1500;
  for (let r = 0; r < 1000 && (r < 5 || performance.now() < budget); r++) {
    const t0 = performance.now();
    const loaded = engine.load(api, target, p.source);
    if (isPromise(loaded)) await loaded;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { medianMs: percentile(times, 0.5), p99Ms: percentile(times, 0.99), rounds: times.length };
}

if (opts.cold) {
  // Fresh process: nothing of the engine is loaded yet.
  const w = byId(opts.cold);
  gc();
  const m0 = process.memoryUsage();
  const { api, importMs, instantiateMs } = await engine.coldStart();
  gc();
  const m1 = process.memoryUsage();
  // The instance the cold start made, where the engine has one (Warden, OPA), takes the policy.
  const p = await loadWorkload(api, w, api.first);
  gc();
  const m2 = process.memoryUsage();
  verify(p, "cold");
  const mem = (a, b) => ({ rss: b.rss - a.rss, heap: b.heapUsed - a.heapUsed, external: b.external - a.external });
  writeFileSync(opts.out, JSON.stringify({ workload: w.id, importMs, instantiateMs, firstLoadMs: p.loadMs, instance: mem(m0, m1), loaded: mem(m1, m2) }));
} else if (opts.profile) {
  const api = await engine.start();
  const p = await loadWorkload(api, byId(opts.profile));
  verify(p, "before profiling");
  const f = loop(p);
  warm(f);
  const start = performance.now();
  const end = start + Number(opts.seconds) * 1000;
  let calls = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 4096; i++) f();
    calls += 4096;
  }
  console.log(JSON.stringify({ calls, ms: performance.now() - start }));
} else {
  const api = await engine.start();
  const version = engine.version(api);
  const prepared = [];
  for (const w of all) {
    const p = await loadWorkload(api, w);
    verify(p, "before timing");
    prepared.push(p);
  }
  const decisions = {};
  for (const p of prepared) {
    const f = loop(p);
    const warmCalls = warm(f);
    const s = await measure(f);
    decisions[p.w.id] = { p50: s.p50, p99: s.p99, avg: s.avg, min: s.min, max: s.max, samples: s.samples.length, calls: s.ticks, warmCalls };
  }
  for (const p of prepared) verify(p, "after timing");
  // Loads come after the decisions, so their garbage does not fall into the decisions' samples.
  const loads = {};
  for (const p of prepared) {
    if (p.source?.data === null) continue; // OPA: the policy is the compiled module itself, there is nothing to load
    gc();
    loads[p.w.id] = await timeLoads(api, p);
  }
  writeFileSync(opts.out, JSON.stringify({
    engine: engine.id, label: engine.label, version, wasmBytes: engine.wasmBytes?.(api) ?? null, decisions, loads,
  }));
}
