// Warden in workerd (through miniflare, with the workerd binary from npm):
// the cold start of a fresh isolate, timed from the client, and `check`
// inside the Worker in batches of 100,000 (Workers advance their clock only
// across I/O, so each batch is bracketed by a fetch).
import { fileURLToPath } from "node:url";
import { bundleWorker, startWorker, serveVectors } from "../bindings/edge/test/workerd-harness.mjs";
import { SUPPORT_BOT, SUPPORT_MIX } from "./workloads.mjs";

// The support-bot policy decides by action and resource alone, so the client keeps its decisions (core README).
const MIX = SUPPORT_MIX;

const vectors = await serveVectors();
const script = await bundleWorker(fileURLToPath(new URL("../bindings/edge/src/test/worker.ts", import.meta.url)));
const bindings = { VECTORS: vectors.url, BUNDLE_URL: "", PROJECT: "", PROJECT_KEY: "", TRUSTED: "{}", POLL: "0" };
const bench = (mf, batches) => mf.dispatchFetch(`http://worker/bench?batch=100000&batches=${batches}&mix=${encodeURIComponent(JSON.stringify(MIX))}`, { method: "POST", body: JSON.stringify(SUPPORT_BOT) });

// Cold starts: a fresh workerd each time; the first request makes the Warden (instantiate + load).
const colds = [];
const boots = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  const mf = await startWorker(script, bindings, false);
  const t1 = performance.now();
  const res = await mf.dispatchFetch("http://worker/bench?batch=1&batches=0&mix=" + encodeURIComponent(JSON.stringify(MIX)), { method: "POST", body: JSON.stringify(SUPPORT_BOT) });
  await res.arrayBuffer();
  colds.push(performance.now() - t1);
  boots.push(t1 - t0);
  await mf.dispose();
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const mf = await startWorker(script, bindings, false);
await (await bench(mf, 3)).json(); // warm up
const perCheck = await (await bench(mf, 11)).json();
await mf.dispose();
await vectors.close();

console.log(`\nworkerd: first request to a fresh isolate (instantiate warden.wasm, load the policy), from the client: median ${median(colds).toFixed(1)} ms of 5 (workerd boot before it: ${median(boots).toFixed(0)} ms)`);
console.log(`${"check, support-bot policy, 8 rotating requests".padEnd(58)} workerd ${median(perCheck).toFixed(0).padStart(5)} ns   (median of 11 batches of 100000)`);
