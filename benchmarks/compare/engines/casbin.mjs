// Casbin (node-casbin) with a keyMatch model, decided by enforceSync.
//
// Translation: one policy line per (rule, resource pattern): `p, action,
// resource, eft` with `keyMatch(r.obj, p.obj)` for the resource (`tool/svc1/*`
// is a keyMatch prefix) and deny-overrides as the effect, Casbin's usual
// allow-and-deny model. A policy with conditions uses Casbin's ABAC form:
// `eval(p.cond)` over the request's context and agent. Escalate is a deny line
// named `escalate`: Casbin answers false, and enforceExSync's explanation (the
// line that decided) tells the outcome class apart, so that policy is decided
// with enforceExSync.
import { comparisons, levelsAtLeast, patternShape, patternsOf, rulesOf } from "../patterns.mjs";
import { packageVersion } from "../versions.mjs";

const ACL_MODEL = `
[request_definition]
r = act, obj

[policy_definition]
p = act, obj, eft, name

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.act == p.act && keyMatch(r.obj, p.obj)
`;

const ABAC_MODEL = `
[request_definition]
r = act, obj, ctx, agent

[policy_definition]
p = act, obj, cond, eft, name

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.act == p.act && keyMatch(r.obj, p.obj) && eval(p.cond)
`;

function keyMatchPattern(pattern) {
  const s = patternShape(pattern);
  if (s.kind === "literal" && !s.text.includes("*")) return s.text;
  if (s.kind === "prefix" && !s.text.includes("*")) return `${s.text}*`;
  throw new Error(`casbin: \`${pattern}\` has no keyMatch form`);
}

const field = (v) => {
  if (/[,"\n]/.test(v)) throw new Error(`casbin: \`${v}\` would need CSV quoting`);
  return v;
};

function translate(policies) {
  const rules = rulesOf(policies);
  const abac = rules.some(({ rule }) => rule.conditions !== undefined || rule.trust_level !== undefined);
  const lines = [];
  for (const { policy, rule, pi, ri } of rules) {
    const eft = rule.effect === "allow" ? "allow" : "deny";
    const name = rule.effect === "escalate" ? "escalate" : `rule-${pi}-${ri}`;
    let cond = "true";
    if (abac) {
      const terms = comparisons(rule.conditions).map((c) => `r.ctx.${c.path.join(".")} ${c.op} ${c.value}`);
      if (rule.trust_level) terms.push(`(${levelsAtLeast(policy, rule.trust_level).map((l) => `r.agent.trust_level == '${l}'`).join(" || ")})`);
      if (terms.length) cond = terms.join(" && ");
    }
    for (const action of patternsOf(rule.action)) {
      if (patternShape(action).kind !== "literal") throw new Error(`casbin: action pattern \`${action}\` is not translated`);
      for (const resource of patternsOf(rule.resource)) {
        lines.push(["p", field(action), field(keyMatchPattern(resource)), ...(abac ? [field(cond)] : []), eft, name].join(", "));
      }
    }
  }
  return { model: abac ? ABAC_MODEL : ACL_MODEL, csv: lines.join("\n"), abac, explain: rules.some(({ rule }) => rule.effect === "escalate") };
}

export default {
  id: "casbin",
  label: "Casbin",
  packageName: "casbin",
  wasm: false,
  call: "`enforcer.enforceSync(action, resource)`; the refund policy `enforceExSync(action, resource, context, agent)` (its explanation tells escalate from deny)",
  expressed: "a keyMatch model (`r.act == p.act && keyMatch(r.obj, p.obj)`, allow-and-deny effect), one CSV policy line per rule; the refund policy as Casbin ABAC rules (`eval(p.cond)`) with escalate a deny line named `escalate`",

  async start() {
    return await import("casbin");
  },

  async coldStart() {
    const t0 = performance.now();
    const api = await import("casbin");
    return { api, importMs: performance.now() - t0, instantiateMs: null };
  },

  version: () => packageVersion("casbin"),

  source: (workload) => translate(workload.policies),

  create: () => null,

  async load(casbin, _, source) {
    const enforcer = await casbin.newEnforcer(casbin.newModelFromString(source.model), new casbin.StringAdapter(source.csv));
    return { enforcer, abac: source.abac, explain: source.explain };
  },

  prepare(casbin, h, r) {
    return h.abac ? [r.action, r.resource, r.context ?? {}, r.agent ?? {}] : [r.action, r.resource];
  },

  decide: (h, args) => (h.explain ? h.enforcer.enforceExSync(...args) : h.enforcer.enforceSync(...args)),

  outcome(result) {
    if (typeof result === "boolean") return result ? "allow" : "deny";
    const [allowed, line] = result;
    if (allowed) return "allow";
    return line[line.length - 1] === "escalate" ? "escalate" : "deny";
  },
};
