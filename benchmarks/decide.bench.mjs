// Warden's decision latency, load time and size, measured with mitata through
// @warden/node as an application uses it. Prints median and p99 ns per check
// beside the targets. Run: pnpm --filter @warden/benchmarks bench
//
// The support-bot and rule-count policies decide by action and resource alone,
// so the client keeps their decisions (core README); each is timed again with
// `keepDecisions: false`, every check through warden.wasm.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { bench, run, do_not_optimize, group } from "mitata";
import { Warden, wasmPath } from "@warden/node";
import { SUPPORT_BOT, SUPPORT_MIX, REFUNDS, REFUND_MIX, SIZES, scaled, scaledMix } from "./workloads.mjs";

const NO_KEPT = ", no kept decisions";
const targets = new Map([
  ["support-bot policy, 8 rotating requests", 150],
  [`support-bot policy, 8 rotating requests${NO_KEPT}`, 150],
  ["refund policy: conditions, trust, 8 rotating requests", 300],
]);

const supportBot = await Warden.create({ policies: SUPPORT_BOT });
const supportBotNoKept = await Warden.create({ policies: SUPPORT_BOT, keepDecisions: false });
const refunds = await Warden.create({ policies: REFUNDS });
const scaledClients = await Promise.all(SIZES.map((n) => Warden.create({ policies: scaled(n) })));
const scaledNoKept = await Promise.all(SIZES.map((n) => Warden.create({ policies: scaled(n), keepDecisions: false })));

// Steady state: enough calls for V8 to finish tiering up every path before mitata samples.
function warm(f) {
  for (let i = 0; i < 300_000; i++) f();
}

group("check", () => {
  let i = 0;
  const support = () => {
    const [a, r, c] = SUPPORT_MIX[i++ & 7];
    do_not_optimize(supportBot.check(a, r, c));
  };
  warm(support);
  bench("support-bot policy, 8 rotating requests", support);
  let h = 0;
  const supportNoKept = () => {
    const [a, r, c] = SUPPORT_MIX[h++ & 7];
    do_not_optimize(supportBotNoKept.check(a, r, c));
  };
  warm(supportNoKept);
  bench(`support-bot policy, 8 rotating requests${NO_KEPT}`, supportNoKept);
  let j = 0;
  const refund = () => {
    const [context, agent] = REFUND_MIX[j++ & 7];
    do_not_optimize(refunds.check("tool.call", "tool/issue_refund", context, { agent }));
  };
  warm(refund);
  bench("refund policy: conditions, trust, 8 rotating requests", refund);
});

group("check by rule count (64 spread resources and a miss)", () => {
  for (const [clients, suffix] of [[scaledClients, ""], [scaledNoKept, NO_KEPT]]) {
    SIZES.forEach((n, s) => {
      const w = clients[s];
      const mix = scaledMix(n);
      let k = 0;
      const scale = () => do_not_optimize(w.check("tool.call", mix[k++ % 65]));
      warm(scale);
      bench(`${n} rules${suffix}`, scale);
    });
  }
});

// ---------------------------------------------------------------------------

const result = await run({ format: "quiet", throw: true });

// Loading is measured after the checks, so its garbage does not fall into theirs.
const wasm = readFileSync(wasmPath());
const loads = [];
for (const n of SIZES) {
  const policies = scaled(n);
  const json = JSON.stringify(policies);
  const w = await Warden.create();
  const times = [];
  const rounds = n >= 10000 ? 30 : n >= 1000 ? 200 : 1000;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    w.load(json);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  loads.push([n, json.length, times[Math.floor(times.length / 2)], times[Math.floor(times.length * 0.99)]]);
}

const rows = [];
for (const b of result.benchmarks) {
  for (const r of b.runs) rows.push([r.name, r.stats.p50, r.stats.p99, r.stats.avg]);
}
const ns = (x) => x.toFixed(0).padStart(7);
console.log(`warden.wasm: ${wasm.length} bytes raw, ${gzipSync(wasm, { level: 9 }).length} bytes gzipped (target: at most 100 KB raw)\n`);
console.log(`${"check".padEnd(56)} ${"median".padStart(7)} ${"p99".padStart(7)}   target`);
for (const [name, p50, p99] of rows) {
  const target = targets.get(name);
  const verdict = target === undefined ? "" : `${p50 <= target ? "met" : "missed"}: median at most ${target} ns`;
  console.log(`${name.padEnd(56)} ${ns(p50)} ${ns(p99)}   ${verdict}`);
}
for (const suffix of ["", NO_KEPT]) {
  const median = (n) => rows.find(([name]) => name === `${n} rules${suffix}`)[1];
  const ratio = median(SIZES[SIZES.length - 1]) / median(SIZES[0]);
  console.log(`${suffix ? "" : "\n"}10,000 rules / 10 rules${suffix}, median: ${ratio.toFixed(2)}x (target: at most 2x) — ${ratio <= 2 ? "met" : "missed"}`);
}
console.log(`\n${"load".padEnd(40)} ${"median".padStart(10)} ${"p99".padStart(10)}`);
for (const [n, bytes, p50, p99] of loads) {
  const target = n === 1000 ? `   target: at most 2 ms — ${p50 <= 2 ? "met" : "missed"}` : "";
  console.log(`${`${n} rules (${(bytes / 1024).toFixed(0)} KiB of JSON)`.padEnd(40)} ${p50.toFixed(3).padStart(7)} ms ${p99.toFixed(3).padStart(7)} ms${target}`);
}
