// @warden/edge in workerd: the shared vectors, a bundle update through the
// Worker's refresh, and decisions from KV with the bundle server down.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Miniflare } from "miniflare";
import { buildBundle, signingKeyFromSeed } from "@warden/core";
import { bundleWorker, startWorker, serveVectors, BundleServer, conformanceDir } from "../test/workerd-harness.mjs";

const manifest = JSON.parse(readFileSync(join(conformanceDir, "bundles/manifest.json"), "utf8"));
let script: string;
let vectors: { url: string; close(): Promise<void> };

beforeAll(async () => {
  script = await bundleWorker(fileURLToPath(new URL("./test/worker.ts", import.meta.url)));
  vectors = await serveVectors();
});
afterAll(async () => {
  await vectors?.close();
});

describe("in workerd", () => {
  it("passes every decision, invalid-policy and bundle vector", async () => {
    const mf = await startWorker(script, { VECTORS: vectors.url, BUNDLE_URL: "", PROJECT: "", PROJECT_KEY: "", TRUSTED: "{}", POLL: "0" }, false);
    try {
      const result = (await (await mf.dispatchFetch("http://worker/conformance")).json()) as { checks: number; ran: number; passed: number; failures: unknown[] };
      console.log(`conformance (workerd): ${result.passed}/${result.checks} checks passed`);
      expect(result.failures).toEqual([]);
      expect(result.ran).toBe(result.checks);
      expect(result.passed).toBe(result.checks);
      expect(result.checks).toBeGreaterThanOrEqual(380);
    } finally {
      await mf.dispose();
    }
  });

  it("refreshes a stale bundle through waitUntil, and decides from KV after a restart with the server down", async () => {
    const key = await signingKeyFromSeed(manifest.test_signing_seeds.k1, manifest.trusted_keys.k1);
    const bundle = (version: number) => buildBundle([{ name: `v${version}`, rules: [{ effect: "allow", action: "llm.generate", resource: `model/v${version}` }] }], {
      project: manifest.project, version, keyId: "k1", signingKey: key, projectKey: manifest.project_key,
    });
    const server = new BundleServer();
    server.body = await bundle(1);
    await server.start();
    const persist = mkdtempSync(join(tmpdir(), "warden-kv-"));
    const bindings = {
      VECTORS: vectors.url, BUNDLE_URL: server.url, PROJECT: manifest.project, PROJECT_KEY: manifest.project_key,
      TRUSTED: JSON.stringify(manifest.trusted_keys), POLL: "100",
    };
    const check = async (mf: Miniflare, resource: string) =>
      (await (await mf.dispatchFetch(`http://worker/check?action=llm.generate&resource=${resource}`)).json()) as { allowed: boolean; status: { version: number | null; source: string } };
    let mf = await startWorker(script, bindings, persist);
    try {
      expect(await check(mf, "model/v1")).toMatchObject({ allowed: true, status: { version: 1, source: "network" } });
      server.body = await bundle(2);
      await new Promise((r) => setTimeout(r, 150));
      // This request finds the bundle stale: it is still decided by v1, while v2 is fetched through waitUntil.
      expect((await check(mf, "model/v1")).allowed).toBe(true);
      let version = 1;
      for (let i = 0; i < 50 && version !== 2; i++) {
        await new Promise((r) => setTimeout(r, 50));
        version = (await check(mf, "model/v2")).status.version ?? 0;
      }
      expect(version).toBe(2);
      expect((await check(mf, "model/v2")).allowed).toBe(true);
      await mf.dispose();

      await server.stop();
      mf = await startWorker(script, bindings, persist);
      const offline = await check(mf, "model/v2");
      expect(offline).toMatchObject({ allowed: true, status: { version: 2, source: "cache" } });
    } finally {
      await mf.dispose();
      await server.stop();
    }
  });
});
