// @warden/browser in Debian's Chromium: the shared conformance vectors run
// inside the page; a bundle update arrives by polling from a real local
// server; a reload with that server stopped enforces from IndexedDB.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { buildBundle, signingKeyFromSeed } from "@warden/core";
import { launchChromium, PageServer, BundleServer, conformanceDir, standalone } from "./test/harness.js";

const manifest = JSON.parse(readFileSync(join(conformanceDir, "bundles/manifest.json"), "utf8"));
let browser: Browser;
const pages = new PageServer();

beforeAll(async () => {
  await pages.start();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await pages.stop();
});

async function open(context = browser): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto(`${pages.origin}/page.html`);
  return page;
}

describe("in Chromium", () => {
  it("passes every decision, invalid-policy and bundle vector, with the runner inside the page", async () => {
    const page = await open();
    const { userAgent, result } = await page.evaluate(`(async () => {
      const { Warden } = await import("/pkg/warden.js");
      const { runConformance } = await import("/pkg/conformance.js");
      const text = async (path) => {
        const r = await fetch("/conformance/" + path);
        if (!r.ok) throw new Error("cannot fetch " + path + ": HTTP " + r.status);
        return r.text();
      };
      const module = await WebAssembly.compileStreaming(fetch("/pkg/warden.wasm"));
      const result = await runConformance({ list: async () => JSON.parse(await text("index.json")), read: text }, () => Warden.create({ wasm: module }));
      return { userAgent: navigator.userAgent, result };
    })()`) as { userAgent: string; result: { checks: number; ran: number; passed: number; failures: unknown[] } };
    console.log(`navigator.userAgent: ${userAgent}`);
    console.log(`conformance (Chromium): ${result.passed}/${result.checks} checks passed`);
    expect(userAgent).toMatch(/Chrome\/\d+/);
    expect(result.failures).toEqual([]);
    expect(result.ran).toBe(result.checks);
    expect(result.passed).toBe(result.checks);
    expect(result.checks).toBeGreaterThanOrEqual(380);
    await page.close();
  });

  it("loads warden.wasm by URL, streaming or, with the wrong MIME type, as bytes; recovers from a trap", async () => {
    pages.extra.set("/plain/warden.wasm", ["application/octet-stream", readFileSync(join(standalone, "warden.wasm"))]);
    const page = await open();
    const outcome = await page.evaluate(`(async () => {
      const { Warden } = await import("/pkg/warden.js");
      const policies = [{ rules: [{ effect: "allow", action: "page.read" }] }];
      const byUrl = await Warden.create({ policies });
      const byBytes = await Warden.create({ policies, wasm: fetch("/plain/warden.wasm") });
      const events = [];
      byUrl.on("recovered", (e) => events.push(e.countsCarried));
      const engine = byUrl.engine;
      const real = engine.x;
      engine.x = { ...real, decide: () => real.load(0xfffffff0, 64) };
      const afterTrap = byUrl.check("page.read").allowed;
      return [byUrl.check("page.read").allowed, byBytes.check("page.read").allowed, byBytes.check("form.submit").allowed, afterTrap, events];
    })()`);
    expect(outcome).toEqual([true, true, false, true, [true]]);
    await page.close();
  });

  it("picks up a bundle update by polling, and after a reload with the server stopped enforces it from IndexedDB", async () => {
    const key = await signingKeyFromSeed(manifest.test_signing_seeds.k1, manifest.trusted_keys.k1);
    const bundle = (version: number) => buildBundle([{ name: `v${version}`, rules: [{ effect: "allow", action: "page.read", resource: `section/v${version}` }] }], {
      project: manifest.project, version, keyId: "k1", signingKey: key, projectKey: manifest.project_key,
    });
    const server = new BundleServer();
    server.body = await bundle(1);
    await server.start();
    const context = await browser.newContext();
    const connect = (pollInterval: number) => `(async () => {
      const { Warden } = await import("/pkg/warden.js");
      window.warden = await Warden.connect({
        url: ${JSON.stringify(server.url)}, project: ${JSON.stringify(manifest.project)}, projectKey: ${JSON.stringify(manifest.project_key)},
        trustedKeys: ${JSON.stringify(manifest.trusted_keys)}, pollInterval: ${pollInterval}, fetchTimeout: 1000,
      });
      return window.warden.status();
    })()`;
    try {
      const page = await open(context as unknown as Browser);
      expect(await page.evaluate(connect(200))).toMatchObject({ version: 1, source: "network" });
      server.body = await bundle(2);
      const updated = await page.evaluate(`(async () => {
        for (let i = 0; i < 100 && window.warden.status().version !== 2; i++) await new Promise((r) => setTimeout(r, 50));
        // A refresh runs after the poll that loaded version 2, so once it returns that poll has cached it.
        await window.warden.refresh();
        return [window.warden.status().version, window.warden.check("page.read", "section/v2").allowed, window.warden.check("page.read", "section/v1").allowed];
      })()`);
      expect(updated).toEqual([2, true, false]);

      await server.stop();
      await page.reload();
      const offline = await page.evaluate(`(async () => {
        const status = await (${connect(0)});
        return [status.version, status.source, status.lastError && status.lastError.code, window.warden.check("page.read", "section/v2").allowed];
      })()`);
      expect(offline).toEqual([2, "cache", "ERR_BUNDLE_FETCH", true]);
    } finally {
      await context.close();
      await server.stop();
    }
  });
});

describe("examples/browser-assistant", () => {
  it("shows Warden's decision on each action the assistant proposes", async () => {
    const { spawn } = await import("node:child_process");
    const { repoRoot } = await import("./test/harness.js");
    const server = spawn(process.execPath, [join(repoRoot, "examples/browser-assistant/serve.mjs")], { env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "inherit"] });
    try {
      const url = await new Promise<string>((done, fail) => {
        server.stdout.on("data", (d: Buffer) => {
          const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(d.toString());
          if (m) done(m[1]);
        });
        server.once("exit", () => fail(new Error("the example's server exited")));
      });
      const page = await browser.newPage();
      await page.goto(url);
      await page.waitForSelector("#log tr:nth-child(7)");
      const effects = await page.$$eval("#log tr", (rows) => rows.map((r) => (r as HTMLElement).dataset.effect));
      expect(effects).toEqual(["allow", "deny", "allow", "deny", "escalate", "allow", "deny"]);
      expect(await page.textContent("#log tr:nth-child(4)")).toContain("payment details are typed by the user");
      await page.close();
    } finally {
      server.kill();
    }
  });
});
