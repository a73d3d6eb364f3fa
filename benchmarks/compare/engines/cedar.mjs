// Cedar through @cedar-policy/cedar-wasm (its Node.js build), with its fastest
// API: the policy set parsed once by preparsePolicySet, each request decided by
// statefulIsAuthorized against it.
//
// Translation: the action and literal resources become entity equalities
// (`action == Action::"tool.call"`, `resource == Resource::"tool/lit0"`); a
// wildcard resource pattern becomes `context.path like "tool/svc1/*"` (Cedar
// cannot match an entity id against a pattern, so the request carries its
// resource string in the context); a trust requirement becomes a test of the
// principal's `trust_level` attribute, the agent being the principal entity;
// allow is permit, deny is forbid, escalate a forbid whose policy id starts
// with `escalate` (Cedar answers deny, and the id in the decision's reasons
// tells the outcome class apart).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { packageVersion } from "../versions.mjs";
import { comparisons, levelsAtLeast, parsePattern, patternShape, patternsOf, rulesOf } from "../patterns.mjs";

const require = createRequire(import.meta.url);
const wasmFile = () => require.resolve("@cedar-policy/cedar-wasm/nodejs").replace(/cedar_wasm\.js$/, "cedar_wasm_bg.wasm");
const str = (s) => JSON.stringify(s); // a Cedar string literal: the same escapes as JSON for these texts

function likePattern(pattern) {
  return parsePattern(pattern).map((p) => {
    if (p.one) throw new Error(`cedar: \`?\` in \`${pattern}\` has no Cedar \`like\` form`);
    return p.star ? "*" : p.lit.replace(/[\\*"]/g, (c) => `\\${c}`);
  }).join("");
}

function resourceTest(pattern) {
  const shape = patternShape(pattern);
  if (shape.kind === "literal") return { scope: `resource == Resource::${str(shape.text)}` };
  return { scope: "resource", when: `context.path like "${likePattern(pattern)}"`, needsPath: true };
}

/** Cedar policies for a Warden bundle: {id: text}. */
function translate(policies) {
  const out = {};
  let needsPath = false;
  for (const { policy, rule, pi, ri } of rulesOf(policies)) {
    const actions = patternsOf(rule.action).map((a) => {
      const s = patternShape(a);
      if (s.kind !== "literal") throw new Error(`cedar: action pattern \`${a}\` is not translated`);
      return s.text;
    });
    const action = actions.length === 1 ? `action == Action::${str(actions[0])}` : `action in [${actions.map((a) => `Action::${str(a)}`).join(", ")}]`;
    const effect = rule.effect === "allow" ? "permit" : "forbid";
    patternsOf(rule.resource).forEach((pattern, k) => {
      const r = resourceTest(pattern);
      needsPath ||= Boolean(r.needsPath);
      const when = [];
      if (r.when) when.push(r.when);
      if (rule.trust_level) when.push(`principal has trust_level && [${levelsAtLeast(policy, rule.trust_level).map(str).join(", ")}].contains(principal.trust_level)`);
      // Fail closed (§3): a missing value keeps an allow from matching and makes a deny or escalate match.
      for (const c of comparisons(rule.conditions)) {
        const path = c.path.join(".");
        when.push(rule.effect === "allow" ? `(context has ${path} && context.${path} ${c.op} ${c.value})` : `(!(context has ${path}) || context.${path} ${c.op} ${c.value})`);
      }
      const id = `${rule.effect === "escalate" ? "escalate" : "rule"}-${pi}-${ri}-${k}`;
      out[id] = `${effect}(principal, ${action}, ${r.scope})${when.length ? ` when { ${when.join(" && ")} }` : ""};`;
    });
  }
  return { policies: out, needsPath };
}

export default {
  id: "cedar",
  label: "Cedar",
  packageName: "@cedar-policy/cedar-wasm",
  wasm: true,
  call: "`preparsePolicySet` once, then `statefulIsAuthorized({principal, action, resource, context, entities, preparsedPolicySetId})`",
  expressed: "one Cedar policy per rule: `action ==` and `resource ==` entity equalities for literals, `context.path like \"tool/svc1/*\"` for wildcard resources, the agent as the principal entity with a `trust_level` attribute, `forbid` for deny and (with an `escalate` policy id) for escalate",

  async start() {
    return await import("@cedar-policy/cedar-wasm/nodejs");
  },

  /**
   * In a fresh process. The Node.js build compiles and instantiates its wasm
   * while it is imported, so the two are timed apart through the web build
   * (the same cedar_wasm_bg.wasm and API): its import, then initSync (read the
   * bytes, compile, instantiate, start).
   */
  async coldStart() {
    const t0 = performance.now();
    const web = await import("@cedar-policy/cedar-wasm/web");
    const t1 = performance.now();
    web.initSync({ module: readFileSync(wasmFile()) });
    const t2 = performance.now();
    return { api: web, importMs: t1 - t0, instantiateMs: t2 - t1 };
  },

  version(cedar) {
    return `${packageVersion("@cedar-policy/cedar-wasm")} (Cedar ${cedar.getCedarVersion()})`;
  },

  source(workload) {
    return translate(workload.policies);
  },

  create: (cedar, slot) => ({ id: slot }),

  load(cedar, handle, source) {
    const answer = cedar.preparsePolicySet(handle.id, { staticPolicies: source.policies });
    if (answer.type !== "success") throw new Error(`cedar: ${JSON.stringify(answer.errors)}`);
    return { cedar, id: handle.id, needsPath: source.needsPath };
  },

  prepare(cedar, h, r) {
    const context = { ...(r.context ?? {}) };
    if (h.needsPath) context.path = r.resource;
    const principal = { type: "Agent", id: r.agent?.id ?? "anonymous" };
    const entities = r.agent ? [{ uid: principal, attrs: r.agent.trust_level ? { trust_level: r.agent.trust_level } : {}, parents: [] }] : [];
    return {
      principal,
      action: { type: "Action", id: r.action },
      resource: { type: "Resource", id: r.resource },
      context,
      entities,
      preparsedPolicySetId: h.id,
    };
  },

  decide: (h, call) => h.cedar.statefulIsAuthorized(call),

  outcome(answer) {
    if (answer.type !== "success") throw new Error(`cedar: ${JSON.stringify(answer.errors)}`);
    const { decision, diagnostics } = answer.response;
    if (diagnostics.errors.length) throw new Error(`cedar: policy errors ${JSON.stringify(diagnostics.errors)}`);
    if (decision === "allow") return "allow";
    return diagnostics.reason.some((id) => id.startsWith("escalate")) ? "escalate" : "deny";
  },

  wasmBytes: () => readFileSync(wasmFile()).length,
};
