// Escalation (policy-language.md §8): a decision whose effect is `escalate`
// is not allowed, but a person may approve that one request. The host asks
// through an approval handler; an approval allows the request with that
// digest once. The engine only decides; approvals live here.

const encoder = new TextEncoder();

/** RFC 8785 (JSON Canonicalization Scheme) text of a JSON value: members sorted by UTF-16 code units, numbers as ECMAScript writes them. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    const text = JSON.stringify(value);
    return text === undefined ? "null" : text;
  }
  const v = typeof (value as { toJSON?: unknown }).toJSON === "function" ? (value as { toJSON(): unknown }).toJSON() : value;
  if (v !== value) return canonicalJson(v);
  if (Array.isArray(value)) return `[${value.map((e) => (e === undefined || typeof e === "function" || typeof e === "symbol" ? "null" : canonicalJson(e))).join(",")}]`;
  const members = Object.keys(value)
    .filter((k) => {
      const m = (value as Record<string, unknown>)[k];
      return m !== undefined && typeof m !== "function" && typeof m !== "symbol";
    })
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${members.join(",")}}`;
}

/** The digest of a request (§8): SHA-256, hex, of the canonical JSON of {action, resource, context, agent}. */
export async function requestDigest(request: { action: string; resource?: string; context?: object; agent?: unknown }): Promise<string> {
  const text = canonicalJson({ action: request.action, resource: request.resource ?? "", context: request.context ?? {}, agent: request.agent ?? null });
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text) as BufferSource));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}
