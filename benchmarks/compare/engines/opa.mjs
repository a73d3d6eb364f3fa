// OPA compiled to WebAssembly (compare/opa: Rego → wasm through OPA's Go
// compiler, at bench time), hosted by @open-policy-agent/opa-wasm and decided
// by LoadedPolicy.evaluate(input, entrypoint) (ABI 1.2's one-call opa_eval).
//
// The support-bot and refund policies are hand-written Rego (opa/policies);
// the scaled rule sets are data (setData) for a generic Rego policy: literal
// resources in an object keyed by resource, `prefix*` patterns matched with
// startswith, others with glob.match. Escalate is a value of the decision.
import { readFileSync } from "node:fs";
import { patternShape, patternsOf, rulesOf } from "../patterns.mjs";
import { packageVersion } from "../versions.mjs";

const ENTRYPOINT = { "support-bot": "warden/support/decision", refund: "warden/refund/decision" };

function scaledData(policies) {
  const literals = {};
  const prefixes = [];
  const globs = [];
  for (const { rule } of rulesOf(policies)) {
    if (rule.conditions !== undefined || rule.trust_level !== undefined) throw new Error("opa: the data-driven policy has no conditions");
    const effect = rule.effect === "allow" ? "allow" : rule.effect === "deny" ? "deny" : null;
    if (!effect) throw new Error("opa: the data-driven policy has no escalate");
    for (const action of patternsOf(rule.action)) {
      if (patternShape(action).kind !== "literal") throw new Error(`opa: action pattern \`${action}\` is not translated`);
      for (const resource of patternsOf(rule.resource)) {
        const s = patternShape(resource);
        if (s.kind === "literal") (literals[s.text] ??= []).push({ action, effect });
        else if (s.kind === "prefix") prefixes.push({ action, prefix: s.text, effect });
        else globs.push({ action, pattern: resource, effect });
      }
    }
  }
  return { literals, prefixes, globs };
}

export default {
  id: "opa",
  label: "OPA (wasm)",
  packageName: "@open-policy-agent/opa-wasm",
  wasm: true,
  call: "`policy.evaluate(input, entrypoint)` of @open-policy-agent/opa-wasm (one `opa_eval` call, JSON in and out)",
  expressed: "Rego compiled to one wasm module at bench time (compare/opa/policies): the support-bot and refund policies by hand, the scaled rule sets as data (`setData`): literals in an object keyed by resource, `prefix*` patterns matched with `startswith`, deny overriding allow, escalate a value of `decision`",

  async start() {
    const path = process.env.OPA_POLICY_WASM;
    if (!path) throw new Error("OPA_POLICY_WASM is not set: compare/run.mjs builds policy.wasm first");
    const opa = await import("@open-policy-agent/opa-wasm");
    const bytes = readFileSync(path);
    return { opa: opa.default ?? opa, bytes, module: new WebAssembly.Module(bytes) };
  },

  /** In a fresh process: the import, then reading, compiling and instantiating the policy module (loadPolicy). */
  async coldStart() {
    const t0 = performance.now();
    const opa = await import("@open-policy-agent/opa-wasm");
    const t1 = performance.now();
    const bytes = readFileSync(process.env.OPA_POLICY_WASM);
    const first = await (opa.default ?? opa).loadPolicy(bytes);
    const t2 = performance.now();
    return { api: { opa: opa.default ?? opa, bytes, module: new WebAssembly.Module(bytes), first }, importMs: t1 - t0, instantiateMs: t2 - t1 };
  },

  version: () => `${packageVersion("@open-policy-agent/opa-wasm")} (policy compiled by OPA ${process.env.OPA_VERSION ?? "?"})`,

  source(workload) {
    if (ENTRYPOINT[workload.id]) return { entrypoint: ENTRYPOINT[workload.id], data: null };
    return { entrypoint: "warden/scaled/decision", data: new TextEncoder().encode(JSON.stringify(scaledData(workload.policies))) };
  },

  create: (api) => api.opa.loadPolicy(api.module),

  /** The data arrives as JSON bytes and is parsed inside the module (setData). */
  load(api, policy, source) {
    if (source.data) policy.setData(source.data.buffer.slice(source.data.byteOffset, source.data.byteOffset + source.data.byteLength));
    const entrypoint = policy.entrypoints[source.entrypoint];
    if (entrypoint === undefined) throw new Error(`opa: no entrypoint ${source.entrypoint}`);
    return { policy, entrypoint };
  },

  prepare(api, h, r) {
    const input = { action: r.action, resource: r.resource };
    if (r.context) input.context = r.context;
    if (r.agent) input.agent = r.agent;
    return input;
  },

  decide: (h, input) => h.policy.evaluate(input, h.entrypoint),

  outcome(result) {
    if (!Array.isArray(result) || result.length !== 1) throw new Error(`opa: result ${JSON.stringify(result)}`);
    return result[0].result;
  },

  wasmBytes: (api) => api.bytes.length,
};
