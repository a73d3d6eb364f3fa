// The support bot's tool calls, each asked of Warden before it runs.
import { fileURLToPath } from "node:url";
import { Warden } from "@warden/node";

const warden = await Warden.fromFile(fileURLToPath(new URL("./policies.yaml", import.meta.url)));

const bot = { id: "support-bot-1", trust_level: "basic", tags: ["customer-support"] };
const senior = { id: "support-bot-7", trust_level: "elevated", tags: ["customer-support"] };
const steps = [
  ["look up an order", "tool.call", "tool/lookup_order", { order_id: "ord_1001" }, bot],
  ["refund $20", "tool.call", "tool/issue_refund", { amount: 20 }, bot],
  ["refund $300 (basic agent)", "tool.call", "tool/issue_refund", { amount: 300 }, bot],
  ["refund $300 (elevated agent)", "tool.call", "tool/issue_refund", { amount: 300 }, senior],
  ["refund $600", "tool.call", "tool/issue_refund", { amount: 600 }, senior],
  ["refund with no amount", "tool.call", "tool/issue_refund", {}, senior],
  ["delete an account", "tool.call", "tool/delete_account", {}, bot],
  ["refund $10", "tool.call", "tool/issue_refund", { amount: 10 }, bot],
  ["refund $15", "tool.call", "tool/issue_refund", { amount: 15 }, bot],
  ["refund $5 (fourth this hour)", "tool.call", "tool/issue_refund", { amount: 5 }, bot],
  ["use an unknown model", "llm.generate", "model/o1", {}, bot],
];

const mark = { allow: "ALLOW   ", deny: "DENY    ", escalate: "ESCALATE" };
for (const [label, action, resource, context, agent] of steps) {
  const d = warden.check(action, resource, context, { agent });
  const extra = d.indeterminate.length ? `  (unknown: ${d.indeterminate.join(", ")})` : "";
  console.log(`${mark[d.effect]}  ${label.padEnd(30)} ${d.reason}${extra}`);
}

const why = warden.explain("tool.call", "tool/issue_refund", { amount: 600 }, { agent: senior });
console.log(`\nwhy is a $600 refund escalated? ${why.why}`);
