// @warden/extension in Debian's Chromium, through examples/extension loaded
// unpacked: the conformance vectors inside its service worker, a bundle update
// by the alarm, a stopped worker woken by a message that still enforces the
// cached bundle (server down) and still counts its rate limit, and a content
// script refused a denied action in a real page.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Worker } from "playwright-core";
import { buildBundle, signingKeyFromSeed } from "@warden/core";
// @ts-expect-error: a plain JS module shared with the browser tests and the benchmarks
import { CHROMIUM, CHROMIUM_FLAGS, checkChromium } from "../../../scripts/chromium.mjs";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const conformanceDir = process.env.WARDEN_CONFORMANCE_DIR ?? resolve(repoRoot, "../shared/conformance");
const manifest = JSON.parse(readFileSync(join(conformanceDir, "bundles/manifest.json"), "utf8"));

/** Vectors at /conformance/ (with index.json), test pages at /page/, the bundle at /bundle.json (ETag, 304). */
class Server1 {
  server: Server | null = null;
  port = 0;
  bundle = "";
  bundleUp = true;

  async start(port = 0): Promise<void> {
    this.server = createServer(async (req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
      if (path === "/bundle.json") {
        if (!this.bundleUp) return void res.writeHead(503).end();
        const etag = `"${createHash("sha256").update(this.bundle).digest("hex").slice(0, 16)}"`;
        if (req.headers["if-none-match"] === etag) return void res.writeHead(304, { ETag: etag }).end();
        return void res.writeHead(200, { ETag: etag, "Content-Type": "application/json" }).end(this.bundle);
      }
      if (path === "/page/form.html") {
        return void res.writeHead(200, { "Content-Type": "text/html" }).end(`<!doctype html><title>Contact us</title>
          <form action="/page/sent.html"><input name="email"><input name="password"><input name="card_number"></form>
          <a href="https://elsewhere.example.net/offer">an offer</a>`);
      }
      if (path === "/conformance/index.json") {
        return void res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(readdirSync(conformanceDir).filter((f) => f.endsWith(".json"))));
      }
      const file = resolve(join(conformanceDir, path.replace(/^\/conformance\//, "")));
      const body = path.startsWith("/conformance/") && file.startsWith(conformanceDir + sep) ? await readFile(file).catch(() => null) : null;
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { "Content-Type": "application/json" }).end(body);
    });
    await new Promise<void>((done) => this.server!.listen(port, "127.0.0.1", done));
    this.port = (this.server.address() as { port: number }).port;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); });
  }
}

const server = new Server1();
let context: BrowserContext;
let worker: Worker;
let extensionId: string;

async function bundle(version: number): Promise<string> {
  const key = await signingKeyFromSeed(manifest.test_signing_seeds.k1, manifest.trusted_keys.k1);
  return buildBundle([{
    name: `v${version}`,
    rules: [
      { effect: "allow", action: "page.read", resource: `section/v${version}` },
      { effect: "allow", action: "form.submit", resource: "*" },
      { effect: "allow", action: "form.fill", resource: "*#email" },
      { effect: "deny", action: "form.fill", resource: ["*#password", "*#card*"], reason: "the agent never types secrets" },
    ],
    rate_limits: [{ action: "form.submit", limit: 2, period: "1h", scope: "global", reason: "two submissions an hour" }],
  }], { project: manifest.project, version, keyId: "k1", signingKey: key, projectKey: manifest.project_key });
}

beforeAll(async () => {
  checkChromium();
  execFileSync(process.execPath, [join(repoRoot, "examples/extension/build.mjs")], { stdio: "pipe" });
  server.bundle = await bundle(1);
  await server.start();
  // The example extension, unpacked, told to enforce the test project's bundles (the alarm every 0.02 min: unpacked extensions have no floor).
  const dir = mkdtempSync(join(tmpdir(), "warden-extension-"));
  cpSync(join(repoRoot, "examples/extension/dist"), dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({
    bundle: { url: `${server.origin}/bundle.json`, project: manifest.project, projectKey: manifest.project_key, trustedKeys: manifest.trusted_keys, pollMinutes: 0.02, fetchTimeout: 1000 },
  }));
  context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "warden-profile-")), {
    executablePath: CHROMIUM,
    args: [...CHROMIUM_FLAGS, `--disable-extensions-except=${dir}`, `--load-extension=${dir}`],
  });
  worker = context.serviceWorkers()[0] ?? (await context.waitForEvent("serviceworker"));
  extensionId = new URL(worker.url()).host;
});

afterAll(async () => {
  await context?.close();
  await server.stop();
});

/** Sends a message to the service worker from an extension page, as the popup would (it wakes a stopped worker). */
async function ask(message: unknown): Promise<any> {
  const page = await context.newPage();
  await page.goto(`chrome-extension://${extensionId}/popup.html`);
  const answer = await page.evaluate((m) => (globalThis as any).chrome.runtime.sendMessage(m), message);
  await page.close();
  return answer;
}

const check = (action: string, resource: string) => ask({ warden: "check", request: { action, resource } });

describe("examples/extension in Chromium", () => {
  it("runs every conformance vector in its service worker", async () => {
    const result = await worker.evaluate(async (base) => {
      const { runConformance, Warden } = (globalThis as any).wardenConformance;
      const text = async (path: string) => {
        const r = await fetch(`${base}/conformance/${path}`);
        if (!r.ok) throw new Error(`cannot fetch ${path}: HTTP ${r.status}`);
        return r.text();
      };
      const module = await WebAssembly.compileStreaming(fetch("/warden.wasm"));
      return runConformance({ list: async () => JSON.parse(await text("index.json")), read: text }, () => Warden.create({ wasm: module }));
    }, server.origin);
    console.log(`conformance (extension service worker): ${result.passed}/${result.checks} checks passed`);
    expect(result.failures).toEqual([]);
    expect(result.ran).toBe(result.checks);
    expect(result.passed).toBe(result.checks);
    expect(result.checks).toBeGreaterThanOrEqual(380);
  });

  it("takes a bundle update through its alarm; stopped and woken, enforces the cache with the server down and keeps its counts", async () => {
    expect(await check("page.read", "section/v1")).toMatchObject({ allowed: true, bundleVersion: 1 });
    server.bundle = await bundle(2);
    let version = 1;
    for (let i = 0; i < 60 && version !== 2; i++) {
      await new Promise((r) => setTimeout(r, 250));
      version = (await ask({ warden: "status" })).version;
    }
    expect(version).toBe(2);
    // A refresh runs after the poll that loaded version 2, so once it answers that poll has cached it.
    expect(await ask({ warden: "refresh" })).toMatchObject({ version: 2, lastFetch: { outcome: "not-modified" } });
    expect(await check("page.read", "section/v2")).toMatchObject({ allowed: true, bundleVersion: 2 });
    expect((await check("form.submit", "https://x/sent")).allowed).toBe(true);
    expect((await check("form.submit", "https://x/sent")).allowed).toBe(true);

    // Stop every service worker, take the bundle server down, wake the worker with a message.
    server.bundleUp = false;
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("ServiceWorker.enable");
    await cdp.send("ServiceWorker.stopAllWorkers");
    await page.close();
    expect(await check("page.read", "section/v2")).toMatchObject({ allowed: true, bundleVersion: 2 });
    expect(await ask({ warden: "status" })).toMatchObject({ version: 2, source: "cache" });
    expect(await check("form.submit", "https://x/sent")).toMatchObject({ allowed: false, rateLimit: { policy: 0, index: 0 }, reason: "two submissions an hour" });
  });

  it("refuses a content script the actions Warden denies, in a real page", async () => {
    const page = await context.newPage();
    await page.goto(`${server.origin}/page/form.html`);
    await page.waitForSelector("html[data-warden-done]");
    expect(await page.inputValue("input[name=email]")).toBe("agent@example.com");
    expect(await page.inputValue("input[name=password]")).toBe("");
    expect(await page.inputValue("input[name=card_number]")).toBe("");
    expect(await page.getAttribute("input[name=password]", "data-warden-reason")).toBe("the agent never types secrets");
    expect(await page.getAttribute("a", "data-warden-effect")).toBe("deny");
    expect(await page.getAttribute("a", "data-warden-followed")).toBeNull();
    await page.close();
  });
});
