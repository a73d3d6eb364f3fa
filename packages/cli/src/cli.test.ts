// The built `warden` command, run as a user runs it.
import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compareDecision } from "@warden/core/conformance";

const bin = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

function warden(args: string[], cwd?: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8", maxBuffer: 1 << 28 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "warden-cli-"));
}

describe("warden validate", () => {
  it("prints each error at the line and column of the YAML file, with a did-you-mean", () => {
    const dir = tempDir();
    const file = join(dir, "p.yaml");
    writeFileSync(file, "name: p\nrules:\n  - effect: allow\n    action: a\n  - efect: deny\n    action: b\n    resource: \"x\\\\\"\n");
    const r = warden(["validate", file]);
    expect(r.code).toBe(1);
    expect(r.out.trim().split("\n")).toEqual([
      `${file}:5:5 /rules/1/efect unknown field \`efect\` in a rule (did you mean \`effect\`?)`,
      `${file}:5:5 /rules/1/effect missing required field \`effect\`: \`allow\`, \`deny\` or \`escalate\``,
      `${file}:7:5 /rules/1/resource the pattern \`x\\\` ends with a lone \`\\\` (write \`\\\\\` for a backslash)`,
    ]);
    expect(r.err).toContain("3 errors");
  });

  it("says ok for valid files", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.json"), JSON.stringify({ rules: [{ effect: "allow", action: "a" }] }));
    expect(warden(["validate", join(dir, "a.json")])).toMatchObject({ code: 0, out: "ok: 1 policy, 1 rule in 1 file\n" });
  });
});

describe("warden init and warden test", () => {
  it("writes a starter that its own tests pass, and reports a failing case with its explanation", () => {
    const dir = tempDir();
    expect(warden(["init", "."], dir).code).toBe(0);
    const passing = warden(["test", "tests/support-bot.test.yaml"], dir);
    expect(passing.code).toBe(0);
    expect(passing.out).toContain("PASS: 9/9");
    expect(warden(["init", "."], dir).code).toBe(2);
    const tests = readFileSync(join(dir, "tests/support-bot.test.yaml"), "utf8").replace("expect: { allowed: true, policy: 0, rule: 1 }", "expect: { allowed: true, policy: 0, rule: 2 }");
    writeFileSync(join(dir, "tests/broken.test.yaml"), tests);
    const failing = warden(["test", "tests/broken.test.yaml"], dir);
    expect(failing.code).toBe(1);
    expect(failing.out).toContain("FAIL  #2 refunds $20 on its own");
    expect(failing.out).toContain("rule: expected 2, got 1");
    expect(failing.out).toContain("why:     rule 1 of policy 0 is the only candidate");
    expect(failing.out).toContain("FAIL: 1/9");
  });
});

describe("warden check", () => {
  it("prints one decision, readable, and exits 0 only when allowed", () => {
    const dir = tempDir();
    warden(["init", "."], dir);
    const allowed = warden(["check", "--policy", "policies/support-bot.yaml", "--context", '{"amount": 20}', "tool.call", "tool/issue_refund"], dir);
    expect(allowed.code).toBe(0);
    expect(allowed.out).toContain("ALLOW  tool.call tool/issue_refund");
    const escalated = warden(["check", "--policy", "policies/support-bot.yaml", "--agent", '{"id": "b", "trust_level": "elevated"}', "--context", "{}", "--explain", "tool.call", "tool/issue_refund"], dir);
    expect(escalated.code).toBe(1);
    expect(escalated.out).toContain("unknown: context.amount");
    expect(escalated.out).toContain("trust needs elevated, the agent has elevated");
    expect(warden(["check", "--policy", "policies/support-bot.yaml", "--context", "{nope", "a"], dir)).toMatchObject({ code: 2 });
  });
});

describe("warden check --requests (batch mode)", () => {
  const pathological = (): Buffer[] => [
    Buffer.from(`{"action": "${"x".repeat(3 << 20)}"}`), // a 3 MiB action: invalid (over 1 MiB)
    Buffer.from(`{"action": "a", "context": {"d": ${"[".repeat(100000)}${"]".repeat(100000)}}}`),
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0xff, 0xfe, 0x7d]), // not UTF-8
    Buffer.from("not json"),
    Buffer.from(""),
    Buffer.from('{"action": "a", "extra": 1}'),
  ];

  it("answers every line of every conformance group in order, with pathological lines between them", () => {
    const dir = process.env.WARDEN_CONFORMANCE_DIR ?? resolve(repoRoot, "../shared/conformance");
    const work = tempDir();
    let cases = 0;
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
      const doc = JSON.parse(readFileSync(join(dir, file), "utf8"));
      if (!doc.groups) continue;
      doc.groups.forEach((group: { policies: unknown[]; cases: Array<{ request: unknown; expect: never }> }, g: number) => {
        const policyFile = join(work, `${file}-${g}.json`);
        writeFileSync(policyFile, JSON.stringify(group.policies));
        const lines: Buffer[] = [];
        const bad = pathological();
        group.cases.forEach((c, i) => {
          lines.push(Buffer.from(JSON.stringify(c.request)));
          lines.push(bad[i % bad.length]);
        });
        const requests = join(work, `${file}-${g}.jsonl`);
        writeFileSync(requests, Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")])));
        const r = warden(["check", "--policy", policyFile, "--requests", requests, "--json"]);
        expect(r.code, `${file} group ${g}: ${r.err}`).toBe(0);
        const out = r.out.trimEnd().split("\n").map((l) => JSON.parse(l));
        expect(out).toHaveLength(lines.length);
        group.cases.forEach((c, i) => {
          const line = out[2 * i];
          expect(Object.keys(line).slice(0, 7)).toEqual(["allowed", "effect", "policy", "rule", "reason", "indeterminate", "rate_limit"]);
          const problems = compareDecision({ ...line, rateLimit: line.rate_limit }, c.expect);
          expect(problems, `${file} group ${g} case ${i}`).toEqual([]);
          const invalid = out[2 * i + 1];
          expect(invalid).toMatchObject({ allowed: false, effect: "deny", policy: null, rule: null, reason: null, error: { code: "ERR_REQUEST_INVALID" } });
          cases++;
        });
      });
    }
    expect(cases).toBeGreaterThan(300);
  });

  it("prints one error line and exits 2 when the policies do not load", () => {
    const work = tempDir();
    writeFileSync(join(work, "p.yaml"), "rules:\n  - effect: permit\n    action: a\n");
    writeFileSync(join(work, "r.jsonl"), '{"action": "a"}\n');
    const r = warden(["check", "--policy", join(work, "p.yaml"), "--requests", join(work, "r.jsonl"), "--json"]);
    expect(r.code).toBe(2);
    expect(r.out.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
      { error: { code: "ERR_POLICY_INVALID", policy: 0, pointer: "/rules/0/effect", message: "`permit` is not an effect: use `allow`, `deny` or `escalate` (lower case)" } },
    ]);
  });
});

describe("warden check --audit and warden audit", () => {
  it("appends the records the policies ask for, and prints them filtered, with a count", () => {
    const dir = tempDir();
    const policy = join(dir, "p.json");
    writeFileSync(policy, JSON.stringify({
      name: "support", audit: { log_allowed: false, redact: ["user.email"] },
      rules: [
        { name: "lookups", effect: "allow", action: "tool.call", resource: "tool/lookup_*" },
        { name: "refunds", effect: "escalate", action: "tool.call", resource: "tool/refund", reason: "a person approves refunds" },
        { name: "deletes", effect: "deny", action: "tool.call", resource: "tool/delete_*", alert: true },
      ],
    }));
    const log = join(dir, "logs", "audit.jsonl");
    const one = warden(["check", "--policy", policy, "--audit", log, "--agent", '{"id":"bot"}', "--context", '{"user":{"email":"a@b.c"}}', "--time", "2026-03-05T10:00:00Z", "tool.call", "tool/delete_account"]);
    expect(one.code).toBe(1);
    const requests = join(dir, "requests.jsonl");
    writeFileSync(requests, [
      { action: "tool.call", resource: "tool/lookup_order", time: "2026-03-05T10:01:00Z" },
      { action: "tool.call", resource: "tool/refund", agent: { id: "bot" }, time: "2026-03-05T10:02:00Z" },
      { action: "tool.call", resource: "tool/refund", agent: { id: "other" }, time: "2026-03-05T10:03:00Z" },
    ].map((r) => JSON.stringify(r)).join("\n"));
    expect(warden(["check", "--policy", policy, "--requests", requests, "--json", "--audit", log]).code).toBe(0);

    const records = readFileSync(log, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
    // The allowed lookup is not recorded (log_allowed: false); the email is redacted.
    expect(records.map((r) => [r.effect, r.resource, r.agent?.id ?? null])).toEqual([
      ["deny", "tool/delete_account", "bot"], ["escalate", "tool/refund", "bot"], ["escalate", "tool/refund", "other"],
    ]);
    expect(records[0]).toMatchObject({ at: "2026-03-05T10:00:00.000Z", alert: true, context: { user: { email: "[redacted]" } } });

    const all = warden(["audit", log]);
    expect(all.code).toBe(0);
    expect(all.out.split("\n")[0]).toBe("2026-03-05T10:00:00.000Z  DENY      tool.call tool/delete_account  agent bot  rule 2 (deletes) of policy 0 (support) — denied by rule 2 (`deletes`) of policy 0 (`support`)  [ALERT]");
    expect(all.out.trimEnd().split("\n").at(-1)).toBe("3 records: 0 allowed, 1 denied, 2 escalated (0 approved), 1 alert");
    const filtered = warden(["audit", log, "--effect", "escalate", "--agent", "bot", "--json"]);
    expect(filtered.out.trim().split("\n").map((l) => JSON.parse(l).at)).toEqual(["2026-03-05T10:02:00.000Z"]);
    expect(warden(["audit", log, "--since", "2026-03-05T10:02:30Z"]).out).toContain("1 record: 0 allowed, 0 denied, 1 escalated");

    // Request text is printed with control characters escaped: no record can print as another line.
    const forged = join(dir, "forged.jsonl");
    writeFileSync(forged, `${JSON.stringify({ ...records[0], action: "tool.call\n2026-03-05T10:00:00.000Z  ALLOW     forged" })}\n`);
    expect(warden(["audit", forged]).out.split("\n")[0]).toContain("tool.call\\u000a2026-03-05T10:00:00.000Z  ALLOW     forged");
    writeFileSync(log, "not json\n", { flag: "a" });
    const bad = warden(["audit", log]);
    expect(bad).toMatchObject({ code: 1, err: `${log}:4: not an audit record (a JSON object with at, effect and allowed)\n` });
    expect(warden(["audit", log, "--effect", "permit"])).toMatchObject({ code: 2 });
  });
});
