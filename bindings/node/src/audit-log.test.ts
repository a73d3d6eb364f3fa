// auditLog: a Warden's audit records as JSON lines in a real file.
import { describe, it, expect } from "vitest";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Warden, auditLog, REDACTED } from "../dist/index.js";

describe("auditLog", () => {
  it("appends one JSON line per recorded decision, to a file only its owner reads, and refuses writes once closed", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "warden-audit-")), "logs", "audit.jsonl");
    const log = auditLog(path);
    const errors: string[] = [];
    const w = await Warden.create({
      audit: log,
      policies: [{ name: "p", audit: { redact: ["user.email"] }, rules: [{ effect: "allow", action: "tool.call", resource: "tool/lookup" }] }],
    });
    w.on("auditError", (e) => errors.push((e.error as Error).message));
    w.check("tool.call", "tool/lookup", { user: { email: "a@b.c", id: 7 } }, { agent: { id: "bot" } });
    w.check("tool.call", "tool/other");
    await log.flush();
    const lines = readFileSync(path, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((r) => [r.effect, r.resource])).toEqual([["allow", "tool/lookup"], ["deny", "tool/other"]]);
    expect(lines[0]).toMatchObject({ policyName: "p", agent: { id: "bot" }, context: { user: { email: REDACTED, id: 7 } } });
    expect(statSync(path).mode & 0o777).toBe(0o600);

    // A second log on the same file appends.
    const again = auditLog(path);
    const w2 = await Warden.create({ audit: again, policies: [] });
    w2.check("x");
    await again.close();
    expect(readFileSync(path, "utf8").trimEnd().split("\n")).toHaveLength(3);

    await log.close();
    w.check("tool.call", "tool/lookup");
    expect(errors).toEqual([`the audit log ${path} is closed`]);
  });
});
