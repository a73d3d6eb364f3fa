// The workloads every benchmark here measures, in Warden's policy form, with
// the decision each request must get. decide.bench.mjs times them through
// Warden; compare/ translates them into each peer engine and checks that every
// engine gives these decisions before it times anything.

export const SUPPORT_BOT = [{
  name: "support-bot-policy",
  rules: [
    { effect: "allow", action: "llm.generate", resource: "model/gpt-4" },
    { effect: "allow", action: "tool.call", resource: "tool/lookup_order" },
    { effect: "allow", action: "tool.call", resource: "tool/lookup_account" },
    { effect: "deny", action: "tool.call", resource: "tool/issue_refund" },
    { effect: "allow", action: "tool.call", resource: "tool/escalate_to_human" },
  ],
}];

/** The support-bot conformance requests, and one more miss: a rotating mix of 8 ([action, resource, context]). */
export const SUPPORT_MIX = [
  ["llm.generate", "model/gpt-4", { agent_id: "support-bot" }],
  ["tool.call", "tool/lookup_order", { agent_id: "support-bot", arguments: "{'order_id': 'ord_1001'}" }],
  ["tool.call", "tool/lookup_account", { agent_id: "support-bot" }],
  ["tool.call", "tool/issue_refund", { agent_id: "support-bot", arguments: "{'order_id': 'ord_1001', 'amount': 20.0}" }],
  ["tool.call", "tool/escalate_to_human", { agent_id: "support-bot" }],
  ["tool.call", "tool/delete_account", { agent_id: "support-bot" }],
  ["llm.generate", "model/gpt-4o", { agent_id: "support-bot" }],
  ["api.request", "https://example.com/", { agent_id: "support-bot" }],
];
const SUPPORT_EXPECT = ["allow", "allow", "allow", "deny", "allow", "deny", "deny", "deny"];

export const REFUNDS = [{
  name: "refunds",
  rules: [
    { name: "small", effect: "allow", action: "tool.call", resource: "tool/issue_refund", conditions: "context.amount <= 50" },
    { name: "elevated", effect: "allow", action: "tool.call", resource: "tool/issue_refund", trust_level: "elevated", conditions: "context.amount <= 500" },
    { name: "person", effect: "escalate", action: "tool.call", resource: "tool/issue_refund", conditions: "context.amount > 500" },
  ],
}];

/** [context, agent] pairs: four amounts, each from a basic and an elevated agent. */
export const REFUND_MIX = [20, 300, 900, 45].flatMap((amount) => [
  [{ amount }, { id: "bot-1", trust_level: "basic" }],
  [{ amount }, { id: "bot-2", trust_level: "elevated" }],
]);
const REFUND_EXPECT = ["allow", "allow", "deny", "allow", "escalate", "escalate", "allow", "allow"];

export const SIZES = [10, 100, 1000, 10000];

/** n rules: 90 % `tool/svc{i}/*`, 10 % literal `tool/lit{i}`; every seventh pattern rule denies. */
export function scaled(n) {
  const rules = [];
  for (let i = 0; i < n; i++) {
    rules.push(i % 10 === 0
      ? { effect: "allow", action: "tool.call", resource: `tool/lit${i}` }
      : { effect: i % 7 === 0 ? "deny" : "allow", action: "tool.call", resource: `tool/svc${i}/*` });
  }
  return [{ name: `scale-${n}`, rules }];
}

/** The rule each of the 64 spread resources is made to hit (then the miss hits none). */
function spreadTargets(n) {
  const targets = [];
  for (let k = 0; k < 64; k++) targets.push(Math.min(Math.floor((k * n) / 64 + (k % 7)), n - 1));
  return targets;
}

/** 64 resources hitting rules spread across the set, and a miss. */
export function scaledMix(n) {
  const mix = spreadTargets(n).map((r, k) => (r % 10 === 0 ? `tool/lit${r}` : `tool/svc${r}/op${k}`));
  mix.push("tool/nothing-matches");
  return mix;
}

/**
 * Every workload as requests ({action, resource, context, agent}) with the
 * decision each must get: allow, deny or escalate. The expectations come from
 * how the requests were made (which rule each one targets), not from any engine.
 */
export function workloads() {
  const list = [
    {
      id: "support-bot", label: "support-bot policy, 8 rotating requests", policies: SUPPORT_BOT,
      requests: SUPPORT_MIX.map(([action, resource, context], i) => ({ action, resource, context, agent: null, expect: SUPPORT_EXPECT[i] })),
    },
    {
      id: "refund", label: "refund policy: conditions, trust, 8 rotating requests", policies: REFUNDS,
      requests: REFUND_MIX.map(([context, agent], i) => ({ action: "tool.call", resource: "tool/issue_refund", context, agent, expect: REFUND_EXPECT[i] })),
    },
  ];
  for (const n of SIZES) {
    const policies = scaled(n);
    const rules = policies[0].rules;
    const requests = scaledMix(n).map((resource) => ({ action: "tool.call", resource, context: null, agent: null, expect: "deny" }));
    spreadTargets(n).forEach((r, k) => { requests[k].expect = rules[r].effect; });
    list.push({ id: `rules-${n}`, label: `${n} rules`, rules: n, policies, requests });
  }
  return list;
}
