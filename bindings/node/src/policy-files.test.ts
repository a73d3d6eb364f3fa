import { describe, it, expect } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Warden, PolicyInvalidError, readPolicyFiles, formatError, type LocatedPolicyError } from "../dist/index.js";

function files(entries: Record<string, string>): (name: string) => string {
  const dir = mkdtempSync(join(tmpdir(), "warden-files-"));
  for (const [name, text] of Object.entries(entries)) writeFileSync(join(dir, name), text);
  return (name) => join(dir, name);
}

async function loadErrors(paths: string[]): Promise<LocatedPolicyError[]> {
  try {
    await Warden.fromFile(paths);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyInvalidError);
    return (e as PolicyInvalidError).errors as LocatedPolicyError[];
  }
  throw new Error("the policies loaded");
}

describe("policy files", () => {
  it("map an engine error's pointer to the line and column of a YAML file", async () => {
    const path = files({
      "bot.yaml": [
        "name: support-bot",
        "rules:",
        "  - effect: allow",
        "    action: tool.call",
        "    resource: tool/lookup_order",
        "  - effect: deny",
        "    action: tool.call",
        "    conditon:",
        "      amount: { gt: 500 }",
        "",
      ].join("\n"),
    });
    const errors = await loadErrors([path("bot.yaml")]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: path("bot.yaml"), line: 8, column: 5, policy: 0, pointer: "/rules/1/conditon" });
    expect(formatError(errors[0])).toBe(`${path("bot.yaml")}:8:5 /rules/1/conditon unknown field \`conditon\` in a rule (did you mean \`conditions\`?)`);
  });

  it("name a missing member by the place its parent stands", async () => {
    const path = files({ "p.yaml": "rules:\n  - effect: allow\n    resource: r\n" });
    const errors = await loadErrors([path("p.yaml")]);
    expect(errors[0]).toMatchObject({ pointer: "/rules/0/action", line: 2, column: 5 });
  });

  it("concatenate files in order, each a policy or an array of them, YAML or JSON", async () => {
    const path = files({
      "a.json": JSON.stringify([{ name: "a", rules: [{ effect: "allow", action: "a" }] }, { name: "b", rules: [] }]),
      "c.yaml": "name: c\nrules:\n  - { effect: deny, action: c, resource: x }\n",
      "d.yml": "---\nname: d\nrules: []\n---\nname: e\nrules: [{ effect: allow, action: e }]\n",
    });
    const w = await Warden.fromFile([path("a.json"), path("c.yaml"), path("d.yml")]);
    expect(w.metadata!.policies.map((p) => p.name)).toEqual(["a", "b", "c", "d", "e"]);
    expect(w.files).toEqual([path("a.json"), path("a.json"), path("c.yaml"), path("d.yml"), path("d.yml")]);
    expect(w.check("e").policy).toBe(4);
    const errors = await loadErrors([path("a.json"), files({ "bad.json": '[{"rules": [{"effect": "allow", "action": 7}]}]' })("bad.json")]);
    expect(errors[0]).toMatchObject({ policy: 2, pointer: "/rules/0/action", line: 1, column: 33 });
  });

  it("read YAML with the 1.2 core schema: on, no and 010 as JSON would", async () => {
    const path = files({ "s.yaml": "rules:\n  - effect: allow\n    action: a\n    conditions: { flag: on, answer: no, n: 010 }\n" });
    const { policies } = await readPolicyFiles(path("s.yaml"));
    expect((policies[0] as any).rules[0].conditions).toEqual({ flag: "on", answer: "no", n: 10 });
  });

  it("refuse duplicate keys, bad syntax and numbers JSON cannot carry, with their places", async () => {
    const path = files({
      "dup.yaml": "rules: []\nname: a\nname: b\n",
      "syntax.json": '[{"rules": [}]',
      "inf.yaml": "rules:\n  - effect: allow\n    action: a\n    conditions: { n: { lt: .inf } }\n",
      "empty.yaml": "# nothing\n",
    });
    const dup = await loadErrors([path("dup.yaml")]);
    expect(dup[0]).toMatchObject({ line: 3, column: 1, message: "duplicate member: a name may appear only once in a mapping" });
    const syntax = await loadErrors([path("syntax.json")]);
    expect(syntax[0]).toMatchObject({ file: path("syntax.json"), line: 1 });
    const inf = await loadErrors([path("inf.yaml")]);
    expect(inf[0]).toMatchObject({ policy: 0, pointer: "/rules/0/conditions/n/lt", line: 4 });
    const empty = await loadErrors([path("empty.yaml")]);
    expect(empty[0].message).toContain("holds no policy");
    const missing = await loadErrors([path("nope.yaml")]);
    expect(missing[0].message).toContain("cannot read the file");
  });
});
