// `warden keygen` and `warden bundle build | inspect | serve`, run as a user runs them.
import { describe, it, expect, beforeAll } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildBundle, signingKeyFromSeed } from "@warden/node";

const bin = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const bundles = join(process.env.WARDEN_CONFORMANCE_DIR ?? resolve(repoRoot, "../shared/conformance"), "bundles");
const manifest = JSON.parse(readFileSync(join(bundles, "manifest.json"), "utf8"));

function warden(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: options.cwd, encoding: "utf8", env: { ...process.env, ...options.env } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const trustArgs = Object.entries(manifest.trusted_keys as Record<string, string>).flatMap(([id, key]) => ["--trust", `${id}=${key}`]);
const inspect = (file: string, extra: string[] = []) =>
  warden(["bundle", "inspect", file, "--project", manifest.project, "--project-key", manifest.project_key, ...trustArgs, "--json", ...extra]);

describe("warden bundle inspect --json", () => {
  it("gives every manifest case its expected outcome, after and needs included", () => {
    for (const c of manifest.cases) {
      const after = c.expect.after ? ["--after", join(bundles, c.expect.after)] : [];
      const expected = c.expect.ok ? { ok: true, version: c.expect.version, policies: c.expect.policies } : { ok: false, error: c.expect.error };
      if (c.expect.needs === "allow_plain") {
        const plain = inspect(join(bundles, c.file), ["--allow-plain", ...after]);
        expect(JSON.parse(plain.out), `${c.file} with --allow-plain`).toEqual(expected);
        expect(JSON.parse(inspect(join(bundles, c.file), after).out), c.file).toEqual({ ok: false, error: "ERR_BUNDLE_DECRYPT" });
      } else {
        const r = inspect(join(bundles, c.file), after);
        expect(JSON.parse(r.out), c.file).toEqual(expected);
        expect(r.code, c.file).toBe(c.expect.ok ? 0 : 1);
      }
    }
  });

  it("judges fresh bundles signed with the test keys the same way", async () => {
    const dir = mkdtempSync(join(tmpdir(), "warden-bundles-"));
    const k1 = await signingKeyFromSeed(manifest.test_signing_seeds.k1, manifest.trusted_keys.k1);
    const k2 = await signingKeyFromSeed(manifest.test_signing_seeds.k2, manifest.trusted_keys.k2);
    const policies = [{ name: "a", rules: [{ effect: "allow", action: "x" }] }, { name: "b", rules: [] }];
    const base = { project: manifest.project, keyId: "k1", signingKey: k1, projectKey: manifest.project_key };
    const cases: Array<[string, string, unknown, string[]?]> = [
      ["v12.json", await buildBundle(policies, { ...base, version: 12 }), { ok: true, version: 12, policies: 2 }],
      ["v13-k2.json", await buildBundle(policies, { ...base, version: 13, keyId: "k2", signingKey: k2 }), { ok: true, version: 13, policies: 2 }],
      ["v11-after-12.json", await buildBundle(policies, { ...base, version: 11 }), { ok: false, error: "ERR_BUNDLE_STALE" }, ["--after", join(dir, "v12.json")]],
      ["v12-again.json", await buildBundle(policies, { ...base, version: 12 }), { ok: true, version: 12, policies: 2 }, ["--after", join(dir, "v12.json")]],
      ["k2-as-k1.json", await buildBundle(policies, { ...base, version: 14, signingKey: k2 }), { ok: false, error: "ERR_BUNDLE_SIGNATURE" }],
      ["plain.json", await buildBundle(policies, { ...base, version: 15, projectKey: undefined }), { ok: false, error: "ERR_BUNDLE_DECRYPT" }],
      ["other.json", await buildBundle(policies, { ...base, project: "proj_other", version: 16 }), { ok: false, error: "ERR_BUNDLE_PROJECT" }],
      ["bad-policy.json", await buildBundle([{ rules: [{ effect: "permit", action: "x" }] }], { ...base, version: 17 }), { ok: false, error: "ERR_POLICY_INVALID" }],
    ];
    for (const [name, text] of cases) writeFileSync(join(dir, name), text);
    for (const [name, , expected, extra] of cases) expect(JSON.parse(inspect(join(dir, name), extra ?? []).out), name).toEqual(expected);
  });
});

describe("warden keygen and warden bundle build", () => {
  let dir: string;
  let pub: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "warden-keys-"));
    const r = warden(["keygen", "--out", join(dir, "keys"), "--key-id", "release-1"]);
    expect(r.code).toBe(0);
    pub = readFileSync(join(dir, "keys/release-1.pub"), "utf8").trim();
  });

  it("makes a PKCS#8 key readable only by its owner, and a raw base64url public key", () => {
    const key = join(dir, "keys/release-1.key");
    expect(readFileSync(key, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(Buffer.from(pub, "base64url")).toHaveLength(32);
    expect(warden(["keygen", "--out", join(dir, "keys"), "--key-id", "release-1"]).code).toBe(2);
  });

  it("builds bundles that a client with the public key loads, counting versions up", () => {
    writeFileSync(join(dir, "p.yaml"), "name: bot\nrules:\n  - effect: allow\n    action: tool.call\n");
    const out = join(dir, "proj_demo.bundle.json");
    const build = (extra: string[], env?: Record<string, string>) =>
      warden(["bundle", "build", "--policy", join(dir, "p.yaml"), "--key", join(dir, "keys/release-1.key"), "--project", "proj_demo", "--out", out, ...extra], { env });
    expect(build(["--project-key", "pk_1"]).code).toBe(0);
    expect(build([], { WARDEN_PROJECT_KEY: "pk_1" }).out).toContain("version 2 of proj_demo");
    const check = (extra: string[] = []) => JSON.parse(warden(["bundle", "inspect", out, "--project", "proj_demo", "--trust", `release-1=${pub}`, "--project-key", "pk_1", "--json", ...extra]).out);
    expect(check()).toEqual({ ok: true, version: 2, policies: 1 });
    const human = warden(["bundle", "inspect", out, "--project", "proj_demo", "--trust", `release-1=${pub}`, "--project-key", "pk_1"]);
    expect(human.out).toContain("key id:     release-1");
    expect(human.out).toContain("policies:   bot");
    expect(build(["--plain", "--version", "9"]).code).toBe(0);
    expect(check()).toEqual({ ok: false, error: "ERR_BUNDLE_DECRYPT" });
    expect(check(["--allow-plain"])).toEqual({ ok: true, version: 9, policies: 1 });
    expect(build([]).code).toBe(2); // neither a project key nor --plain

    writeFileSync(join(dir, "bad.yaml"), "rules:\n  - efect: allow\n    action: a\n");
    const bad = warden(["bundle", "build", "--policy", join(dir, "bad.yaml"), "--key", join(dir, "keys/release-1.key"), "--project", "proj_demo", "--out", join(dir, "x.json"), "--plain"]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain(`${join(dir, "bad.yaml")}:2:5 /rules/0/efect unknown field \`efect\``);
  });
});

describe("warden bundle serve", () => {
  it("serves files with an ETag, answers If-None-Match with 304 and nothing outside its folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), "warden-serve-"));
    writeFileSync(join(dir, "b.json"), '{"x": 1}');
    const child = spawn(process.execPath, [bin, "bundle", "serve", dir, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const port = await new Promise<number>((done, fail) => {
        child.stdout.on("data", (d: Buffer) => {
          const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(d.toString());
          if (m) done(Number(m[1]));
        });
        child.once("exit", () => fail(new Error("the server exited")));
      });
      const first = await fetch(`http://127.0.0.1:${port}/b.json`);
      expect(first.status).toBe(200);
      expect(await first.text()).toBe('{"x": 1}');
      const etag = first.headers.get("etag")!;
      expect((await fetch(`http://127.0.0.1:${port}/b.json`, { headers: { "If-None-Match": etag } })).status).toBe(304);
      writeFileSync(join(dir, "b.json"), '{"x": 2}');
      expect((await fetch(`http://127.0.0.1:${port}/b.json`, { headers: { "If-None-Match": etag } })).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/%2e%2e/%2e%2e/etc/passwd`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/missing.json`)).status).toBe(404);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
