import { describe, it, expect, beforeAll } from "vitest";
import { createHash } from "node:crypto";
import { Warden, PolicyInvalidError, PolicyViolationError, WardenError, canonicalJson, requestDigest, type RecoveredEvent } from "./index.js";
import { wasmBytes } from "./test-support.js";

let module: WebAssembly.Module;
beforeAll(async () => {
  module = await WebAssembly.compile(await wasmBytes());
});

const REFUNDS = [
  {
    name: "refunds",
    rules: [
      { name: "lookups", effect: "allow", action: "tool.call", resource: "tool/lookup_*" },
      { name: "small", effect: "allow", action: "tool.call", resource: "tool/issue_refund", conditions: "context.amount <= 50" },
      { name: "large", effect: "escalate", action: "tool.call", resource: "tool/issue_refund", conditions: "context.amount > 500", reason: "refunds over $500 need a person" },
      { effect: "deny", action: "tool.call", resource: "tool/delete_*", alert: true, log_context: ["user.id"] },
    ],
    rate_limits: [{ action: "tool.call", resource: "tool/issue_refund", limit: 2, period: "1h", scope: "agent" }],
  },
];

const create = (policies?: unknown[]) => Warden.create({ wasm: module, policies: policies as never });

describe("check", () => {
  it("returns the winning rule, its names, reason and flags", async () => {
    const w = await create(REFUNDS);
    const d = w.check("tool.call", "tool/delete_account", { user: { id: 7 } });
    expect(d).toMatchObject({
      allowed: false, effect: "deny", policy: 0, policyName: "refunds", rule: 3, ruleName: null,
      reasonGiven: false, indeterminate: [], rateLimit: null, log: true, logContext: ["user.id"], alert: true,
    });
    expect(d.reason).toBe("denied by rule 3 of policy 0 (`refunds`)");
    expect(d.error).toBeUndefined();
  });

  it("tells an escalation from a denial", async () => {
    const w = await create(REFUNDS);
    const d = w.check("tool.call", "tool/issue_refund", { amount: 900 }, { agent: { id: "bot" } });
    expect(d).toMatchObject({ allowed: false, effect: "escalate", rule: 2, reason: "refunds over $500 need a person", reasonGiven: true });
    try {
      w.enforce("tool.call", "tool/issue_refund", { amount: 900 }, { agent: { id: "bot" } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PolicyViolationError);
      expect((e as PolicyViolationError).code).toBe("ERR_POLICY_VIOLATION");
      expect((e as PolicyViolationError).decision.effect).toBe("escalate");
    }
    expect(w.enforce("tool.call", "tool/lookup_order").allowed).toBe(true);
  });

  it("denies everything before policies are loaded", async () => {
    const w = await create();
    expect(w.check("tool.call", "tool/lookup_order")).toMatchObject({ allowed: false, effect: "deny", policy: null, rule: null });
  });

  it("reads the context as JSON.stringify would", async () => {
    const w = await create([{
      rules: [
        { effect: "allow", action: "date", conditions: "context.when == '2026-03-05T10:00:00.000Z'" },
        { effect: "allow", action: "nan", conditions: { v: null } },
        { effect: "allow", action: "gone", conditions: { v: { exists: false } } },
        { effect: "allow", action: "boxed", conditions: "context.v == 5" },
      ],
    }]);
    expect(w.check("date", undefined, { when: new Date(Date.UTC(2026, 2, 5, 10)) }).allowed).toBe(true);
    expect(w.check("nan", undefined, { v: NaN }).allowed).toBe(true);
    expect(w.check("gone", undefined, { v: undefined }).allowed).toBe(true);
    expect(w.check("gone", undefined, { v: () => 1 }).allowed).toBe(true);
    expect(w.check("boxed", undefined, { v: new Number(5) }).allowed).toBe(true);
  });

  it("reads only own enumerable members, each path from one reading of the context", async () => {
    const w = await create([{
      rules: [
        { effect: "allow", action: "a", conditions: "context.v == 1" },
        { effect: "allow", action: "b", conditions: "context.user.tier == 'gold' AND context.user.id == 'u1' AND context.v == 1" },
      ],
    }]);
    const missing = (d: { allowed: boolean; indeterminate: readonly string[] }) => !d.allowed && d.indeterminate.includes("context.v");
    // Lent by a prototype, not enumerable, or keyed by a symbol: JSON has no such member.
    expect(missing(w.check("a", undefined, Object.create({ v: 1 })))).toBe(true);
    expect(missing(w.check("a", undefined, Object.defineProperty({}, "v", { value: 1, enumerable: false })))).toBe(true);
    expect(missing(w.check("a", undefined, { [Symbol("v")]: 1 }))).toBe(true);
    // An own member shadows the prototype's; one not enumerable hides it, as in JSON.
    expect(w.check("a", undefined, Object.assign(Object.create({ v: 2 }), { v: 1 })).allowed).toBe(true);
    expect(missing(w.check("a", undefined, Object.defineProperty(Object.create({ v: 1 }), "v", { value: 1, enumerable: false })))).toBe(true);
    // Two paths under one member, and toJSON asked once per reading.
    let calls = 0;
    const user = { toJSON: () => (calls++, { tier: "gold", id: "u1" }) };
    expect(w.check("b", undefined, { user, v: 1 }).allowed).toBe(true);
    expect(calls).toBe(1);
    expect(w.check("b", undefined, { v: 1, user: { tier: "gold", id: "u2" } }).allowed).toBe(false);
    // A context that is itself not plain still reads through toJSON.
    expect(w.check("a", undefined, { toJSON: () => ({ v: 1 }) }).allowed).toBe(true);
  });

  it("decides a check made from user code inside another, but refuses one made while the other is written", async () => {
    const w = await create([{ rules: [{ effect: "allow", action: "a", conditions: "context.v == 1 AND context.u.w == 2" }] }]);
    let inner: ReturnType<typeof w.check> | undefined;
    // While the context is read (a toJSON or getter of a member): decided, with a context of its own.
    const viaToJSON = { v: 1, u: { toJSON: () => ((inner = w.check("a", undefined, { v: 2, u: { w: 2 } })), { w: 2 }) } };
    expect(w.check("a", undefined, viaToJSON).allowed).toBe(true);
    expect(inner?.allowed).toBe(false);
    expect(inner?.error).toBeUndefined();
    const viaGetter = { v: 1, get u() { inner = w.check("a", undefined, { v: 1, u: { w: 2 } }); return { w: 2 }; } };
    expect(w.check("a", undefined, viaGetter).allowed).toBe(true);
    expect(inner).toMatchObject({ allowed: true });
    // While the request record is written (a getter of a value sent below the top level): refused.
    const whileWriting = { v: 1, u: { get w() { inner = w.check("a", undefined, { v: 1, u: { w: 2 } }); return 2; } } };
    expect(w.check("a", undefined, whileWriting).allowed).toBe(true);
    expect(inner?.error?.code).toBe("ERR_REQUEST_INVALID");
    expect(inner?.error?.message).toMatch(/while this client was writing another's request/);
    // And the client decides normally after.
    expect(w.check("a", undefined, { v: 1, u: { w: 2 } }).allowed).toBe(true);
  });

  it("reads the request again for policies loaded while it was read", async () => {
    const P = [{ rules: [{ effect: "allow", action: "a", conditions: { suspended: { exists: false } } }] }];
    const w = await create(P);
    expect(w.check("a", undefined, { suspended: true, get z() { w.load(P); return 0; } }).allowed).toBe(false);
    // Other policies, loaded from a getter once: the request is read again and decided by them.
    const Q = [{ rules: [{ effect: "allow", action: "a", conditions: "context.z == 0" }] }];
    let loads = 0;
    expect(w.check("a", undefined, { suspended: true, get z() { if (loads++ === 0) w.load(Q); return 0; } }).allowed).toBe(true);
    expect(loads).toBe(2);
    // Loaded at every reading: refused, with a reason.
    const d = w.check("a", undefined, { get z() { w.load(Q); return 0; } });
    expect(d.error?.message).toMatch(/loaded again while this request was being read, twice/);
  });

  it("never throws: what a getter, toJSON or the clock throws denies", async () => {
    const w = await create([{ rules: [{ effect: "allow", action: "a", conditions: "context.v == 1" }] }]);
    const d = w.check("a", undefined, { get v() { throw new Error("boom"); } });
    expect(d).toMatchObject({ allowed: false, error: { code: "ERR_ENGINE" } });
    expect(d.error?.message).toMatch(/boom/);
    expect(w.check("a", undefined, { v: { toJSON: () => { throw new Error("bad toJSON"); } } }).error?.message).toMatch(/bad toJSON/);
    expect(w.check("a", undefined, {}, { agent: { id: "bot", get trust_level() { throw new Error("agent"); } } }).error?.message).toMatch(/agent/);
    expect(w.check("a", undefined, { v: 1 }).allowed).toBe(true);
    const timed = await Warden.create({ wasm: module, clock: () => { throw new Error("no clock"); }, policies: [{ rules: [
      { effect: "allow", action: "t", conditions: "time.hour >= 0" },
    ] }] });
    expect(timed.check("t").error?.message).toMatch(/no clock/);
  });

  it("reads values exactly as JSON.stringify does", async () => {
    const w = await create([{ rules: [
      { effect: "allow", action: "one", conditions: "context.v == 1" },
      { effect: "allow", action: "obj", conditions: { v: { exists: true } } },
      { effect: "allow", action: "elevated", trust_level: "elevated" },
    ] }]);
    // A function with a toJSON is its toJSON's value; toJSON is applied once, not to what it returns.
    expect(w.check("one", undefined, { v: Object.assign(() => 0, { toJSON: () => 1 }) }).allowed).toBe(true);
    const chained = { v: { toJSON: () => ({ toJSON: () => 1 }) } };
    expect(JSON.parse(JSON.stringify(chained))).toEqual({ v: {} });
    expect(w.check("one", undefined, chained).allowed).toBe(false);
    expect(w.check("obj", undefined, chained).allowed).toBe(true);
    // A Proxy in the context's prototype chain whose traps throw denies, with the reason (JSON would not ask it).
    const trap = new Proxy({}, { ownKeys() { throw new Error("ownKeys"); }, getOwnPropertyDescriptor() { throw new Error("descriptor"); } });
    expect(w.check("one", undefined, Object.setPrototypeOf({ v: 1 }, trap))).toMatchObject({ allowed: false, error: { code: "ERR_ENGINE" } });
    // An agent's fields are its own: one lent by Object.prototype is none.
    const proto = Object.prototype as Record<string, unknown>;
    proto.trust_level = "elevated";
    try {
      expect(w.check("elevated", undefined, {}, { agent: { id: "bot" } }).allowed).toBe(false);
      expect(w.check("elevated", undefined, {}, { agent: { id: "bot", trust_level: "elevated" } }).allowed).toBe(true);
    } finally {
      delete proto.trust_level;
    }
  });

  it("reads time zones through Intl", async () => {
    const w = await create([{ timezone: "America/New_York", rules: [{ effect: "allow", action: "a", conditions: "time.hour == 9 AND time.weekday == 4" }] }]);
    expect(w.check("a", undefined, {}, { time: "2026-03-05T14:30:00Z" }).allowed).toBe(true); // EST, UTC-5
    expect(w.check("a", undefined, {}, { time: "2026-07-02T13:30:00Z" }).allowed).toBe(true); // EDT, UTC-4
    expect(w.check("a", undefined, {}, { time: Date.UTC(2026, 6, 2, 14, 30) }).allowed).toBe(false);
    expect(w.check("a", undefined, {}, { time: new Date(Date.UTC(2026, 2, 5, 14, 59)) }).allowed).toBe(true);
  });
});

describe("interned actions and resources", () => {
  it("decide exactly as the same strings sent as text, across a reset of the table", async () => {
    const w = await create([{ rules: [
      { effect: "allow", action: "tool.call", resource: "tool/*" },
      { effect: "deny", action: "tool.call", resource: "tool/r1*" },
    ] }]);
    // Each resource three times (text, then interned twice), over more than the 4,096 the host keeps.
    for (let i = 0; i < 5000; i++) {
      const resource = `tool/r${i}`;
      const expected = resource.startsWith("tool/r1") ? 1 : 0;
      for (let k = 0; k < 3; k++) expect(w.check("tool.call", resource).rule).toBe(expected);
    }
    expect(w.check("tool.call", "tool/\ud800").error?.code).toBe("ERR_REQUEST_INVALID");
    expect(w.check("tool.call", "tool/\ud800").error?.code).toBe("ERR_REQUEST_INVALID");
  });

  it("decide exactly as text through the engine, the last strings of each field remembered, across resets", async () => {
    const w = await Warden.create({ wasm: module, keepDecisions: false, policies: [{ rules: [
      { effect: "allow", action: "tool.call", resource: "tool/*", trust_level: "elevated" },
      { effect: "deny", action: "tool.call", resource: "tool/r1*" },
    ] }] });
    const agents = [{ id: "bot-1", trust_level: "basic" }, { id: "bot-2", trust_level: "elevated" }];
    const expected = (resource: string, agent: number) => (resource.startsWith("tool/r1") ? 1 : agent === 1 ? 0 : null);
    // Each resource three times from each agent, over more than the 4,096 strings the host keeps interned.
    for (let i = 0; i < 5000; i++) {
      const resource = `tool/r${i % 2 === 0 ? i : 4999 - i}`;
      for (let k = 0; k < 3; k++) {
        for (const [n, agent] of agents.entries()) expect(w.check("tool.call", resource, {}, { agent }).rule).toBe(expected(resource, n));
      }
    }
    // Equal strings that are other string objects are the same strings.
    expect(w.check(["tool", "call"].join("."), `tool/${"r"}7`, {}, { agent: { id: "bot-2", trust_level: ["elev", "ated"].join("") } }).rule).toBe(0);
  });

  it("forget every remembered id when the table starts over", async () => {
    const w = await Warden.create({ wasm: module, keepDecisions: false, policies: [{ rules: [
      { effect: "allow", action: "tool.call", resource: "tool/a" },
      { effect: "escalate", action: "tool.call", resource: "tool/b" },
    ] }] });
    for (let k = 0; k < 3; k++) expect(w.check("tool.call", "tool/a").rule).toBe(0);
    // 4,096 strings seen once fill the host's table; it starts over at the next request.
    for (let i = 0; i < 4100; i++) expect(w.check("tool.call", `tool/once-${i}`).rule).toBe(null);
    for (let k = 0; k < 3; k++) {
      expect(w.check("tool.call", "tool/b").rule).toBe(1);
      expect(w.check("tool.call", "tool/a").rule).toBe(0);
    }
  });

  it("never remembers a string too long to intern", async () => {
    const w = await create([{ rules: [{ effect: "allow", action: "tool.call", resource: "tool/*" }] }]);
    const table = (w as unknown as { engine: { interned: Map<string, number> } }).engine.interned;
    const long = `tool/${"x".repeat(1 << 19)}`;
    for (let k = 0; k < 3; k++) expect(w.check("tool.call", long).allowed).toBe(true);
    expect([...table.keys()]).toEqual(["tool.call"]);
  });
});

describe("decisions by action and resource alone", () => {
  const PLAIN = [{ name: "plain", rules: [
    { effect: "allow", action: "tool.call", resource: "tool/*" },
    { effect: "deny", action: "tool.call", resource: "tool/delete_*", reason: "no deleting" },
  ] }];

  it("are declared by the engine only for policies without agents, trust, conditions or rate limits", async () => {
    const w = await create(PLAIN);
    expect(w.metadata?.action_resource_only).toBe(true);
    const rule = { effect: "allow", action: "a" };
    for (const other of [
      [{ rules: [{ ...rule, conditions: "context.x == 1" }] }],
      [{ rules: [{ ...rule, conditions: { "context.x": 1 } }] }],
      [{ trust_levels: ["low", "high"], rules: [{ ...rule, trust_level: "high" }] }],
      [{ agent_match: { ids: ["bot"] }, rules: [rule] }],
      [{ rules: [rule], rate_limits: [{ action: "a", limit: 1, period: "1m" }] }],
    ]) {
      w.load(other);
      expect(w.metadata?.action_resource_only, JSON.stringify(other)).toBe(false);
    }
  });

  it("are kept and given again exactly, yet every request is still checked, and a load forgets them", async () => {
    const w = await create(PLAIN);
    const first = w.check("tool.call", "tool/delete_x", { user: 1 });
    expect(first).toMatchObject({ effect: "deny", rule: 1, reason: "no deleting" });
    expect(w.check("tool.call", "tool/delete_x")).toBe(first);
    // An invalid context, agent or time is refused whatever was kept.
    expect(w.check("tool.call", "tool/delete_x", { n: 1n } as object).error?.code).toBe("ERR_REQUEST_INVALID");
    expect(w.check("tool.call", "tool/delete_x", [] as unknown as object).error?.code).toBe("ERR_REQUEST_INVALID");
    expect(w.check("tool.call", "tool/delete_x", {}, { agent: 7 as never }).error?.code).toBe("ERR_REQUEST_INVALID");
    expect(w.check("tool.call", "tool/delete_x", {}, { time: "yesterday" }).error?.code).toBe("ERR_REQUEST_INVALID");
    // A denial for an invalid string is never kept.
    for (let k = 0; k < 2; k++) expect(w.check("tool.call", "tool/\ud800").error?.code).toBe("ERR_REQUEST_INVALID");
    // A long resource is decided, never kept.
    const long = `tool/${"x".repeat(300)}`;
    expect(w.check("tool.call", long).allowed).toBe(true);
    const kept = (w as unknown as { decisions: Map<string, Map<string, unknown>> }).decisions;
    expect(kept.get("tool.call")?.has(long)).toBe(false);
    // Past the bound, every answer is still right.
    for (let i = 0; i < 10_000; i++) expect(w.check("tool.call", i % 3 ? `tool/r${i}` : `tool/delete_${i}`).rule).toBe(i % 3 ? 0 : 1);
    w.load([{ rules: [{ effect: "allow", action: "tool.call", resource: "tool/delete_x" }] }], { bundleVersion: 2 });
    expect(w.check("tool.call", "tool/delete_x")).toMatchObject({ allowed: true, bundleVersion: 2 });
    w.load([{ rules: [{ effect: "allow", action: "tool.call", resource: "tool/*", conditions: "context.ok == true" }] }]);
    expect(w.check("tool.call", "tool/delete_x", { ok: false }).allowed).toBe(false);
    expect(w.check("tool.call", "tool/delete_x", { ok: true }).allowed).toBe(true);
  });

  it("are not kept when the client is told not to", async () => {
    const w = await Warden.create({ wasm: module, policies: PLAIN as never, keepDecisions: false });
    const first = w.check("tool.call", "tool/x");
    expect(first.allowed).toBe(true);
    const host = (w as unknown as { engine: { decide(explain: boolean): number } }).engine;
    let calls = 0;
    const decide = host.decide;
    host.decide = function (explain) {
      calls++;
      return decide.call(this, explain);
    };
    w.check("tool.call", "tool/x");
    expect(calls).toBe(1);
  });
});

describe("invalid requests", () => {
  it("are denials with ERR_REQUEST_INVALID that leave the engine untouched", async () => {
    const w = await create(REFUNDS);
    const agent = { id: "bot" };
    const refund = () => w.check("tool.call", "tool/issue_refund", { amount: 10 }, { agent, time: "2026-03-05T10:00:00Z" });
    expect(refund().allowed).toBe(true);
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 70; i++) deep = (deep.x = {}) as Record<string, unknown>;
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: Array<[string, () => ReturnType<Warden["check"]>]> = [
      ["`action` must be a string", () => w.check(7 as never, "tool/issue_refund", { amount: 10 }, { agent })],
      ["`context` must be a JSON object", () => w.check("tool.call", "tool/issue_refund", [1] as never, { agent })],
      ["`context` must be a JSON object", () => w.check("tool.call", "tool/issue_refund", null as never, { agent })],
      ["the context nests more than 64 objects or arrays deep", () => w.check("tool.call", "tool/issue_refund", { amount: 10, unread: root }, { agent })],
      ["the context nests more than 64 objects or arrays deep", () => w.check("tool.call", "tool/issue_refund", { amount: 10, cyclic }, { agent })],
      ["BigInt", () => w.check("tool.call", "tool/issue_refund", { amount: 10n as never }, { agent })],
      ["lone surrogate", () => w.check("tool.call\ud800", "tool/issue_refund", { amount: 10 }, { agent })],
      ["1 MiB", () => w.check("tool.call", "tool/issue_refund", { amount: 10, note: "é".repeat(600_000) }, { agent })],
      ["RFC 3339", () => w.check("tool.call", "tool/issue_refund", { amount: 10 }, { agent, time: "2026-03-05 10:00:00Z" })],
      ["unknown agent field `name`", () => w.check("tool.call", "tool/issue_refund", { amount: 10 }, { agent: { id: "bot", name: "x" } as never })],
    ];
    for (const [message, run] of cases) {
      const d = run();
      expect(d, message).toMatchObject({ allowed: false, effect: "deny", policy: null, rule: null });
      expect(d.error?.code, message).toBe("ERR_REQUEST_INVALID");
      expect(d.error?.message, message).toContain(message);
    }
    // The invalid requests did not count: one more refund fits under the limit of 2.
    expect(refund().allowed).toBe(true);
    expect(refund()).toMatchObject({ allowed: false, rateLimit: { policy: 0, index: 0 }, reason: "rate limit exceeded", reasonGiven: true });
  });
});

describe("checkRequest (the JSON form of a request)", () => {
  it("decides the shape the vectors use and refuses any other", async () => {
    const w = await create(REFUNDS);
    expect(w.checkRequest({ action: "tool.call", resource: "tool/lookup_order", context: {}, agent: null, time: "2026-03-05T10:00:00Z" }).allowed).toBe(true);
    const invalid: Array<[unknown, string]> = [
      [null, "a request must be a JSON object"],
      [["tool.call"], "a request must be a JSON object"],
      [{ resource: "tool/x" }, "a request needs `action`"],
      [{ action: "tool.call", actor: "x" }, "unknown request member `actor`"],
      [{ action: "tool.call", time: 1772704800000 }, "`time` must be an RFC 3339 string"],
      [{ action: "tool.call", context: "x" }, "`context` must be a JSON object"],
      [{ action: "tool.call", resource: 5 }, "`resource` must be a string"],
    ];
    for (const [request, message] of invalid) {
      const d = w.checkRequest(request);
      expect(d.error?.code, message).toBe("ERR_REQUEST_INVALID");
      expect(d.error?.message, message).toContain(message);
      expect(d.allowed).toBe(false);
    }
  });
});

describe("load", () => {
  it("accepts `NOT IN` but not `! IN` (the grammar spells the operator with the keyword)", async () => {
    const w = await create();
    expect(() => w.load([{ rules: [{ effect: "allow", action: "a", conditions: "context.a NOT IN [1]" }] }])).not.toThrow();
    expect(() => w.load([{ rules: [{ effect: "allow", action: "a", conditions: "context.a ! IN [1]" }] }])).toThrow(PolicyInvalidError);
    expect(() => w.load([{ rules: [{ effect: "allow", action: "a", conditions: "! context.a IN [1]" }] }])).not.toThrow();
  });

  it("throws every error and keeps the policies in force", async () => {
    const w = await create(REFUNDS);
    try {
      w.load([{ rules: [{ efect: "allow", action: "a" }] }, { rules: [], timezone: "Mars/Olympus" }]);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PolicyInvalidError);
      const err = e as PolicyInvalidError;
      expect(err.code).toBe("ERR_POLICY_INVALID");
      expect(err.errors.map((x) => `${x.policy}${x.pointer}`).sort()).toEqual(["0/rules/0/efect", "0/rules/0/effect", "1/timezone"]);
      expect(err.message).toMatch(/^policies do not load: policy \d/);
    }
    expect(w.check("tool.call", "tool/lookup_order").allowed).toBe(true);
    expect(w.metadata?.policies[0].name).toBe("refunds");
  });

  it("loads policy text as UTF-8 written straight into the engine, as TextEncoder would encode it", async () => {
    const w = await create();
    expect(w.load('[{"name": "café 😀", "rules": []}]').policies[0].name).toBe("café 😀");
    // A lone surrogate in the text becomes U+FFFD, as TextEncoder makes it.
    expect(w.load('[{"name": "a\ud800b", "rules": []}]').policies[0].name).toBe("a\ufffdb");
    expect(w.load(new TextEncoder().encode('[{"name": "ü", "rules": []}]')).policies[0].name).toBe("ü");
    expect(w.load([{ name: "x".repeat(5000) + "é", rules: [] }]).policies[0].name).toBe("x".repeat(5000) + "é");
  });

  it("hands out read-only metadata, whole for rules the engine wrote as their effect alone, so no edit reaches a decision", async () => {
    const w = await create([{ name: "p", rules: [
      { effect: "allow", action: "a" },
      { effect: "deny", action: "b", name: "no-b", reason: "b is off", log_context: ["context.x"] },
    ] }]);
    const meta = w.metadata!;
    expect(meta.policies[0].rules).toEqual([
      { name: null, effect: "allow", reason: null, log: true, log_context: null, alert: false },
      { name: "no-b", effect: "deny", reason: "b is off", log: true, log_context: ["context.x"], alert: false },
    ]);
    for (const edit of [
      () => { (meta.policies[0].rules[0] as { reason: string | null }).reason = "edited"; },
      () => { (meta.policies[0].rules[1].log_context as string[]).push("context.y"); },
      () => { (meta.policies[0] as { name: string | null }).name = "edited"; },
      () => { meta.policies[0].rules.pop(); },
      () => { meta.paths.push("context.z"); },
    ]) expect(edit).toThrow(TypeError);
    // Decisions made after the attempts, the first time each rule wins.
    expect(w.check("a", "x")).toMatchObject({ allowed: true, policyName: "p", reason: "allowed by rule 0 of policy 0 (`p`)" });
    expect(w.check("b", "x")).toMatchObject({ allowed: false, ruleName: "no-b", reason: "b is off", logContext: ["context.x"] });
    // A rule's decision made after a reload carries the new set's names and version, not the old ones.
    w.load([{ name: "q", rules: [{ effect: "allow", action: "a" }] }], { bundleVersion: 3 });
    expect(w.check("a", "x")).toMatchObject({ policyName: "q", bundleVersion: 3, reason: "allowed by rule 0 of policy 0 (`q`)" });
  });

  it("keeps rate-limit counts across a reload of the same limit", async () => {
    const w = await create(REFUNDS);
    const opts = { agent: { id: "bot" }, time: "2026-03-05T10:00:00Z" };
    w.check("tool.call", "tool/issue_refund", { amount: 1 }, opts);
    w.check("tool.call", "tool/issue_refund", { amount: 1 }, opts);
    w.load(REFUNDS as never, { bundleVersion: 8 });
    const d = w.check("tool.call", "tool/issue_refund", { amount: 1 }, opts);
    expect(d).toMatchObject({ allowed: false, rateLimit: { policy: 0, index: 0 }, bundleVersion: 8 });
    // A different period is a different limit: its counts start empty.
    const changed = structuredClone(REFUNDS);
    changed[0].rate_limits[0].period = "2h";
    w.load(changed as never);
    expect(w.check("tool.call", "tool/issue_refund", { amount: 1 }, opts).allowed).toBe(true);
  });
});

describe("time", () => {
  it("is exact below the millisecond: no window or field is off by a rounding", async () => {
    const w = await create([{
      rules: [
        { effect: "allow", action: "hour", conditions: "time.hour == 23 AND time.epoch == 1772755199" },
        { effect: "allow", action: "count" },
      ],
      rate_limits: [{ action: "count", limit: 1, period: "1s", scope: "global" }],
    }]);
    expect(w.check("hour", undefined, {}, { time: "2026-03-05T23:59:59.9999999Z" }).allowed).toBe(true);
    expect(w.check("count", undefined, {}, { time: "2026-03-05T10:00:00Z" }).allowed).toBe(true);
    expect(w.check("count", undefined, {}, { time: "2026-03-05T10:00:00.999999999Z" }).rateLimit).toEqual({ policy: 0, index: 0 });
    expect(w.check("count", undefined, {}, { time: "2026-03-05T10:00:01Z" }).allowed).toBe(true);
  });

  it("keeps counts exact when a reload raises a limit and time goes backwards", async () => {
    const limit = (n: number) => [{ rules: [{ effect: "allow", action: "*" }], rate_limits: [{ action: "*", limit: n, period: "1h", scope: "global" }] }];
    const w = await create(limit(1));
    expect(w.check("a", undefined, {}, { time: "2026-03-05T10:00:00Z" }).allowed).toBe(true);
    expect(w.check("a", undefined, {}, { time: "2026-03-05T11:00:00Z" }).allowed).toBe(true);
    w.load(limit(2) as never);
    // 10:00 and 11:00 both lie within an hour of 10:30.
    expect(w.check("a", undefined, {}, { time: "2026-03-05T10:30:00Z" }).rateLimit).toEqual({ policy: 0, index: 0 });
  });
});

describe("escalation (§8)", () => {
  it("canonicalises requests as RFC 8785 does: sorted members, ECMAScript numbers, no undefined", () => {
    expect(canonicalJson({ b: [1, 1e21, 0.1, -0, "é\u2028"], a: { z: null, y: undefined, "\u20ac": true, "\ud83d\ude00": 1, "\ufb33": 2 } }))
      .toBe('{"a":{"z":null,"\u20ac":true,"\ud83d\ude00":1,"\ufb33":2},"b":[1,1e+21,0.1,0,"é\u2028"]}');
    expect(canonicalJson({ when: new Date(0) })).toBe('{"when":"1970-01-01T00:00:00.000Z"}');
  });

  it("digests {action, resource, context, agent} with SHA-256", async () => {
    const text = '{"action":"tool.call","agent":{"id":"bot","trust":2},"context":{"amount":900},"resource":"tool/issue_refund"}';
    const expected = createHash("sha256").update(text).digest("hex");
    expect(await requestDigest({ action: "tool.call", resource: "tool/issue_refund", context: { amount: 900 }, agent: { trust: 2, id: "bot" } })).toBe(expected);
    const bare = createHash("sha256").update('{"action":"a","agent":null,"context":{},"resource":""}').digest("hex");
    expect(await requestDigest({ action: "a" })).toBe(bare);
  });

  it("asks the handler, allows an approved request and names the approver", async () => {
    const asked: unknown[] = [];
    const w = await Warden.create({
      wasm: module, policies: REFUNDS as never,
      approvals: { handler: async (r) => { asked.push(r); return { approved: true, approver: "ana@example.com" }; } },
    });
    const d = await w.authorize("tool.call", "tool/issue_refund", { amount: 900 }, { agent: { id: "bot" } });
    expect(d).toMatchObject({ allowed: true, effect: "escalate", rule: 2, approvedBy: "ana@example.com" });
    expect(d.approvalDigest).toBe(await requestDigest({ action: "tool.call", resource: "tool/issue_refund", context: { amount: 900 }, agent: { id: "bot" } }));
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ action: "tool.call", resource: "tool/issue_refund", digest: d.approvalDigest, decision: { effect: "escalate" } });
    // An allowed request is not escalated; a denied one is not asked about.
    expect((await w.authorize("tool.call", "tool/lookup_order")).allowed).toBe(true);
    await expect(w.authorize("tool.call", "tool/delete_account")).rejects.toBeInstanceOf(PolicyViolationError);
    expect(asked).toHaveLength(1);
  });

  it("treats a rejection, a failing handler, no answer in time and no handler as a refusal", async () => {
    for (const handler of [async () => ({ approved: false }), async () => { throw new Error("chat is down"); }, () => new Promise<never>(() => {})]) {
      const w = await Warden.create({ wasm: module, policies: REFUNDS as never, approvals: { handler, timeout: 20 } });
      await expect(w.authorize("tool.call", "tool/issue_refund", { amount: 900 })).rejects.toMatchObject({ decision: { effect: "escalate" } });
    }
    const w = await create(REFUNDS);
    await expect(w.authorize("tool.call", "tool/issue_refund", { amount: 900 })).rejects.toBeInstanceOf(PolicyViolationError);
    expect(() => w.enforce("tool.call", "tool/issue_refund", { amount: 900 })).toThrow(PolicyViolationError);
  });

  it("lets a granted approval through once, for that digest only", async () => {
    const w = await create(REFUNDS);
    const digest = await requestDigest({ action: "tool.call", resource: "tool/issue_refund", context: { amount: 900 } });
    w.grantApproval(digest, "ops");
    await expect(w.authorize("tool.call", "tool/issue_refund", { amount: 901 })).rejects.toBeInstanceOf(PolicyViolationError);
    expect(await w.authorize("tool.call", "tool/issue_refund", { amount: 900 })).toMatchObject({ allowed: true, approvedBy: "ops" });
    await expect(w.authorize("tool.call", "tool/issue_refund", { amount: 900 })).rejects.toBeInstanceOf(PolicyViolationError);
  });
});

describe("explain", () => {
  it("shows every rule, what matched and why the winner won, without counting", async () => {
    const w = await create(REFUNDS);
    const opts = { agent: { id: "bot" }, time: "2026-03-05T10:00:00Z" };
    const e = w.explain("tool.call", "tool/issue_refund", {}, opts);
    expect(e.decision).toMatchObject({ allowed: false, effect: "escalate", rule: 2, indeterminate: ["context.amount"] });
    expect(e.rules).toHaveLength(4);
    expect(e.rules[0]).toMatchObject({ rule: 0, resource: { matched: false, patterns: ["tool/lookup_*"] } });
    expect(e.rules[1]).toMatchObject({ rule: 1, conditions: { count: 1, result: "indeterminate", indeterminate: ["context.amount"] }, candidate: false });
    expect(e.rules[2]).toMatchObject({ rule: 2, action: { matched: true, specificity: [9, 0] }, resource: { matched: true, specificity: [17, 0] }, candidate: true });
    expect(e.why).toBe("rule 2 of policy 0 is the only candidate");
    for (let i = 0; i < 5; i++) expect(w.explain("tool.call", "tool/issue_refund", { amount: 5 }, opts).decision.allowed).toBe(true);
    expect(w.check("tool.call", "tool/issue_refund", { amount: 5 }, opts).allowed).toBe(true);
  });

  it("says which criterion decided between candidates", async () => {
    const w = await create([{ rules: [
      { effect: "allow", action: "tool.call", resource: "tool/*" },
      { effect: "deny", action: "*", resource: "tool/issue_refund" },
    ] }]);
    expect(w.explain("tool.call", "tool/issue_refund").why).toBe(
      "rule 1 of policy 0 wins over rule 0 of policy 0: its resource pattern is more specific (17 literal characters, 0 wildcards against 5 literal characters, 1 wildcard)",
    );
  });
});

describe("rate-limit state", () => {
  it("exports and imports into a fresh client", async () => {
    const a = await create(REFUNDS);
    const opts = { agent: { id: "bot" }, time: "2026-03-05T10:00:00Z" };
    a.check("tool.call", "tool/issue_refund", { amount: 1 }, opts);
    a.check("tool.call", "tool/issue_refund", { amount: 1 }, opts);
    const state = a.exportState();
    expect(JSON.parse(state)).toEqual({
      format: "warden-rate-limits-1",
      limits: [{
        policy: "refunds", action: ["tool.call"], resource: ["tool/issue_refund"], period_seconds: 3600, scope: "agent",
        counts: [{ key: "bot", times: ["1772704800", "1772704800"] }],
      }],
    });
    const b = await create(REFUNDS);
    b.importState(state);
    expect(b.check("tool.call", "tool/issue_refund", { amount: 1 }, opts)).toMatchObject({ allowed: false, rateLimit: { policy: 0, index: 0 } });
    expect(() => b.importState("{}")).toThrow(WardenError);
  });
});

describe("a trap in the engine", () => {
  it("is recovered from: a new instance, the policies in force, the counts carried, an event", async () => {
    const w = await create(REFUNDS);
    const opts = { agent: { id: "bot" }, time: "2026-03-05T10:00:00Z" };
    w.check("tool.call", "tool/issue_refund", { amount: 1 }, opts);
    w.check("tool.call", "tool/issue_refund", { amount: 1 }, opts);
    const events: RecoveredEvent[] = [];
    w.on("recovered", (e) => events.push(e));
    // Make the next decision trap for real: the engine reads far outside its memory.
    type Exports = { decide: (n: number) => number; load: (p: number, n: number) => number };
    const engine = (w as unknown as { engine: { x: Exports } }).engine;
    const real = engine.x;
    engine.x = { ...real, decide: () => real.load(0xfffffff0, 64) };
    const d = w.check("tool.call", "tool/issue_refund", { amount: 1 }, opts);
    expect(events).toHaveLength(1);
    expect(events[0].error).toBeInstanceOf(WebAssembly.RuntimeError);
    expect(events[0].countsCarried).toBe(true);
    // The retried decision ran on the new instance, which still counts the two refunds.
    expect(d).toMatchObject({ allowed: false, rateLimit: { policy: 0, index: 0 } });
    expect(w.check("tool.call", "tool/lookup_order").allowed).toBe(true);
  });

  it("lets a recovered listener check and load, and decides the trapped request after", async () => {
    const P = [{ rules: [{ effect: "allow", action: "a", conditions: { suspended: { exists: false } } }] }];
    const w = await create(P);
    const seen: boolean[] = [];
    w.on("recovered", () => {
      seen.push(w.check("a", undefined, {}).allowed);
      w.load(P);
    });
    type Exports = { decide: (n: number) => number; load: (p: number, n: number) => number };
    const engine = (w as unknown as { engine: { x: Exports } }).engine;
    const real = engine.x;
    engine.x = { ...real, decide: () => real.load(0xfffffff0, 64) };
    const d = w.check("a", undefined, { suspended: true });
    expect(d).toMatchObject({ allowed: false, rule: null });
    expect(d.error).toBeUndefined();
    expect(seen).toEqual([true]);
  });
});
