import { describe, it, expect, beforeAll } from "vitest";
import { Warden, REDACTED, type AuditRecord } from "./index.js";
import { wasmBytes } from "./test-support.js";

let module: WebAssembly.Module;
beforeAll(async () => {
  module = await WebAssembly.compile(await wasmBytes());
});

const POLICIES = [
  {
    name: "support",
    audit: { log_allowed: false, redact: ["user.email", "card"] },
    rules: [
      { name: "lookups", effect: "allow", action: "tool.call", resource: "tool/lookup_*" },
      { name: "quiet", effect: "deny", action: "tool.call", resource: "tool/ping", log: false },
      { name: "refunds", effect: "escalate", action: "tool.call", resource: "tool/refund", log_context: ["amount", "user.email", "order.id"] },
      { name: "deletes", effect: "deny", action: "tool.call", resource: "tool/delete_*", alert: true, reason: "never delete" },
    ],
  },
  { name: "models", rules: [{ effect: "allow", action: "model.call", alert: true }] },
];

async function audited(policies: unknown[] = POLICIES, options: Record<string, unknown> = {}) {
  const records: AuditRecord[] = [];
  const w = await Warden.create({ wasm: module, policies: policies as never, audit: (r) => records.push(r), clock: () => Date.UTC(2026, 2, 5, 10), ...options });
  return { w, records };
}

describe("audit records", () => {
  it("are written as the rule's log and the policy's audit settings say", async () => {
    const { w, records } = await audited();
    const agent = { id: "bot", trust_level: "basic" };
    w.check("tool.call", "tool/lookup_order", { user: { email: "a@b.c" } }, { agent }); // allowed: the policy does not log allowed
    w.check("tool.call", "tool/ping"); // the rule does not log
    w.check("model.call", "gpt"); // allowed by a policy that logs allowed decisions
    w.check("tool.call", "tool/nothing"); // no rule: the default deny is logged
    expect(records.map((r) => [r.effect, r.policyName, r.ruleName])).toEqual([["allow", "models", null], ["deny", null, null]]);
    expect(records[0]).toMatchObject({ at: "2026-03-05T10:00:00.000Z", action: "model.call", resource: "gpt", agent: null, context: null, allowed: true, alert: true });
  });

  it("carry the context as JSON writes it: the rule's log_context alone when it names one, redacted paths of every policy replaced", async () => {
    const { w, records } = await audited();
    const context = { amount: 900, user: { email: "a@b.c", name: "Ann" }, card: "4111", note: "x" };
    w.checkRequest({ action: "tool.call", resource: "tool/refund", context, agent: { id: "bot", tags: ["t"] }, time: "2026-03-05T12:00:00+01:00" });
    w.check("tool.call", "tool/delete_account", { ...context, when: new Date(0) });
    expect(records[0]).toMatchObject({
      at: "2026-03-05T11:00:00.000Z", effect: "escalate", agent: { id: "bot", tags: ["t"] },
      context: { amount: 900, user: { email: REDACTED } },
    });
    expect(records[1].context).toEqual({ amount: 900, user: { email: REDACTED, name: "Ann" }, card: REDACTED, note: "x", when: "1970-01-01T00:00:00.000Z" });
    // The record is a copy: changing the request afterwards changes nothing in it.
    context.user.name = "Bob";
    expect((records[1].context as { user: { name: string } }).user.name).toBe("Ann");
  });

  it("record invalid requests, and approvals with their approver", async () => {
    const { w, records } = await audited(POLICIES, { approvals: { handler: async () => ({ approved: true, approver: "lead@shop" }) } });
    w.check("tool.call", "tool/x", { bad: 10n } as never);
    const approved = await w.authorize("tool.call", "tool/refund", { amount: 900 });
    expect(records.map((r) => [r.effect, r.allowed, r.approvedBy, r.error?.code])).toEqual([
      ["deny", false, undefined, "ERR_REQUEST_INVALID"], ["escalate", false, undefined, undefined], ["escalate", true, "lead@shop", undefined],
    ]);
    expect(records[2].approvalDigest).toBe(approved.approvalDigest);
  });

  it("are written for requests whose context has no JSON form, with no context", async () => {
    const { w, records } = await audited();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const throwing = { get amount(): number { throw new Error("no amount"); } };
    expect(w.check("tool.call", "tool/delete_x", cyclic).error?.code).toBe("ERR_REQUEST_INVALID");
    expect(w.check("tool.call", "tool/delete_x", throwing).error?.code).toBe("ERR_ENGINE");
    expect(w.check("tool.call", "tool/delete_x", {}, { agent: cyclic as never, time: "2026-03-05T23:59:60Z" }).error?.code).toBe("ERR_REQUEST_INVALID");
    expect(records.map((r) => [r.context, r.error?.code])).toEqual([[null, "ERR_REQUEST_INVALID"], [null, "ERR_ENGINE"], [{}, "ERR_REQUEST_INVALID"]]);
    expect(records[2]).toMatchObject({ agent: null, at: "2026-03-05T23:59:60Z" });
  });

  it("record an approval under the policies that escalated, whatever loads while a person decides", async () => {
    const records: AuditRecord[] = [];
    let w!: Warden;
    const escalating = [{ name: "e", audit: { redact: ["card"] }, rules: [{ effect: "escalate", action: "pay" }] }];
    w = await Warden.create({
      wasm: module, policies: escalating as never, audit: (r) => records.push(r),
      approvals: { handler: async () => { w.load([{ name: "other", rules: [] }]); return { approved: true, approver: "ann" }; } },
    });
    await w.authorize("pay", "x", { card: "4111" });
    expect(records.map((r) => [r.allowed, r.context])).toEqual([[false, { card: REDACTED }], [true, { card: REDACTED }]]);
  });

  it("record what JSON can write of odd requests, and every alert listener hears of each alert", async () => {
    const { w, records } = await audited();
    expect(w.check(10n as never, "tool/x").error?.code).toBe("ERR_REQUEST_INVALID");
    expect(w.check("a", "r", undefined, { time: Object.create(null) }).error?.code).toBe("ERR_REQUEST_INVALID");
    w.check("a", "r", undefined, { time: "2026-03-05 10:00" });
    expect(records.map((r) => [r.action, r.at])).toEqual([
      [null, "2026-03-05T10:00:00.000Z"], ["a", "2026-03-05T10:00:00.000Z"], ["a", "2026-03-05 10:00"],
    ]);
    const heard: number[] = [];
    w.on("alert", () => { throw new Error("first"); });
    w.on("alert", () => heard.push(1));
    w.on("auditError", () => {});
    w.check("model.call", "gpt");
    expect(heard).toEqual([1]);
  });

  it("read the context once: the check and its record see what one toJSON gave", async () => {
    const { w, records } = await audited([{ rules: [{ effect: "deny", action: "a", conditions: "context.n == 1", log_context: ["n"] }] }]);
    let calls = 0;
    const context = { toJSON: () => ({ n: ++calls }) };
    expect(w.check("a", "r", context).ruleName).toBe(null);
    expect(w.check("a", "r", context).rule).toBe(null);
    expect(records.map((r) => r.context)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(calls).toBe(2);
    const first = await audited([{ rules: [{ effect: "deny", action: "a", conditions: "context.n == 1" }] }]);
    calls = 0;
    expect(first.w.check("a", "r", context).rule).toBe(0);
    expect(first.records[0].context).toEqual({ n: 1 });
  });

  it("raise alerts for rules with alert: true, and keep deciding when a sink or a listener throws", async () => {
    const errors: unknown[] = [];
    const w = await Warden.create({ wasm: module, policies: POLICIES as never, audit: () => { throw new Error("disk full"); } });
    const alerts: AuditRecord[] = [];
    w.on("alert", (r) => alerts.push(r));
    w.on("alert", () => { throw new Error("pager down"); });
    w.on("auditError", (e) => errors.push((e.error as Error).message));
    expect(w.check("tool.call", "tool/delete_account").reason).toBe("never delete");
    expect(w.enforce("model.call", "gpt").allowed).toBe(true);
    expect(alerts.map((r) => r.ruleName ?? r.policyName)).toEqual(["deletes", "models"]);
    expect(errors).toEqual(["pager down", "disk full", "pager down", "disk full"]);
  });

  it("are written only when asked for: a client without a sink or alert listener checks on its class's own method", async () => {
    const plain = await Warden.create({ wasm: module, policies: POLICIES as never });
    expect(Object.prototype.hasOwnProperty.call(plain, "check")).toBe(false);
    const { w } = await audited();
    expect(Object.prototype.hasOwnProperty.call(w, "check")).toBe(true);
    plain.on("alert", () => {});
    expect(Object.prototype.hasOwnProperty.call(plain, "check")).toBe(true);
  });
});
