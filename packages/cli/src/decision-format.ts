// Decisions and explanations as people read them in a terminal.
import type { Decision, Explanation, ExplainedRule, PatternMatch } from "@warden/node";

/** Each effect as a terminal shows it. */
export const LABEL = { allow: "ALLOW", deny: "DENY", escalate: "ESCALATE" } as const;

/** "rule 2 (deletes)": an index and its name, when it has one; "" without an index. */
export function named(kind: string, index: number | null, name: string | null): string {
  return index === null ? "" : `${kind} ${index}${name ? ` (${name})` : ""}`;
}

/** The decision in a few lines: effect, request, the rule that decided, the reason. */
export function formatDecision(action: string, resource: string | undefined, d: Decision): string {
  const lines = [`${LABEL[d.effect]}  ${action}${resource !== undefined ? ` ${resource}` : ""}`];
  if (d.rule !== null) lines.push(`  rule:    ${named("rule", d.rule, d.ruleName)} of ${named("policy", d.policy, d.policyName)}`);
  else if (!d.error) lines.push("  rule:    none matched");
  lines.push(`  reason:  ${d.reason}`);
  if (d.rateLimit) lines.push(`  limited: rate limit ${d.rateLimit.index} of policy ${d.rateLimit.policy}`);
  if (d.indeterminate.length > 0) lines.push(`  unknown: ${d.indeterminate.join(", ")} (conditions could not be decided)`);
  if (d.effect === "escalate") lines.push("  a person may approve this one request");
  return lines.join("\n");
}

function matched(kind: string, m: PatternMatch): string {
  if (!m.matched) return `${kind} ${m.patterns.map((p) => `\`${p}\``).join(" or ")} does not match`;
  const [lit, wild] = m.specificity;
  return `${kind} \`${m.pattern}\` [${lit} literal, ${wild} wildcard${wild === 1 ? "" : "s"}]`;
}

function ruleLine(r: ExplainedRule): string {
  const head = `    ${r.candidate ? "*" : " "} policy ${r.policy} rule ${r.rule}${r.name ? ` (${r.name})` : ""} ${r.effect}:`;
  if (!r.action.matched) return `${head} ${matched("action", r.action)}`;
  if (r.resource && !r.resource.matched) return `${head} ${matched("resource", r.resource)}`;
  const parts = [matched("action", r.action), matched("resource", r.resource!)];
  if (r.trust) parts.push(`trust needs ${r.trust.required}, the agent has ${r.trust.agent ?? "none"}${r.trust.matched ? "" : ": too low"}`);
  if (r.conditions) {
    const c = r.conditions;
    parts.push(c.result === "none" ? "no conditions" : `conditions ${c.result}${c.indeterminate?.length ? ` (unknown: ${c.indeterminate.join(", ")})` : ""}`);
  }
  return `${head} ${parts.join("; ")}`;
}

/** Why: the winner's reason to win, then every rule considered (* marks candidates). */
export function formatExplanation(e: Explanation): string {
  const lines = [`  why:     ${e.why}`];
  const inapplicable = e.policies.filter((p) => !p.applicable);
  for (const p of inapplicable) lines.push(`  policy ${p.policy}${p.name ? ` (${p.name})` : ""} does not apply to this agent`);
  if (e.rules.length > 0) {
    lines.push("  rules:");
    for (const r of e.rules) lines.push(ruleLine(r));
  }
  for (const l of e.rateLimits) {
    if (!l.matched) continue;
    lines.push(`  rate limit ${l.index} of policy ${l.policy}: ${l.count ?? 0} of ${l.limit ?? "?"} used for key ${JSON.stringify(l.key ?? null)}${l.full ? " (full)" : ""}`);
  }
  return lines.join("\n");
}
