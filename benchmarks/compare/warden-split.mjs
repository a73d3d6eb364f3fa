// Splits one Warden decision into the engine's part and the host's part: the
// time of `check` through @warden/node, beside the time of warden.wasm's own
// `decide` export (ABI.md) on the very request records the host wrote for the
// same requests, copied back into the request area before each call. The
// host's share is the difference: turning the arguments into a record
// (interning, context, agent), the boundary crossing and reading the result.
//
// It reaches into the Warden client's private engine instance, so it is a
// diagnostic: when those internals change shape it says so and measures
// nothing, and the rest of the suite is unaffected.
//
//   node --expose-gc compare/warden-split.mjs <workload>   (prints JSON)
import { measure, do_not_optimize } from "mitata";
// Without kept decisions, so that every check writes a request record.
import engine from "./engines/warden-uncached.mjs";
import { workloads } from "../workloads.mjs";

const id = process.argv[2];
const w = workloads().find((x) => x.id === id);
const api = await engine.start();
const warden = engine.load(api, await engine.create(api), engine.source(w));
const args = w.requests.map((r) => engine.prepare(api, warden, r));
const host = warden.engine;
if (!host || typeof host.decide !== "function" || !host.x || typeof host.x.decide !== "function" || typeof host.base !== "number") {
  console.log(JSON.stringify({ workload: id, unavailable: "the Warden client's engine internals (engine.x, engine.base, engine.decide) are not where this diagnostic looks" }));
  process.exit(0);
}

// The request records the host writes, one per request of the mix, in the
// steady state: from the third pass, when every string has been seen twice and
// goes as its interned id (ABI.md §Values).
for (let pass = 0; pass < 2; pass++) for (const a of args) engine.decide(warden, a);
const records = [];
const hostDecide = host.decide;
host.decide = function (explain) {
  records.push(this.bytes.slice(this.base, this.base + this.pos));
  return hostDecide.call(this, explain);
};
for (const a of args) engine.decide(warden, a);
host.decide = hostDecide;

const x = host.x;
const base = host.base;
let bytes = new Uint8Array(x.memory.buffer);
const effectOf = (r) => ["deny", "allow", "escalate"][new DataView(x.memory.buffer).getUint32(r + 4, true)]; // ABI.md §The decision record
records.forEach((rec, i) => {
  bytes.set(rec, base);
  const effect = effectOf(x.decide(rec.length));
  if (effect !== w.requests[i].expect) throw new Error(`warden.wasm decides record ${i} of ${id} as ${effect}, expected ${w.requests[i].expect}`);
});

const n = records.length;
let i = 0;
const check = () => do_not_optimize(engine.decide(warden, args[i++ % n]));
const wasmDecide = () => {
  const rec = records[i++ % n];
  if (bytes.length === 0) bytes = new Uint8Array(x.memory.buffer);
  bytes.set(rec, base);
  return do_not_optimize(x.decide(rec.length));
};
const copyOnly = () => {
  const rec = records[i++ % n];
  if (bytes.length === 0) bytes = new Uint8Array(x.memory.buffer);
  bytes.set(rec, base);
  return do_not_optimize(rec.length);
};
// Three rounds of the three, interleaved, each figure the median of its rounds,
// so that a burst of other work on the machine cannot land on one of them alone.
const out = { workload: id, recordBytes: records.map((r) => r.length) };
const loops = [["checkNs", check], ["wasmDecideWithCopyNs", wasmDecide], ["copyNs", copyOnly]];
for (const [, f] of loops) for (let k = 0; k < 300_000; k++) f();
const rounds = Object.fromEntries(loops.map(([name]) => [name, []]));
for (let round = 0; round < 3; round++) {
  for (const [name, f] of loops) rounds[name].push((await measure(f)).p50);
}
for (const [name] of loops) out[name] = rounds[name].sort((a, b) => a - b)[1];
out.engineNs = Math.max(0, out.wasmDecideWithCopyNs - out.copyNs);
out.hostNs = Math.max(0, out.checkNs - out.engineNs);
console.log(JSON.stringify(out));
