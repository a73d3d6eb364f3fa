// `warden audit`: reads audit logs (JSON lines, as `warden check --audit`
// and @warden/node's auditLog write them) and prints their records, filtered,
// as people read them or as JSON lines, with a count at the end.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { AuditRecord } from "@warden/node";
import { parse, UsageError } from "./usage.js";
import { LABEL, named } from "./decision-format.js";

const EFFECTS = ["allow", "deny", "escalate"] as const;

function isRecord(v: unknown): v is AuditRecord {
  const r = v as AuditRecord;
  return v !== null && typeof v === "object" && typeof r.at === "string" && (EFFECTS as readonly string[]).includes(r.effect) && typeof r.allowed === "boolean";
}

/** Text from a record as one line a terminal shows as it is: control and line-separator characters escaped. */
const printable = (v: unknown) => String(v).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** named, with the name printable. */
const namedPrintable = (kind: string, index: number | null, name: string | null) => named(kind, index, name === null ? null : printable(name));

/** One record on one line: time, effect, request, agent, what decided it, why. */
export function formatRecord(r: AuditRecord): string {
  const effect = r.approvedBy !== undefined ? "APPROVED" : LABEL[r.effect];
  const agent = r.agent && typeof r.agent.id === "string" ? `  agent ${printable(r.agent.id)}` : "";
  const by = r.rule !== null ? `  ${namedPrintable("rule", r.rule, r.ruleName)} of ${namedPrintable("policy", r.policy, r.policyName)}` : r.error ? "" : "  no rule";
  const notes = [
    r.approvedBy !== undefined ? `approved by ${r.approvedBy ? printable(r.approvedBy) : "(unnamed)"}` : "",
    r.rateLimit ? `rate limit ${r.rateLimit.index} of policy ${r.rateLimit.policy}` : "",
    r.error ? r.error.code : "",
    r.alert ? "ALERT" : "",
  ].filter(Boolean);
  const resource = r.resource === null ? "" : ` ${printable(r.resource)}`;
  return `${printable(r.at)}  ${effect.padEnd(8)}  ${printable(r.action)}${resource}${agent}${by} — ${printable(r.reason)}${notes.length ? `  [${notes.join("; ")}]` : ""}`;
}

/** `warden audit FILE... [--effect E] [--agent ID] [--since TIME] [--json]`. */
export async function audit(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    effect: { type: "string", multiple: true },
    agent: { type: "string" },
    since: { type: "string" },
    json: { type: "boolean" },
  });
  if (positionals.length === 0) throw new UsageError("audit needs FILE (one or more audit logs, JSON lines)");
  const effects = values.effect ?? [];
  for (const e of effects) {
    if (!(EFFECTS as readonly string[]).includes(e)) throw new UsageError(`--effect ${e}: use allow, deny or escalate`);
  }
  const since = values.since === undefined ? null : Date.parse(values.since);
  if (since !== null && Number.isNaN(since)) throw new UsageError(`--since ${values.since} is not a time: write it as RFC 3339, such as 2026-03-05T10:00:00Z`);
  const counts = { records: 0, allow: 0, deny: 0, escalate: 0, approved: 0, alerts: 0 };
  let unreadable = 0;
  for (const file of positionals) {
    let n = 0;
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const line of lines) {
      n++;
      if (line.trim() === "") continue;
      let r: unknown;
      try {
        r = JSON.parse(line);
      } catch {
        r = undefined;
      }
      if (!isRecord(r)) {
        unreadable++;
        console.error(`${file}:${n}: not an audit record (a JSON object with at, effect and allowed)`);
        continue;
      }
      if (effects.length > 0 && !effects.includes(r.effect)) continue;
      if (values.agent !== undefined && r.agent?.id !== values.agent) continue;
      if (since !== null && !(Date.parse(r.at) >= since)) continue;
      counts.records++;
      counts[r.effect]++;
      if (r.approvedBy !== undefined) counts.approved++;
      if (r.alert) counts.alerts++;
      console.log(values.json ? JSON.stringify(r) : formatRecord(r));
    }
  }
  if (!values.json) {
    console.log(`\n${counts.records} record${counts.records === 1 ? "" : "s"}: ${counts.allow} allowed, ${counts.deny} denied, ${counts.escalate} escalated (${counts.approved} approved), ${counts.alerts} alert${counts.alerts === 1 ? "" : "s"}`);
  }
  return unreadable > 0 ? 1 : 0;
}
