// `check` inside Debian's Chromium, timed in batches of 100,000 with
// performance.now() (the page is cross-origin isolated, so the timer is
// precise), next to the same loop in Node; and the browser package's size.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { dirname, extname, join, resolve, sep } from "node:path";
import { chromium } from "playwright-core";
import { Warden } from "@warden/node";
import { CHROMIUM, CHROMIUM_FLAGS, checkChromium } from "../scripts/chromium.mjs";
import { SUPPORT_BOT, SUPPORT_MIX } from "./workloads.mjs";

const standalone = join(dirname(createRequire(import.meta.url).resolve("@warden/browser/package.json")), "dist/standalone");
const types = { ".js": "text/javascript", ".wasm": "application/wasm", ".html": "text/html" };
const server = createServer(async (req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  const headers = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };
  if (path === "/") return res.writeHead(200, { ...headers, "Content-Type": types[".html"] }).end("<!doctype html><title>bench</title>");
  const file = resolve(join(standalone, path));
  const body = file.startsWith(standalone + sep) ? await readFile(file).catch(() => null) : null;
  if (!body) return res.writeHead(404).end();
  res.writeHead(200, { ...headers, "Content-Type": types[extname(file)] ?? "application/octet-stream" }).end(body);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;

// The support-bot policy decides by action and resource alone, so the client keeps its decisions (core README).
const MIX = SUPPORT_MIX;
const BATCH = 100_000;
const BATCHES = 15;

// The same loop, as source, for the page and for Node.
const loop = `(warden, MIX, BATCH, BATCHES, now) => {
  for (let i = 0; i < 3 * BATCH; i++) { const m = MIX[i & 7]; warden.check(m[0], m[1], m[2]); }
  const per = [];
  for (let b = 0; b < BATCHES; b++) {
    const t0 = now();
    for (let i = 0; i < BATCH; i++) { const m = MIX[i & 7]; warden.check(m[0], m[1], m[2]); }
    per.push(((now() - t0) * 1e6) / BATCH);
  }
  per.sort((a, b) => a - b);
  return per[Math.floor(per.length / 2)];
}`;

checkChromium();
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
const page = await browser.newPage();
await page.goto(origin);
const inChromium = await page.evaluate(`(async () => {
  if (!crossOriginIsolated) throw new Error("the page is not cross-origin isolated");
  const { Warden } = await import("/warden.js");
  const warden = await Warden.create({ policies: ${JSON.stringify(SUPPORT_BOT)} });
  return { ua: navigator.userAgent, median: (${loop})(warden, ${JSON.stringify(MIX)}, ${BATCH}, ${BATCHES}, () => performance.now()) };
})()`);
await browser.close();
server.close();

const node = await Warden.create({ policies: SUPPORT_BOT });
const inNode = eval(loop)(node, MIX, BATCH, BATCHES, () => performance.now());

const gz = (b) => gzipSync(b, { level: 9 }).length;
const js = ["warden.js", ...(await import("node:fs")).readdirSync(standalone).filter((f) => f.startsWith("shared-"))].map((f) => readFileSync(join(standalone, f)));
const jsMin = js.reduce((n, b) => n + b.length, 0);
const jsGz = gz(Buffer.concat(js));
const wasm = readFileSync(join(standalone, "warden.wasm"));
console.log(`\nin ${inChromium.ua}`);
console.log(`${"check, support-bot policy, 8 rotating requests".padEnd(58)} Chromium ${inChromium.median.toFixed(0).padStart(5)} ns   Node ${inNode.toFixed(0).padStart(5)} ns   (median of ${BATCHES} batches of ${BATCH})`);
console.log(`@warden/browser standalone JS: ${jsMin} bytes minified, ${jsGz} gzipped; warden.wasm: ${wasm.length} bytes, ${gz(wasm)} gzipped`);
