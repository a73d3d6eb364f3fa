import { Warden } from "@warden/node";
const REFUNDS = [{ name: "refunds", rules: [
    { name: "small", effect: "allow", action: "tool.call", resource: "tool/issue_refund", conditions: "context.amount <= 50" },
    { name: "elevated", effect: "allow", action: "tool.call", resource: "tool/issue_refund", trust_level: "elevated", conditions: "context.amount <= 500" },
    { name: "person", effect: "escalate", action: "tool.call", resource: "tool/issue_refund", conditions: "context.amount > 500" }]}];
const MIX = [20, 300, 900, 45].flatMap((amount) => [[{ amount }, { id: "bot-1", trust_level: "basic" }], [{ amount }, { id: "bot-2", trust_level: "elevated" }]]);
const w = await Warden.create({ policies: REFUNDS });
const N = 4e6; let s = 0;
for (let i = 0; i < N; i++) { const [context, agent] = MIX[i & 7]; s += w.check("tool.call", "tool/issue_refund", context, { agent }).allowed ? 1 : 0; }
const t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) { const [context, agent] = MIX[i & 7]; s += w.check("tool.call", "tool/issue_refund", context, { agent }).allowed ? 1 : 0; }
console.log(Number(process.hrtime.bigint() - t0) / N, "ns", s);
