// Warden's own figures: ns per check (support-bot policy, and with
// conditions), load time by rule count, decision cost by rule count, and the
// size of warden.wasm. Run: pnpm --filter @warden/benchmarks bench
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { Warden } from "@warden/core";

const require = createRequire(import.meta.url);
const wasm = readFileSync(require.resolve("@warden/engine/warden.wasm"));
const module = await WebAssembly.compile(wasm);

function measure(label, iterations, f) {
  for (let i = 0; i < Math.min(iterations, 200_000); i++) f(i); // warm up
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) f(i);
    runs.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  runs.sort((a, b) => a - b);
  console.log(`${label.padEnd(58)} ${runs[2].toFixed(0).padStart(8)} ns  (best ${runs[0].toFixed(0)})`);
  return runs[2];
}

const supportBot = [{
  name: "support-bot-policy",
  rules: [
    { effect: "allow", action: "llm.generate", resource: "model/gpt-4" },
    { effect: "allow", action: "tool.call", resource: "tool/lookup_order" },
    { effect: "allow", action: "tool.call", resource: "tool/lookup_account" },
    { effect: "deny", action: "tool.call", resource: "tool/issue_refund" },
    { effect: "allow", action: "tool.call", resource: "tool/escalate_to_human" },
  ],
}];

console.log(`warden.wasm: ${wasm.length} bytes raw, ${gzipSync(wasm, { level: 9 }).length} bytes gzipped\n`);

const w = await Warden.create({ wasm: module, policies: supportBot });
const ctx = { agent_id: "support-bot", arguments: "{'order_id': 'ord_1001'}" };
measure("check: support-bot, allowed, with a 2-field context", 1_000_000, () => w.check("tool.call", "tool/lookup_order", ctx));
measure("check: support-bot, denied by default, no context", 1_000_000, () => w.check("tool.call", "tool/delete_account"));

const refunds = await Warden.create({ wasm: module, policies: [{
  name: "refunds",
  rules: [
    { effect: "allow", action: "tool.call", resource: "tool/issue_refund", conditions: "context.amount <= 50" },
    { effect: "allow", action: "tool.call", resource: "tool/issue_refund", trust_level: "elevated", conditions: { amount: { lte: 500 } } },
    { effect: "escalate", action: "tool.call", resource: "tool/issue_refund", conditions: "context.amount > 500" },
  ],
}] });
const agent = { id: "bot", trust_level: "elevated" };
measure("check: 3 refund rules with conditions and an agent", 1_000_000, (i) => refunds.check("tool.call", "tool/issue_refund", { amount: i % 700 }, { agent }));

function rules(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push({ effect: i % 7 === 0 ? "deny" : "allow", action: i % 3 === 0 ? `svc${i % 50}.*` : `svc${i % 50}.op${i}`, resource: `res/${i}/*` });
  }
  return [{ name: "scale", rules: out }];
}

console.log("");
for (const n of [10, 100, 1000, 10000]) {
  const policies = rules(n);
  const json = JSON.stringify(policies);
  const s = await Warden.create({ wasm: module });
  const loads = n >= 10000 ? 20 : n >= 1000 ? 100 : 1000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < loads; i++) s.load(json);
  const loadMs = Number(process.hrtime.bigint() - t0) / loads / 1e6;
  console.log(`load ${String(n).padStart(5)} rules (${(json.length / 1024).toFixed(0)} KiB JSON)`.padEnd(58) + ` ${loadMs.toFixed(3).padStart(8)} ms`);
  measure(`check over ${n} rules`, 300_000, (i) => s.check(`svc${i % 50}.op${i % n}`, `res/${i % n}/x`));
}
