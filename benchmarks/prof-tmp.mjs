import { Warden } from "@warden/node";
const SUPPORT_BOT = [{ name: "s", rules: [
    { effect: "allow", action: "llm.generate", resource: "model/gpt-4" },
    { effect: "allow", action: "tool.call", resource: "tool/lookup_order" },
    { effect: "allow", action: "tool.call", resource: "tool/lookup_account" },
    { effect: "deny", action: "tool.call", resource: "tool/issue_refund" },
    { effect: "allow", action: "tool.call", resource: "tool/escalate_to_human" }]}];
const MIX = [
  ["llm.generate", "model/gpt-4", { agent_id: "support-bot" }],
  ["tool.call", "tool/lookup_order", { agent_id: "support-bot", arguments: "{'order_id': 'ord_1001'}" }],
  ["tool.call", "tool/lookup_account", { agent_id: "support-bot" }],
  ["tool.call", "tool/issue_refund", { agent_id: "support-bot", arguments: "{'order_id': 'ord_1001', 'amount': 20.0}" }],
  ["tool.call", "tool/escalate_to_human", { agent_id: "support-bot" }],
  ["tool.call", "tool/delete_account", { agent_id: "support-bot" }],
  ["llm.generate", "model/gpt-4o", { agent_id: "support-bot" }],
  ["api.request", "https://example.com/", { agent_id: "support-bot" }],
];
const w = await Warden.create({ policies: SUPPORT_BOT });
let s = 0;
const N = +(process.env.N || 5e6);
for (let k = 0; k < 2; k++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) { const [a, r, c] = MIX[i & 7]; s += w.check(a, r, c).allowed ? 1 : 0; }
  console.log(Number(process.hrtime.bigint() - t0) / N, "ns");
}
import { bench, run, do_not_optimize } from "mitata";
let j = 0;
bench("mix", () => { const [a, r, c] = MIX[j++ & 7]; do_not_optimize(w.check(a, r, c)); });
const res = await run({ format: "quiet" });
for (const b of res.benchmarks) for (const x of b.runs) console.log(x.name, "p50", x.stats.p50, "avg", x.stats.avg, "p99", x.stats.p99);
