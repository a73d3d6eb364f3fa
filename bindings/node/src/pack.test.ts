// The published packages as a user gets them: `pnpm pack` @warden/core and
// @warden/node, install both tarballs with npm into an empty folder, and
// decide there from both `import` and `require`.
import { describe, it, expect } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const packages = fileURLToPath(new URL("../../../", import.meta.url));

const POLICY = `name: support-bot
rules:
  - effect: allow
    action: tool.call
    resource: tool/lookup_order
  - effect: escalate
    action: tool.call
    resource: tool/issue_refund
    conditions: context.amount > 500
    reason: refunds over $500 need a person
`;

describe("the packed packages", () => {
  it("install with npm and decide from import and require", () => {
    const dir = mkdtempSync(join(tmpdir(), "warden-pack-"));
    // pnpm as scripts/setup installs it, when it is not on the PATH already.
    const env = { ...process.env, PATH: `${join(packages, ".tools/node_modules/.bin")}:${process.env.PATH}` };
    for (const pkg of ["packages/core", "bindings/node"]) {
      execFileSync("pnpm", ["pack", "--pack-destination", dir], { cwd: join(packages, pkg), stdio: "pipe", env });
    }
    const tarballs = readdirSync(dir).filter((f) => f.endsWith(".tgz")).map((f) => join(dir, f));
    expect(tarballs).toHaveLength(2);
    const app = join(dir, "app");
    execFileSync("mkdir", [app]);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true }));
    writeFileSync(join(app, "policy.yaml"), POLICY);
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs], { cwd: app, stdio: "pipe" });
    const script = (load: string) => `${load}
const main = async () => {
  const w = await Warden.fromFile("policy.yaml");
  const a = w.check("tool.call", "tool/lookup_order");
  const b = w.check("tool.call", "tool/issue_refund", { amount: 900 });
  console.log(JSON.stringify([a.allowed, a.rule, b.effect, b.reason]));
};
main();
`;
    writeFileSync(join(app, "esm.mjs"), script('import { Warden } from "@warden/node";'));
    writeFileSync(join(app, "cjs.cjs"), script('const { Warden } = require("@warden/node");'));
    const expected = [true, 0, "escalate", "refunds over $500 need a person"];
    for (const file of ["esm.mjs", "cjs.cjs"]) {
      const out = execFileSync(process.execPath, [file], { cwd: app, encoding: "utf8" });
      expect(JSON.parse(out), file).toEqual(expected);
    }
  });
});
