// examples/worker-gateway end to end in workerd, against a fake upstream:
// an allowed request arrives upstream byte for byte; a denied one never does.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { bundleWorker, startWorker, repoRoot } from "../test/workerd-harness.mjs";

const received: Array<{ method: string; path: string; body: Buffer; auth: string | undefined }> = [];
let upstream: Server;
let mf: Miniflare;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ method: req.method ?? "", path: req.url ?? "", body: Buffer.concat(chunks), auth: req.headers.authorization });
      res.writeHead(200, { "Content-Type": "application/json" }).end('{"id":"chatcmpl-1","choices":[]}');
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const script = await bundleWorker(join(repoRoot, "examples/worker-gateway/src/worker.ts"));
  mf = await startWorker(script, { UPSTREAM_URL: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` }, false);
});

afterAll(async () => {
  await mf?.dispose();
  await new Promise<void>((r) => upstream.close(() => r()));
});

const post = (body: string) => mf.dispatchFetch("http://gateway/v1/chat/completions", {
  method: "POST", body, headers: { "Content-Type": "application/json", Authorization: "Bearer sk-test" },
});

describe("examples/worker-gateway in workerd", () => {
  it("forwards an allowed request unchanged and relays the answer", async () => {
    // Odd spacing and key order on purpose: the upstream must get these exact bytes.
    const body = '{"model":  "gpt-4o-mini", "messages": [{"role": "user", "content": "where is order 7?"},\n {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup_order", "arguments": "{\\"order_id\\": 7}"}}]}]}';
    const res = await post(body);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: "chatcmpl-1", choices: [] });
    const last = received.at(-1)!;
    expect(last.path).toBe("/v1/chat/completions");
    expect(last.body.equals(Buffer.from(body))).toBe(true);
    expect(last.auth).toBe("Bearer sk-test");
  });

  it("refuses a denied model or tool call with a JSON error that says why, and forwards nothing", async () => {
    const before = received.length;
    const model = await post('{"model": "o1-pro", "messages": []}');
    expect(model.status).toBe(403);
    expect(await model.json()).toMatchObject({ error: { type: "policy_violation", code: "denied", message: "model `o1-pro`: no rule matched, so the request is denied by default" } });
    const tool = await post(JSON.stringify({ model: "gpt-4o", messages: [{ role: "assistant", tool_calls: [{ function: { name: "execute_python", arguments: "{}" } }] }] }));
    expect(await tool.json()).toMatchObject({ error: { code: "denied", message: "tool `execute_python`: agents never run code through this gateway", rule: "no code execution" } });
    const refund = await post(JSON.stringify({ model: "gpt-4o", messages: [{ role: "assistant", tool_calls: [{ function: { name: "issue_refund", arguments: '{"amount": 600}' } }] }] }));
    expect(await refund.json()).toMatchObject({ error: { code: "approval_required", message: "tool `issue_refund`: refunds over $50 need a person" } });
    expect(received.length).toBe(before);
  });
});
