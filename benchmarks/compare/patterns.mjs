// Warden's patterns and conditions (policy-language.md §2, §3), taken apart
// for the translations into other engines. Anything a translation cannot
// express faithfully throws, so a workload can never be quietly rewritten
// into something easier.

/** Parses a pattern into literal runs and wildcards: [{lit: "tool/svc1/"}, {star: true}]. */
export function parsePattern(pattern) {
  const parts = [];
  let lit = "";
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === "\\") {
      if (i + 1 >= chars.length) throw new Error(`pattern \`${pattern}\` ends in a lone \\`);
      lit += chars[++i];
    } else if (c === "*" || c === "?") {
      if (lit) parts.push({ lit });
      lit = "";
      parts.push(c === "*" ? { star: true } : { one: true });
    } else lit += c;
  }
  if (lit) parts.push({ lit });
  return parts;
}

/**
 * What shape a pattern has: `literal` (no wildcard), `prefix` (a literal then
 * one trailing `*`) or `glob` (anything else), with the literal text.
 */
export function patternShape(pattern) {
  const parts = parsePattern(pattern);
  if (parts.every((p) => p.lit !== undefined)) return { kind: "literal", text: parts.map((p) => p.lit).join("") };
  const last = parts[parts.length - 1];
  if (last.star && parts.slice(0, -1).every((p) => p.lit !== undefined)) {
    return { kind: "prefix", text: parts.slice(0, -1).map((p) => p.lit).join("") };
  }
  return { kind: "glob" };
}

/** §2 specificity: [literal characters, wildcards]. */
export function specificity(pattern) {
  let literal = 0;
  let wild = 0;
  for (const p of parsePattern(pattern)) {
    if (p.lit !== undefined) literal += [...p.lit].length;
    else wild++;
  }
  return [literal, wild];
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** An anchored RegExp source (for the `u` and `s` flags) matching exactly what the pattern matches. */
export function patternRegExpSource(pattern) {
  return `^${parsePattern(pattern).map((p) => (p.lit !== undefined ? escapeRegExp(p.lit) : p.star ? ".*" : ".")).join("")}$`;
}

/** The patterns of a rule field (a pattern or an array of them; resource defaults to `*`). */
export const patternsOf = (field) => (field === undefined ? ["*"] : Array.isArray(field) ? field : [field]);

/**
 * The conditions the workloads use, in expression form: one comparison of a
 * context path with a number (`context.amount <= 500`). Returns
 * [{path: ["amount"], op: "<=", value: 500}]; anything else throws.
 */
export function comparisons(conditions) {
  if (conditions === undefined) return [];
  const list = Array.isArray(conditions) ? conditions : [conditions];
  return list.map((text) => {
    if (typeof text !== "string") throw new Error(`conditions in object form are not translated: ${JSON.stringify(text)}`);
    const m = /^\s*context\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(<=|>=|<|>|==|!=)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*$/.exec(text);
    if (!m) throw new Error(`condition \`${text}\` is not one comparison of a context path with a number`);
    return { path: m[1].split("."), op: m[2], value: Number(m[3]) };
  });
}

export const DEFAULT_TRUST_LEVELS = ["basic", "elevated", "admin"];

/** The trust levels at or above `level` in the policy's order (§4). */
export function levelsAtLeast(policy, level) {
  const levels = policy.trust_levels ?? DEFAULT_TRUST_LEVELS;
  const i = levels.indexOf(level);
  if (i < 0) throw new Error(`trust level \`${level}\` is not in the policy's trust_levels`);
  return levels.slice(i);
}

/** Every rule of a bundle with its policy, in policy order then rule order. */
export function rulesOf(policies) {
  const out = [];
  policies.forEach((policy, pi) => {
    if (policy.agent_match || policy.rate_limits || (policy.default_effect ?? "deny") !== "deny") {
      throw new Error(`policy ${pi}: agent_match, rate_limits and default_effect allow are not translated`);
    }
    policy.rules.forEach((rule, ri) => out.push({ policy, rule, pi, ri }));
  });
  return out;
}
