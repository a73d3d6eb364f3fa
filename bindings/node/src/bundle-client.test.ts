// Warden.connect against a real HTTP server on 127.0.0.1, with bundles signed
// by the shared test keys: what a runtime must do with every bundle it is
// served, online and off.
import { describe, it, expect, beforeAll, afterEach } from "vitest";
import { createServer, type Server } from "node:http";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Warden, buildBundle, signingKeyFromSeed } from "../dist/index.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const vectors = process.env.WARDEN_CONFORMANCE_DIR ?? resolve(repoRoot, "../shared/conformance");
const manifest = JSON.parse(readFileSync(join(vectors, "bundles/manifest.json"), "utf8"));
const PROJECT: string = manifest.project;
const PROJECT_KEY: string = manifest.project_key;
const TRUSTED: Record<string, string> = manifest.trusted_keys;

let k1: CryptoKey;
let k2: CryptoKey;
beforeAll(async () => {
  k1 = await signingKeyFromSeed(manifest.test_signing_seeds.k1, TRUSTED.k1);
  k2 = await signingKeyFromSeed(manifest.test_signing_seeds.k2, TRUSTED.k2);
});

/** Policies that allow exactly `tool/v{version}`, so a decision shows which version is in force. */
const policiesFor = (version: number) => [{ name: `v${version}`, rules: [{ effect: "allow", action: "tool.call", resource: `tool/v${version}` }] }];
const bundle = (version: number, overrides: { project?: string; key?: CryptoKey; keyId?: string; projectKey?: string } = {}) =>
  buildBundle(policiesFor(version), {
    project: overrides.project ?? PROJECT, version, keyId: overrides.keyId ?? "k1",
    signingKey: overrides.key ?? k1, projectKey: overrides.projectKey ?? PROJECT_KEY,
  });

/** A bundle host: serves `body` with an ETag, answers If-None-Match with 304, counts what it saw. */
class BundleHost {
  body = "";
  requests: Array<{ ifNoneMatch: string | undefined; status: number }> = [];
  private server: Server | null = null;
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const etag = `"${createHash("sha256").update(this.body).digest("hex").slice(0, 16)}"`;
      const ifNoneMatch = req.headers["if-none-match"];
      const status = ifNoneMatch === etag ? 304 : 200;
      this.requests.push({ ifNoneMatch, status });
      res.writeHead(status, { ETag: etag, "Content-Type": "application/json" });
      res.end(status === 200 ? this.body : undefined);
    });
    await new Promise<void>((done) => this.server!.listen(port, "127.0.0.1", done));
    this.port = (this.server.address() as { port: number }).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/${PROJECT}.bundle.json`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((done) => s.close(() => done()));
  }
}

const open: Array<{ close(): void }> = [];
const hosts: BundleHost[] = [];
afterEach(async () => {
  for (const w of open.splice(0)) w.close();
  for (const h of hosts.splice(0)) await h.stop();
});

async function connect(host: BundleHost, cacheDir: string, extra: Record<string, unknown> = {}) {
  const warnings: string[] = [];
  const warden = await Warden.connect({
    url: host.url, project: PROJECT, projectKey: PROJECT_KEY, trustedKeys: TRUSTED, cache: cacheDir,
    pollInterval: 0, fetchTimeout: 2000, warn: (m: string) => warnings.push(m), ...extra,
  });
  open.push(warden);
  return { warden, warnings };
}

const allows = (w: Warden, version: number) => w.check("tool.call", `tool/v${version}`).allowed;

describe("Warden.connect", () => {
  it("loads, answers 304 for an unchanged ETag, applies new versions on refresh and on the next poll", async () => {
    const host = new BundleHost();
    hosts.push(host);
    host.body = await bundle(1);
    await host.start();
    const cache = mkdtempSync(join(tmpdir(), "warden-cache-"));
    const { warden } = await connect(host, cache);
    expect(warden.status()).toMatchObject({ version: 1, source: "network", highestVersion: 1, lastFetch: { outcome: "updated" }, lastError: null });
    expect(allows(warden, 1)).toBe(true);
    expect(readFileSync(join(cache, `${PROJECT}.bundle.json`), "utf8")).toBe(host.body);
    expect(readFileSync(join(cache, `${PROJECT}.version`), "utf8")).toBe("1");

    expect((await warden.refresh()).lastFetch?.outcome).toBe("not-modified");
    expect(host.requests.at(-1)).toMatchObject({ status: 304 });
    expect(host.requests.at(-1)?.ifNoneMatch).toBeDefined();

    host.body = await bundle(2);
    const updates: number[] = [];
    warden.on("update", (u) => updates.push(u.version));
    expect(await warden.refresh()).toMatchObject({ version: 2, lastFetch: { outcome: "updated" } });
    expect(allows(warden, 2)).toBe(true);
    expect(allows(warden, 1)).toBe(false);

    // Polling: a client that polls every 50 ms picks up version 3 by itself.
    const { warden: polling } = await connect(host, mkdtempSync(join(tmpdir(), "warden-cache-")), { pollInterval: 50 });
    host.body = await bundle(3);
    await new Promise((r) => setTimeout(r, 400));
    expect(polling.status().version).toBe(3);
    expect(updates).toEqual([2]);
  });

  it("keeps the bundle in force and its cache when the server is down or serves a bad bundle", async () => {
    const host = new BundleHost();
    hosts.push(host);
    host.body = await bundle(5);
    await host.start();
    const cache = mkdtempSync(join(tmpdir(), "warden-cache-"));
    const { warden } = await connect(host, cache);
    const cached = readFileSync(join(cache, `${PROJECT}.bundle.json`), "utf8");
    const errors: string[] = [];
    warden.on("error", (e) => errors.push(e.error.code));

    const forged = JSON.parse(await bundle(6, { key: k2, keyId: "k1" }));
    const tampered = JSON.parse(await bundle(6));
    // The next-to-last character changed (tested, not the last: where it was already "A" nothing changed, 1 run in 64).
    tampered.payload = tampered.payload.slice(0, -2) + (tampered.payload.at(-2) === "A" ? "B" : "A") + tampered.payload.slice(-1);
    const served: Array<[string, string]> = [
      [JSON.stringify(forged), "ERR_BUNDLE_SIGNATURE"],
      [JSON.stringify(tampered), "ERR_BUNDLE_SIGNATURE"],
      [await bundle(4), "ERR_BUNDLE_STALE"],
      [await bundle(7, { project: "proj_other" }), "ERR_BUNDLE_PROJECT"],
      [await bundle(7, { projectKey: "not-the-project-key" }), "ERR_BUNDLE_DECRYPT"],
      [await bundle(7, { keyId: "k9" }), "ERR_BUNDLE_UNKNOWN_KEY"],
      ["{\"format\": \"warden-bundle-1\"", "ERR_BUNDLE_FORMAT"],
    ];
    for (const [body, code] of served) {
      host.body = body;
      const status = await warden.refresh();
      expect(status.lastError?.code, code).toBe(code);
      expect(status.version).toBe(5);
      expect(allows(warden, 5)).toBe(true);
      expect(readFileSync(join(cache, `${PROJECT}.bundle.json`), "utf8")).toBe(cached);
    }
    expect(errors).toEqual(served.map(([, code]) => code));

    await host.stop();
    const down = await warden.refresh();
    expect(down.lastError?.code).toBe("ERR_BUNDLE_FETCH");
    expect(down.lastFetch?.outcome).toBe("failed");
    expect(allows(warden, 5)).toBe(true);
  });

  it("starts offline from its cache, ignores a truncated cache with a warning, and never rolls back", async () => {
    const host = new BundleHost();
    hosts.push(host);
    host.body = await bundle(8);
    await host.start();
    const cache = mkdtempSync(join(tmpdir(), "warden-cache-"));
    await connect(host, cache);
    await host.stop();

    // Restarted with the server down: the cached bundle decides.
    const offline = await connect(host, cache);
    expect(offline.warden.status()).toMatchObject({ version: 8, source: "cache", lastFetch: { outcome: "failed" } });
    expect(allows(offline.warden, 8)).toBe(true);

    // A truncated cache file is ignored, with a warning, never loaded and never fatal.
    const file = join(cache, `${PROJECT}.bundle.json`);
    const whole = readFileSync(file, "utf8");
    writeFileSync(file, whole.slice(0, whole.length / 2));
    const truncated = await connect(host, cache);
    expect(truncated.warden.status().version).toBeNull();
    expect(truncated.warnings.some((w) => w.includes("the cached bundle is ignored: ERR_BUNDLE_FORMAT"))).toBe(true);
    const d = truncated.warden.check("tool.call", "tool/v8");
    expect(d).toMatchObject({ allowed: false, reason: "no policies have loaded yet, so every request is denied" });

    // The cache deleted and an older signed bundle served: still refused.
    rmSync(file);
    expect(existsSync(join(cache, `${PROJECT}.version`))).toBe(true);
    host.body = await bundle(3);
    await host.start(host.port);
    const rolledBack = await connect(host, cache);
    expect(rolledBack.warden.status()).toMatchObject({ version: null, highestVersion: 8, lastError: { code: "ERR_BUNDLE_STALE" } });
    expect(allows(rolledBack.warden, 3)).toBe(false);
  });

  it("takes the client's own options too: the audit sink and the approval handler", async () => {
    const host = new BundleHost();
    hosts.push(host);
    host.body = await buildBundle([{ name: "p", rules: [{ effect: "escalate", action: "tool.call", resource: "tool/refund" }] }], {
      project: PROJECT, version: 1, keyId: "k1", signingKey: k1, projectKey: PROJECT_KEY,
    });
    await host.start();
    const records: Array<{ effect: string; approvedBy?: string }> = [];
    const { warden } = await connect(host, "", {
      cache: false, audit: (r: { effect: string; approvedBy?: string }) => records.push(r),
      approvals: { handler: async () => ({ approved: true, approver: "lead" }) },
    });
    expect((await warden.authorize("tool.call", "tool/refund")).approvedBy).toBe("lead");
    expect(records.map((r) => [r.effect, r.approvedBy])).toEqual([["escalate", undefined], ["escalate", "lead"]]);
  });

  it("writes the floor and the bundle in one setAll where the cache has one, else the floor first", async () => {
    const host = new BundleHost();
    hosts.push(host);
    host.body = await bundle(4);
    await host.start();
    const writes: unknown[] = [];
    const store = new Map<string, string>();
    const get = async (key: string) => store.get(key) ?? null;
    const set = async (key: string, value: string) => void writes.push(["set", key, value.length]);
    await connect(host, "", { cache: { get, set } });
    expect(writes).toEqual([["set", `${PROJECT}.version`, 1], ["set", `${PROJECT}.bundle.json`, host.body.length]]);
    writes.length = 0;
    const setAll = async (entries: Record<string, string>) => void writes.push(["setAll", Object.keys(entries), entries[`${PROJECT}.version`]]);
    await connect(host, "", { cache: { get, set, setAll } });
    expect(writes).toEqual([["setAll", [`${PROJECT}.version`, `${PROJECT}.bundle.json`], "4"]]);
  });
});
