// What a team writes instead of adopting an engine: each rule's patterns
// compiled to RegExps, its conditions to closures, and every request scanned
// against every rule, the most specific candidate winning as
// policy-language.md §5 says (resource specificity, then action, then the
// number of conditions; deny beats escalate beats allow; then rule order).
// Conditions fail closed (§3): a value that is not a number keeps an allow
// rule from matching and makes a deny or escalate rule match.
import { comparisons, DEFAULT_TRUST_LEVELS, patternRegExpSource, patternsOf, rulesOf, specificity } from "../patterns.mjs";

const EFFECT_RANK = { deny: 2, escalate: 1, allow: 0 };
const COMPARE = {
  "<=": (a, b) => a <= b, "<": (a, b) => a < b, ">=": (a, b) => a >= b, ">": (a, b) => a > b,
  "==": (a, b) => a === b, "!=": (a, b) => a !== b,
};

function compileCondition({ path, op, value }, failClosed) {
  const test = COMPARE[op];
  return (context) => {
    let v = context;
    for (const key of path) v = v !== null && typeof v === "object" ? v[key] : undefined;
    return typeof v === "number" ? test(v, value) : failClosed;
  };
}

/** Compiles a bundle's rules: one entry per rule, patterns as RegExps with their specificity. */
export function compile(policies) {
  return rulesOf(policies).map(({ policy, rule }, order) => {
    const fails = rule.effect !== "allow";
    const levels = policy.trust_levels ?? DEFAULT_TRUST_LEVELS;
    return {
      effect: rule.effect,
      rank: EFFECT_RANK[rule.effect],
      order,
      actions: patternsOf(rule.action).map((p) => ({ re: new RegExp(patternRegExpSource(p), "su"), spec: specificity(p) })),
      resources: patternsOf(rule.resource).map((p) => ({ re: new RegExp(patternRegExpSource(p), "su"), spec: specificity(p) })),
      conditions: comparisons(rule.conditions).map((c) => compileCondition(c, fails)),
      trust: rule.trust_level === undefined ? -1 : levels.indexOf(rule.trust_level),
      levels,
      weight: comparisons(rule.conditions).length + (rule.trust_level === undefined ? 0 : 1),
    };
  });
}

/** The most specific of a rule's patterns that match, or null. */
function bestMatch(patterns, text) {
  let best = null;
  for (const p of patterns) {
    if (p.re.test(text) && (best === null || p.spec[0] > best[0] || (p.spec[0] === best[0] && p.spec[1] < best[1]))) best = p.spec;
  }
  return best;
}

/** [resource spec, action spec, weight, rank]: positive when a beats b. */
function beats(a, b) {
  return a.res[0] - b.res[0] || b.res[1] - a.res[1] || a.act[0] - b.act[0] || b.act[1] - a.act[1]
    || a.rule.weight - b.rule.weight || a.rule.rank - b.rule.rank || b.rule.order - a.rule.order;
}

export function decide(rules, action, resource, context, agent) {
  let win = null;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    const res = bestMatch(rule.resources, resource);
    if (res === null) continue;
    const act = bestMatch(rule.actions, action);
    if (act === null) continue;
    if (rule.trust >= 0 && !(agent && rule.levels.indexOf(agent.trust_level) >= rule.trust)) continue;
    let holds = true;
    for (let c = 0; c < rule.conditions.length && holds; c++) holds = rule.conditions[c](context ?? {});
    if (!holds) continue;
    const candidate = { rule, res, act };
    if (win === null || beats(candidate, win) > 0) win = candidate;
  }
  return win === null ? "deny" : win.rule.effect;
}

export default {
  id: "baseline",
  label: "JS baseline",
  packageName: null,
  wasm: false,
  call: "`decide(rules, action, resource, context, agent)`",
  expressed: "each rule's patterns as anchored RegExps, conditions as closures; every request scans every rule and the most specific candidate wins (§5), conditions failing closed (§3)",

  async start() {
    return {};
  },

  async coldStart() {
    return { api: {}, importMs: null, instantiateMs: null };
  },

  version: () => "compare/engines/baseline.mjs",

  source: (workload) => JSON.stringify(workload.policies),

  create: () => null,

  load: (api, _, source) => compile(JSON.parse(source)),

  prepare: (api, rules, r) => [r.action, r.resource, r.context, r.agent],

  decide: (rules, [action, resource, context, agent]) => decide(rules, action, resource, context, agent),

  outcome: (effect) => effect,
};
