// The engine through its raw ABI: hostile and malformed input gives a clear
// error or a decision in bounded time, never a lost policy set; memory stays
// flat; the module imports nothing.

import { describe, it, expect, beforeEach } from "vitest";
import { readFileSync } from "node:fs";
import { RawEngine, wasmModule, MISSING, pushU32, encodeValue, type Value } from "./raw-engine.js";

const SUPPORT_BOT = [
  {
    name: "support-bot-policy",
    rules: [
      { effect: "allow", action: "llm.generate", resource: "model/gpt-4" },
      { effect: "allow", action: "tool.call", resource: "tool/lookup_order" },
      { effect: "deny", action: "tool.call", resource: "tool/issue_refund" },
    ],
  },
];

/** Asserts the engine still decides with the support-bot policies. */
function stillDecides(e: RawEngine, slots: Value[] = []): void {
  const allow = e.decide("tool.call", "tool/lookup_order", slots);
  expect(allow).toMatchObject({ status: 0, allowed: true, policy: 0, rule: 1 });
  const deny = e.decide("tool.call", "tool/issue_refund", slots);
  expect(deny).toMatchObject({ status: 0, allowed: false, policy: 0, rule: 2 });
}

function timed<T>(f: () => T, limitMs: number): T {
  const t0 = performance.now();
  const r = f();
  const ms = performance.now() - t0;
  expect(ms, `took ${ms.toFixed(1)} ms`).toBeLessThan(limitMs);
  return r;
}

describe("the module", () => {
  it("imports nothing and exports exactly the ABI", () => {
    expect(WebAssembly.Module.imports(wasmModule)).toEqual([]);
    expect(WebAssembly.Module.exports(wasmModule).map((e) => e.name).sort()).toEqual([
      "abi_version", "alloc", "decide", "explain", "free", "intern", "intern_reset", "load", "memory", "output_len", "output_ptr",
      "parse_time", "request_reserve", "state_export", "state_import",
    ]);
  });

  it("writes a rule that sets none of its metadata as its effect alone, and every other rule whole", () => {
    const e = new RawEngine();
    const { status, result } = e.load([{ name: "p", rules: [
      { effect: "allow", action: "a" },
      { effect: "deny", action: "b", log: true, alert: false },
      { effect: "escalate", action: "c", name: "r" },
      { effect: "allow", action: "d", reason: "why" },
      { effect: "deny", action: "e", log: false },
      { effect: "allow", action: "f", alert: true },
      { effect: "allow", action: "g", log_context: [] },
    ] }]);
    expect(status).toBe(0);
    const whole = (effect: string, over: object) => ({ name: null, effect, reason: null, log: true, log_context: null, alert: false, ...over });
    expect(result.policies[0].rules).toEqual([
      "allow", "deny", whole("escalate", { name: "r" }), whole("allow", { reason: "why" }), whole("deny", { log: false }),
      whole("allow", { alert: true }), whole("allow", { log_context: [] }),
    ]);
    expect(result.rules).toBe(7);
  });

  it("denies everything before anything is loaded", () => {
    const e = new RawEngine();
    expect(e.decide("tool.call", "tool/x")).toMatchObject({ status: 0, allowed: false, effect: 0, policy: -1, rule: -1 });
  });
});

describe("loading bad policy sets keeps the set in force", () => {
  let e: RawEngine;
  beforeEach(() => {
    e = new RawEngine();
    expect(e.load(SUPPORT_BOT).status).toBe(0);
  });

  it("reports malformed JSON with its offset", () => {
    const { status, result } = e.load('[{"rules": [}]');
    expect(status).toBe(1);
    expect(result.ok).toBe(false);
    expect(result.errors[0]).toMatchObject({ policy: 0, offset: 12 });
    expect(result.errors[0].message).toMatch(/expected a JSON value|unexpected character/);
    stillDecides(e);
  });

  it("names a policy for a syntax error only when the error is inside one", () => {
    const at = (json: string) => {
      const { result } = e.load(json);
      return { policy: result.errors[0].policy, pointer: result.errors[0].pointer };
    };
    // Between or after the policies: in none of them.
    expect(at("[")).toEqual({ policy: -1, pointer: "" });
    expect(at('[{"rules": []}')).toEqual({ policy: -1, pointer: "" });
    expect(at('[{"rules": []}, ')).toEqual({ policy: -1, pointer: "" });
    expect(at('[{"rules": []} {"rules": []}]')).toEqual({ policy: -1, pointer: "" });
    expect(at('{"policies": [{"rules": []}')).toEqual({ policy: -1, pointer: "" });
    // Inside one: its index, and the pointer of the container or value where it broke.
    expect(at('[{"rules": []}, tru]')).toEqual({ policy: 1, pointer: "" });
    expect(at('[{"rules": []}, {"rules": [')).toEqual({ policy: 1, pointer: "/rules" });
    expect(at('[{"rules": [{"effect": "allow"} {}]}]')).toEqual({ policy: 0, pointer: "/rules" });
    expect(at('{"policies": [{}, {"rules": [}]}')).toEqual({ policy: 1, pointer: "/rules/0" });
    stillDecides(e);
  });

  it("reports duplicate members at the duplicate's pointer", () => {
    const { status, result } = e.load('[{"rules": [{"effect": "allow", "effect": "deny", "action": "a"}]}]');
    expect(status).toBe(1);
    expect(result.errors).toContainEqual(expect.objectContaining({ policy: 0, pointer: "/rules/0/effect", message: expect.stringContaining("duplicate member `effect`") }));
    stillDecides(e);
  });

  it("reads member names with escapes as their text: known, duplicate, or refused when a control character is raw", () => {
    expect(e.load('[{"n\\u0061me": "p", "rul\\u0065s": [{"\\u0065ffect": "allow", "action": "a"}]}]')).toMatchObject({ status: 0, result: { policies: [{ name: "p" }] } });
    const dup = e.load('[{"rules": [{"effect": "allow", "eff\\u0065ct": "deny", "action": "a"}]}]');
    expect(dup.result.errors).toContainEqual(expect.objectContaining({ pointer: "/rules/0/effect", message: expect.stringContaining("duplicate member `effect`") }));
    const raw = e.load('[{"rules": [], "na\tme": 1}]');
    expect(raw).toMatchObject({ status: 1, result: { errors: [{ policy: 0, offset: 18, message: expect.stringContaining("control character") }] } });
    const slash = e.load('[{"rules": [], "a/b~c": 1}]');
    expect(slash.result.errors).toContainEqual(expect.objectContaining({ pointer: "/a~1b~0c", message: expect.stringContaining("unknown field `a/b~c`") }));
  });

  it("names unknown fields, with a did-you-mean", () => {
    const { status, result } = e.load([{ rules: [{ efect: "allow", action: "a" }] }]);
    expect(status).toBe(1);
    expect(result.errors).toContainEqual(expect.objectContaining({ pointer: "/rules/0/efect", message: "unknown field `efect` in a rule (did you mean `effect`?)" }));
    expect(result.errors).toContainEqual(expect.objectContaining({ pointer: "/rules/0/effect" }));
    stillDecides(e);
  });

  it("refuses a pattern ending in a lone backslash", () => {
    const { status, result } = e.load([{ rules: [{ effect: "allow", action: "a\\" }] }]);
    expect(status).toBe(1);
    expect(result.errors[0]).toMatchObject({ policy: 0, pointer: "/rules/0/action" });
    expect(result.errors[0].message).toContain("lone `\\`");
    stillDecides(e);
  });

  it("refuses a bad expression, naming the column", () => {
    const { status, result } = e.load([{ rules: [{ effect: "allow", action: "a", conditions: ["context.a == 1", "context.amount <== 5"] }] }]);
    expect(status).toBe(1);
    expect(result.errors[0]).toMatchObject({ policy: 0, pointer: "/rules/0/conditions/1" });
    expect(result.errors[0].message).toBe("invalid expression: `=` is not an operator (write `==`) at column 18");
    stillDecides(e);
  });

  it("reports every error of a set, not just the first", () => {
    const { result } = e.load([{ rules: [{ effect: "permit", action: "" }], timezone: "Mars/Olympus" }, "x"]);
    const pointers = result.errors.map((x: { policy: number; pointer: string }) => `${x.policy}${x.pointer}`).sort();
    expect(pointers).toEqual(["0/rules/0/action", "0/rules/0/effect", "0/timezone", "1"]);
    stillDecides(e);
  });

  it("refuses JSON nested 10,000 deep without exhausting the stack", () => {
    const deep = "[".repeat(10000) + "]".repeat(10000);
    const { status, result } = timed(() => e.load(`[{"rules": [], "version": ${deep}}]`), 1000);
    expect(status).toBe(1);
    expect(result.errors[0].message).toBe("JSON nests deeper than 256 levels");
    stillDecides(e);
  });

  it("refuses bytes that are not UTF-8", () => {
    const bad = new TextEncoder().encode('[{"name": "caf?", "rules": []}]');
    bad[13] = 0xff;
    const { status, result } = e.loadBytes(bad);
    expect(status).toBe(1);
    expect(result.errors[0]).toMatchObject({ policy: -1, offset: 13, message: "the input is not valid UTF-8" });
    stillDecides(e);
  });

  it("refuses an expression nested 10,000 deep", () => {
    const deep = "(".repeat(10000) + "context.a == 1" + ")".repeat(10000);
    const { status, result } = timed(() => e.load([{ rules: [{ effect: "allow", action: "a", conditions: deep }] }]), 1000);
    expect(status).toBe(1);
    expect(result.errors[0].message).toContain("nest more than 64 deep");
    stillDecides(e);
  });

  it("takes a chain of 100,000 NOTs and ORs in bounded time", () => {
    const nots = "NOT ".repeat(100000) + "context.a == 1";
    const ors = Array.from({ length: 20000 }, (_, i) => `context.a == ${i}`).join(" OR ");
    const { status } = timed(() => e.load([{ rules: [{ effect: "allow", action: "n", conditions: nots }, { effect: "allow", action: "o", conditions: ors }] }]), 2000);
    expect(status).toBe(0);
    expect(e.decide("o", MISSING, [19999]).allowed).toBe(true);
    expect(e.decide("n", MISSING, [1]).allowed).toBe(true);
  });
});

describe("hostile requests", () => {
  let e: RawEngine;
  beforeEach(() => {
    e = new RawEngine();
  });

  it("orders a NaN (which only a raw record can hold) with nothing: indeterminate, so a deny rule still matches", () => {
    // Effects as the record holds them: 0 deny, 1 allow.
    for (const op of ["<", "<=", ">", ">="]) {
      expect(e.load([{ default_effect: "allow", rules: [{ effect: "deny", action: "a", conditions: `context.x ${op} 5` }] }]).status).toBe(0);
      expect(e.decide("a", MISSING, [NaN]), op).toMatchObject({ effect: 0, rule: 0, indeterminate: [0] });
      expect(e.decide("a", MISSING, [4]).effect, op).toBe(op.startsWith("<") ? 0 : 1);
    }
    // Equality is defined: NaN equals nothing.
    expect(e.load([{ default_effect: "allow", rules: [
      { effect: "deny", action: "a", conditions: "context.x == 5" }, { effect: "deny", action: "b", conditions: "context.x != 5" },
    ] }]).status).toBe(0);
    expect(e.decide("a", MISSING, [NaN])).toMatchObject({ effect: 1, indeterminate: [] });
    expect(e.decide("b", MISSING, [NaN])).toMatchObject({ effect: 0, rule: 1, indeterminate: [] });
  });

  it("answers a 10,000-deep value under a referenced path with an invalid request", () => {
    expect(e.load([{ rules: [{ effect: "allow", action: "a", conditions: "context.v.w == 1" }, ...SUPPORT_BOT[0].rules] }]).status).toBe(0);
    // [[[…1…]]] 10,000 deep, encoded by hand: each level is a one-element array around the next.
    const inner = 9;
    const levels = 10000;
    const deep: number[] = [];
    for (let i = 0; i < levels; i++) {
      deep.push(6);
      pushU32(1, deep);
      pushU32(inner * (levels - 1 - i) + 9, deep);
    }
    deep.push(4, ...new Uint8Array(new Float64Array([1]).buffer));
    const head = RawEngine.record(0, [], "a", MISSING, MISSING, []);
    head[20] = 1; // one context slot
    const r = timed(() => e.decideBytes([...head, ...deep]), 1000);
    expect(r.status).toBe(1);
    expect(r.error).toBe("invalid `context`: the context nests more than 64 levels deep");
    // 62 more levels under context.v.w is the most a request may hold (the context is level 1).
    let ok: any = 1;
    for (let i = 0; i < 62; i++) ok = [ok];
    expect(e.decide("a", MISSING, [ok]).status).toBe(0);
    expect(e.decide("a", MISSING, [[ok]]).status).toBe(1);
    expect(e.decide("tool.call", "tool/lookup_order", [1]).allowed).toBe(true);
  });

  it("decides a 1 MB action", () => {
    expect(e.load([{ rules: [{ effect: "allow", action: "x*" }, { effect: "deny", action: "*y" }] }]).status).toBe(0);
    const big = "x".repeat(1_000_000);
    expect(timed(() => e.decide(big), 500)).toMatchObject({ status: 0, allowed: true, rule: 0 });
    expect(timed(() => e.decide(big + "y"), 500)).toMatchObject({ status: 0, allowed: false, rule: 1 });
    // Over 1 MiB of UTF-8 is an invalid request.
    expect(e.decide("x".repeat((1 << 20) + 1)).status).toBe(1);
  });

  it("matches *a*a*a*b against 1 MB in linear time", () => {
    expect(e.load([{ rules: [{ effect: "allow", action: "x", resource: "*a*a*a*b" }] }]).status).toBe(0);
    const text = "a".repeat(1_000_000);
    expect(timed(() => e.decide("x", text), 500)).toMatchObject({ status: 0, allowed: false });
    expect(timed(() => e.decide("x", text + "b"), 500)).toMatchObject({ status: 0, allowed: true });
  });

  it("answers bytes that are not UTF-8 with an invalid request", () => {
    expect(e.load(SUPPORT_BOT).status).toBe(0);
    const rec = RawEngine.record(0, [], "tool.call", "tool/lookup_order", MISSING, []);
    rec[rec.length - "order".length] = 0xc0; // an overlong lead byte inside the resource
    const r = e.decideBytes(rec);
    expect(r).toMatchObject({ status: 1, allowed: false, error: "invalid `resource`: a string is not valid UTF-8" });
    stillDecides(e);
  });

  it("answers truncated and malformed records with an invalid request", () => {
    expect(e.load(SUPPORT_BOT).status).toBe(0);
    const rec = RawEngine.record(0, [], "tool.call", "tool/lookup_order", MISSING, []);
    for (let cut = 0; cut < rec.length; cut++) {
      expect(e.decideBytes(rec.slice(0, cut)).status, `cut at ${cut}`).toBe(1);
    }
    expect(e.decideBytes([...rec, 0]).status).toBe(1);
    const wrongCount = RawEngine.record(0, [], "tool.call", MISSING, MISSING, [1]);
    expect(e.decideBytes(wrongCount).error).toContain("does not match the policies in force");
    expect(e.decide(7 as never).error).toBe("`action` must be a string");
    expect(e.decide("a", MISSING, [], { id: "x", role: "admin" }).error).toBe("unknown agent field `role`: an agent has `id`, `trust_level` and `tags`");
    expect(e.decide("a", MISSING, [], { tags: ["a", 1] }).error).toBe("agent `tags` must be an array of strings");
    stillDecides(e);
  });
});

describe("interned strings", () => {
  it("stand for their text in a request's action and resource, until reset", () => {
    const e = new RawEngine();
    expect(e.load(SUPPORT_BOT).status).toBe(0);
    const intern = (text: string | Uint8Array): number => {
      const data = typeof text === "string" ? new TextEncoder().encode(text) : text;
      const p = e.x.alloc(data.length + 1);
      e.bytes.set(data, p);
      const id = e.x.intern(p, data.length);
      e.x.free(p);
      return id;
    };
    const action = intern("tool.call");
    const resource = intern("tool/lookup_order");
    expect([action, resource]).toEqual([0, 1]);
    expect(intern(new Uint8Array([0xc0, 0x80]))).toBe(-1);
    const record = (a: number, r: number): number[] => {
      const rec = RawEngine.record(0, [], MISSING, MISSING, MISSING, []);
      rec.splice(24, 3, 8, a & 255, (a >> 8) & 255, (a >> 16) & 255, (a >> 24) & 255, 8, r & 255, (r >> 8) & 255, (r >> 16) & 255, (r >> 24) & 255, 0);
      return rec;
    };
    expect(e.decideBytes(record(action, resource))).toMatchObject({ status: 0, allowed: true, policy: 0, rule: 1 });
    expect(e.decideBytes(record(action, 7)).error).toBe("`resource` names no interned string");
    e.x.intern_reset();
    expect(e.decideBytes(record(action, resource)).error).toBe("`action` names no interned string");
    stillDecides(e);
  });

  // Effects as the decision record holds them: 0 deny, 1 allow, 2 escalate.
  it("plan a pair's rules afresh when the ids name other strings and when the policies change", () => {
    const e = new RawEngine();
    expect(e.load(SUPPORT_BOT).status).toBe(0);
    const intern = (text: string): number => {
      const data = new TextEncoder().encode(text);
      const p = e.x.alloc(data.length + 1);
      e.bytes.set(data, p);
      const id = e.x.intern(p, data.length);
      e.x.free(p);
      return id;
    };
    const record = (a: number, r: number): number[] => {
      const rec = RawEngine.record(0, [], MISSING, MISSING, MISSING, []);
      rec.splice(24, 3, 8, a & 255, (a >> 8) & 255, (a >> 16) & 255, (a >> 24) & 255, 8, r & 255, (r >> 8) & 255, (r >> 16) & 255, (r >> 24) & 255, 0);
      return rec;
    };
    expect([intern("tool.call"), intern("tool/lookup_order")]).toEqual([0, 1]);
    // The pair (0, 1) is planned at its first decision and decided from the plan after.
    for (let k = 0; k < 3; k++) expect(e.decideBytes(record(0, 1))).toMatchObject({ allowed: true, policy: 0, rule: 1 });
    // The same ids for other strings: another plan.
    e.x.intern_reset();
    expect([intern("tool.call"), intern("tool/issue_refund")]).toEqual([0, 1]);
    for (let k = 0; k < 2; k++) expect(e.decideBytes(record(0, 1))).toMatchObject({ effect: 0, policy: 0, rule: 2 });
    // Other policies, the same ids: another plan, in the order of §5 (the literal resource beats the prefix).
    expect(e.load([{ rules: [
      { effect: "allow", action: "tool.call", resource: "tool/*" },
      { effect: "escalate", action: "tool.*", resource: "tool/issue_refund" },
    ] }]).status).toBe(0);
    for (let k = 0; k < 2; k++) expect(e.decideBytes(record(0, 1))).toMatchObject({ effect: 2, rule: 1 });
    // A pair that reaches more rules than a plan keeps (64) is decided without one, agents still filtering policies.
    expect(e.load([
      { agent_match: { ids: ["vip"] }, rules: [{ effect: "allow", action: "tool.call", resource: "tool/issue_refund" }] },
      { rules: Array.from({ length: 70 }, (_, i) => ({ effect: i === 0 ? "escalate" : "deny", action: "tool.call", resource: "tool/*", conditions: `context.n == ${i}` })) },
    ]).status).toBe(0);
    // Interned ids 0 and 1 (tool.call, tool/issue_refund) in place of the missing action and resource.
    const withAgent = (id: string, n: number): number[] => {
      const rec = RawEngine.record(0, [], MISSING, MISSING, { id }, [n]);
      rec.splice(24, 2, 8, 0, 0, 0, 0, 8, 1, 0, 0, 0);
      return rec;
    };
    for (let k = 0; k < 2; k++) {
      expect(e.decideBytes(withAgent("vip", 0))).toMatchObject({ effect: 1, policy: 0, rule: 0 });
      expect(e.decideBytes(withAgent("other", 0))).toMatchObject({ effect: 2, policy: 1, rule: 0 });
      expect(e.decideBytes(withAgent("other", 5))).toMatchObject({ effect: 0, policy: 1, rule: 5 });
    }
    expect(e.load([{ rules: [
      { effect: "allow", action: "tool.call", resource: "tool/*" },
      { effect: "escalate", action: "tool.*", resource: "tool/issue_refund" },
    ] }]).status).toBe(0);
    // More pairs than a plan table holds (2,048): every decision stays right as plans are dropped.
    const ids: number[] = [];
    for (let i = 0; i < 3000; i++) ids.push(intern(`tool/r${i}`));
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 3000; i++) expect(e.decideBytes(record(0, ids[i])).effect).toBe(1);
      expect(e.decideBytes(record(0, 1)).effect).toBe(2);
    }
  });
});

describe("agent records", () => {
  it("carry id, trust level and tags, and are checked like agent objects", () => {
    const e = new RawEngine();
    expect(e.load([{ agent_match: { tags: ["cs"] }, rules: [{ effect: "allow", action: "a", trust_level: "elevated" }] }]).status).toBe(0);
    const record = (agent: number[]): number[] => {
      const rec = RawEngine.record(0, [], "a", MISSING, MISSING, []);
      rec.splice(rec.length - 1, 1, ...agent);
      return rec;
    };
    const str = (s: string): number[] => {
      const out: number[] = [];
      encodeValue(s, out);
      return out;
    };
    const tags = (list: Value[]): number[] => {
      const out: number[] = [];
      encodeValue(list, out);
      return out;
    };
    expect(e.decideBytes(record([9, 7, ...str("bot"), ...str("elevated"), ...tags(["cs"])]))).toMatchObject({ status: 0, allowed: true });
    expect(e.decideBytes(record([9, 6, ...str("basic"), ...tags(["cs"])]))).toMatchObject({ status: 0, allowed: false });
    expect(e.decideBytes(record([9, 3, ...str("bot"), ...str("elevated")]))).toMatchObject({ status: 0, allowed: false });
    expect(e.decideBytes(record([9, 8])).error).toBe("the agent record names unknown fields");
    expect(e.decideBytes(record([9, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0])).error).toBe("agent `id` must be a string");
    expect(e.decideBytes(record([9, 4, ...tags(["cs", 1])])).error).toBe("agent `tags` must be an array of strings");
    // A tag that is not UTF-8 is named as such.
    const bad = tags(["ok", "xx"]);
    bad[bad.length - 1] = 0xff;
    expect(e.decideBytes(record([9, 4, ...bad])).error).toMatch(/^invalid agent `tags`: .*UTF-8/);
    expect(e.decideBytes(record([9, 1, 8, 9, 0, 0, 0])).error).toBe("agent `id` names no interned string");
  });
});

describe("memory", () => {
  it("stays flat over 10^6 decisions and 1,000 loads", () => {
    const e = new RawEngine();
    const policies = JSON.stringify([
      ...SUPPORT_BOT,
      {
        name: "limits",
        rules: [{ effect: "allow", action: "pay", conditions: ["context.amount <= 500", "context.tags MATCHES 'a*'"] }],
        rate_limits: [{ action: "pay", limit: 5, period: "1s", scope: "context.user" }],
      },
    ]);
    const record = RawEngine.record(1772704800000, [], "tool.call", "tool/lookup_order", MISSING, [7, "x", "u"]);
    const pay = (i: number) => RawEngine.record(1772704800000 + i * 1000, [], "pay", MISSING, { id: "bot" }, [400, "abc", `user-${i % 100}`]);
    const warm = () => {
      for (let i = 0; i < 2000; i++) e.decideBytes(i % 2 ? record : pay(i));
      for (let i = 0; i < 10; i++) e.load(policies);
    };
    expect(e.load(policies).status).toBe(0);
    warm();
    const before = e.x.memory.buffer.byteLength;
    const pays = Array.from({ length: 1000 }, (_, i) => pay(i));
    for (let i = 0; i < 1_000_000; i++) e.decideBytes(i % 2 ? record : pays[i % 1000]);
    for (let i = 0; i < 1000; i++) expect(e.load(policies).status).toBe(0);
    for (let i = 0; i < 1000; i++) e.load('[{"rules": [{"effect": "nope"}]}]');
    expect(e.x.memory.buffer.byteLength).toBe(before);
    stillDecides(e, [7, "x", "u"]);
  });
});

describe("a trap", () => {
  it("is a WebAssembly.RuntimeError on an out-of-bounds pointer", () => {
    const e = new RawEngine();
    expect(() => e.x.load(0xfffffff0, 100)).toThrow(WebAssembly.RuntimeError);
  });
});

describe("times", () => {
  it("parses RFC 3339 and refuses what is not", () => {
    const e = new RawEngine();
    // Epoch milliseconds of the instant (exact here: the fractions below are at most 3 digits).
    const parse = (s: string): number | null => {
      const data = new TextEncoder().encode(s);
      const p = e.x.alloc(data.length + 1);
      e.bytes.set(data, p);
      const r = e.x.parse_time(p, data.length);
      e.x.free(p);
      if (r === 0) return null;
      const v = new DataView(e.x.memory.buffer);
      return v.getFloat64(r, true) * 1000 + v.getUint32(r + 8, true) / 1e6 + v.getUint32(r + 12, true) / 1e15;
    };
    const exact = (s: string): [number, number, number] | null => {
      const data = new TextEncoder().encode(s);
      const p = e.x.alloc(data.length + 1);
      e.bytes.set(data, p);
      const r = e.x.parse_time(p, data.length);
      e.x.free(p);
      const v = new DataView(e.x.memory.buffer);
      return r === 0 ? null : [v.getFloat64(r, true), v.getUint32(r + 8, true), v.getUint32(r + 12, true)];
    };
    expect(exact("2026-03-05T23:59:59.999999999999999999Z")).toEqual([1772755199, 999999999, 999999999]);
    expect(exact("2026-03-05T23:59:59.9999999999999999999Z")).toEqual([1772755199, 999999999, 999999999]);
    expect(exact("0001-03-01T00:30:00.000001Z")).toEqual([Date.parse("0001-03-01T00:30:00Z") / 1000, 1000, 0]);
    expect(parse("2026-03-05T10:00:00Z")).toBe(Date.UTC(2026, 2, 5, 10));
    expect(parse("2026-03-05T10:00:00.7Z")).toBe(Date.UTC(2026, 2, 5, 10) + 700);
    expect(parse("2026-03-05T11:00:00+01:00")).toBe(Date.UTC(2026, 2, 5, 10));
    expect(parse("2024-02-29T23:59:59-23:59")).toBe(Date.UTC(2024, 2, 1, 23, 58, 59));
    expect(parse("0000-01-01T00:00:00Z")).toBe(Date.parse("0000-01-01T00:00:00Z"));
    for (const bad of ["2026-03-05t10:00:00Z", "2026-03-05T10:00:00z", "2026-02-29T10:00:00Z", "2026-03-05T24:00:00Z",
      "2026-03-05T10:00:00", "2026-03-05 10:00:00Z", "2026-03-05T10:00:00.Z", "2026-03-05T10:00:00+0100", "2026-13-01T00:00:00Z", ""]) {
      expect(parse(bad), bad).toBeNull();
    }
  });
});

describe("time zones", () => {
  // Decodes the committed list independently of the engine (front-coded blocks, see scripts/gen-zones.mjs).
  function committedZones(): string[] {
    const source = readFileSync(new URL("../assembly/zones.ts", import.meta.url), "utf8");
    const numbers = (name: string) => JSON.parse(`[${new RegExp(`${name}: usize = memory\\.data<u\\d+>\\(\\[([^\\]]*)\\]`).exec(source)![1].replace(/,\s*$/, "")}]`) as number[];
    const blob = numbers("ZONE_BLOB");
    const block = Number(/ZONE_BLOCK: u32 = (\d+)/.exec(source)![1]);
    const count = Number(/ZONE_COUNT: u32 = (\d+)/.exec(source)![1]);
    const names: string[] = [];
    let q = 0;
    let previous = "";
    for (let i = 0; i < count; i++) {
      let name: string;
      if (i % block === 0) {
        name = String.fromCharCode(...blob.slice(q + 1, q + 1 + blob[q]));
        q += 1 + blob[q];
      } else {
        name = previous.slice(0, blob[q]) + String.fromCharCode(...blob.slice(q + 2, q + 2 + blob[q + 1]));
        q += 2 + blob[q + 1];
      }
      names.push(name);
      previous = name;
    }
    return names;
  }

  it("accepts each of the 598 names of tzdata 2025b, spelled exactly, and names it back", () => {
    const names = committedZones();
    expect(names).toHaveLength(598);
    expect(names).toContain("Asia/Calcutta");
    expect(names).toContain("UTC");
    expect([...names].sort()).toEqual(names);
    const e = new RawEngine();
    for (const zone of names) {
      const { status, result } = e.load([{ timezone: zone, rules: [{ effect: "allow", action: "a", conditions: "time.hour >= 0" }] }]);
      expect(status, zone).toBe(0);
      expect(result.zones).toEqual([zone]);
    }
    for (const bad of ["europe/berlin", "America", "America/", "America/New_Yorkx", "Zulu ", "", "Mars/Olympus", "A", "zzz"]) {
      expect(e.load([{ timezone: bad, rules: [] }]).status, bad).toBe(1);
    }
    expect(e.load([{ timezone: "europe/berlin", rules: [] }]).result.errors[0].message).toContain("(did you mean `Europe/Berlin`?)");
  });
});

describe("a bundle's payload", () => {
  it("loads as {\"policies\": [...]}, naming errors by policy index", () => {
    const e = new RawEngine();
    expect(e.load(JSON.stringify({ policies: SUPPORT_BOT })).status).toBe(0);
    stillDecides(e);
    const dup = e.load('{"policies": [{"rules": []}, {"rules": [], "rules": []}]}');
    expect(dup.result.errors[0]).toMatchObject({ policy: 1, pointer: "/rules" });
    const bad = e.load({ policies: [{ rules: [] }, { rules: [{ effect: "permit", action: "a" }] }] } as never);
    expect(bad.result.errors[0]).toMatchObject({ policy: 1, pointer: "/rules/0/effect" });
    expect(e.load('{"policies": [], "extra": 1}').status).toBe(1);
    expect(e.load('{"rules": []}').status).toBe(1);
    stillDecides(e);
  });
});
