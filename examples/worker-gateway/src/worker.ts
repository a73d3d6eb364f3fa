// An AI gateway on Cloudflare Workers: every chat-completion request is
// checked with Warden before it reaches the upstream API — the model
// (`llm.generate` on `model/{name}`) and each tool call the conversation
// carries (`tool.call` on `tool/{name}`, its arguments as the context). A
// denied call is answered with a JSON error that says why; an allowed request
// is forwarded unchanged, byte for byte, and the upstream's answer streamed back.
import { Warden, wardenFor, kvCache, type Decision, type KVNamespaceLike } from "@warden/edge";
import policies from "./policies.json";

interface Env {
  UPSTREAM_URL: string;
  WARDEN_KV: KVNamespaceLike;
  BUNDLE_URL?: string;
  WARDEN_PROJECT?: string;
  WARDEN_PROJECT_KEY?: string;
  WARDEN_TRUSTED_KEYS?: string;
}

interface Ctx {
  waitUntil(p: Promise<unknown>): void;
}

interface ChatRequest {
  model?: unknown;
  messages?: Array<{ role?: string; tool_calls?: Array<{ function?: { name?: string; arguments?: string } }> }>;
}

let inline: Promise<Warden> | null = null;

function warden(env: Env, ctx: Ctx): Promise<Warden> {
  if (env.BUNDLE_URL) {
    return wardenFor({
      url: env.BUNDLE_URL, project: env.WARDEN_PROJECT ?? "", projectKey: env.WARDEN_PROJECT_KEY,
      trustedKeys: JSON.parse(env.WARDEN_TRUSTED_KEYS ?? "{}"), cache: kvCache(env.WARDEN_KV),
    }, ctx);
  }
  inline ??= Warden.create({ policies });
  return inline;
}

function refuse(d: Decision, what: string): Response {
  return Response.json(
    { error: { type: "policy_violation", code: d.effect === "escalate" ? "approval_required" : "denied", message: `${what}: ${d.reason}`, rule: d.ruleName, indeterminate: d.indeterminate } },
    { status: 403 },
  );
}

/** The decisions a chat-completion body needs; the first that is not an allow, or null. */
function firstRefusal(w: Warden, body: ChatRequest): Response | null {
  const model = typeof body.model === "string" ? body.model : "";
  const d = w.check("llm.generate", `model/${model}`);
  if (!d.allowed) return refuse(d, `model \`${model}\``);
  for (const message of body.messages ?? []) {
    for (const call of message.tool_calls ?? []) {
      const name = call.function?.name ?? "";
      let args: unknown = {};
      try {
        args = JSON.parse(call.function?.arguments ?? "{}");
      } catch {
        args = { unparsed: call.function?.arguments };
      }
      const context = args !== null && typeof args === "object" && !Array.isArray(args) ? args : { value: args };
      const t = w.check("tool.call", `tool/${name}`, context);
      if (!t.allowed) return refuse(t, `tool \`${name}\``);
    }
  }
  return null;
}

export default {
  async fetch(request: Request, env: Env, ctx: Ctx): Promise<Response> {
    const url = new URL(request.url);
    const upstream = new URL(url.pathname + url.search, env.UPSTREAM_URL);
    const bytes = request.method === "POST" ? await request.arrayBuffer() : null;
    if (url.pathname.endsWith("/chat/completions") && bytes) {
      let body: ChatRequest;
      try {
        body = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        return Response.json({ error: { type: "invalid_request_error", message: "the body is not JSON" } }, { status: 400 });
      }
      const refusal = firstRefusal(await warden(env, ctx), body);
      if (refusal) return refusal;
    }
    return fetch(upstream, { method: request.method, headers: request.headers, body: bytes });
  },
};
