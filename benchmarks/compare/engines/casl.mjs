// CASL (@casl/ability) with its MongoDB-query conditions (createMongoAbility).
//
// Translation: when every resource pattern of the policy is a literal, each
// resource is a CASL subject type (`can("tool.call", "tool/lookup_order")`),
// CASL's indexed fast path; otherwise the resource is a `Resource` subject
// whose `name` is matched by `$eq` (a literal) or `$regex` (a pattern).
// Conditions and a trust requirement are conditions on the subject, which
// carries the request's context and the agent's trust level. Deny is an
// inverted rule (`cannot`); escalate an inverted rule whose reason is
// `escalate`, told apart through relevantRuleFor (what `can` itself calls).
// CASL checks the rules of an action and subject type from the last one back.
import { comparisons, levelsAtLeast, patternRegExpSource, patternShape, patternsOf, rulesOf } from "../patterns.mjs";
import { packageVersion } from "../versions.mjs";

const MONGO_OP = { "<=": "$lte", "<": "$lt", ">=": "$gte", ">": "$gt", "==": "$eq", "!=": "$ne" };

function translate(policies) {
  const rules = rulesOf(policies);
  const byType = rules.every(({ rule }) => patternsOf(rule.resource).every((p) => patternShape(p).kind === "literal"));
  const raw = [];
  for (const { policy, rule } of rules) {
    const conditions = {};
    for (const c of comparisons(rule.conditions)) {
      const key = c.path.join(".");
      conditions[key] = { ...conditions[key], [MONGO_OP[c.op]]: c.value };
    }
    if (rule.trust_level) conditions.trust_level = { $in: levelsAtLeast(policy, rule.trust_level) };
    const actions = patternsOf(rule.action).map((a) => {
      const s = patternShape(a);
      if (s.kind !== "literal") throw new Error(`casl: action pattern \`${a}\` is not translated`);
      return s.text;
    });
    for (const pattern of patternsOf(rule.resource)) {
      const shape = patternShape(pattern);
      const r = { action: actions.length === 1 ? actions[0] : actions };
      let when = conditions;
      if (byType) r.subject = shape.text;
      else {
        r.subject = "Resource";
        when = { ...conditions, name: shape.kind === "literal" ? shape.text : { $regex: patternRegExpSource(pattern), $options: "su" } };
      }
      if (Object.keys(when).length) r.conditions = when;
      if (rule.effect !== "allow") r.inverted = true;
      if (rule.effect === "escalate") r.reason = "escalate";
      raw.push(r);
    }
  }
  return { rules: JSON.stringify(raw), byType, escalates: rules.some(({ rule }) => rule.effect === "escalate") };
}

export default {
  id: "casl",
  label: "CASL",
  packageName: "@casl/ability",
  wasm: false,
  call: "`ability.can(action, subject)`; the refund policy `ability.relevantRuleFor(action, subject)` (what `can` calls; its reason tells escalate from deny)",
  expressed: "`createMongoAbility` rules: literal resources as subject types (support-bot, refund), otherwise a `Resource` subject whose `name` is matched by `$eq` or `$regex`; conditions as MongoDB operators on the subject (`amount: {$lte: 50}`, `trust_level: {$in: [...]}`); deny and escalate as inverted rules",

  async start() {
    return await import("@casl/ability");
  },

  async coldStart() {
    const t0 = performance.now();
    const api = await import("@casl/ability");
    return { api, importMs: performance.now() - t0, instantiateMs: null };
  },

  version: () => packageVersion("@casl/ability"),

  source: (workload) => translate(workload.policies),

  create: () => null,

  /** The rules arrive as JSON text, as stored; CASL compiles each rule's conditions on its first use, not here. */
  load(casl, _, source) {
    return { ability: casl.createMongoAbility(JSON.parse(source.rules)), byType: source.byType, escalates: source.escalates };
  },

  prepare(casl, h, r) {
    if (h.byType && !r.context && !r.agent) return [r.action, r.resource];
    const fields = { ...(r.context ?? {}) };
    if (r.agent?.trust_level) fields.trust_level = r.agent.trust_level;
    if (!h.byType) fields.name = r.resource;
    return [r.action, casl.subject(h.byType ? r.resource : "Resource", fields)];
  },

  decide: (h, [action, subject]) => (h.escalates ? h.ability.relevantRuleFor(action, subject) : h.ability.can(action, subject)),

  outcome(result) {
    if (typeof result === "boolean") return result ? "allow" : "deny";
    if (!result) return "deny";
    return result.inverted ? (result.reason === "escalate" ? "escalate" : "deny") : "allow";
  },
};
