// Runs a Worker in workerd (the binary from npm, through miniflare), with
// warden.wasm as a compiled-wasm module, a KV namespace that can persist
// across restarts, and local HTTP servers for vectors and bundles. Shared by
// this package's tests and benchmarks/workerd.bench.mjs.
import { build } from "esbuild";
import { readFile, readdir } from "node:fs/promises";
import { createServer } from "node:http";
import { createHash } from "node:crypto";
import { join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const here = fileURLToPath(new URL(".", import.meta.url));
export const repoRoot = resolve(here, "../../../");
export const conformanceDir = process.env.WARDEN_CONFORMANCE_DIR ?? resolve(repoRoot, "../shared/conformance");
export const COMPATIBILITY_DATE = "2026-04-01";

/** Bundles a Worker entry with esbuild, keeping its `.wasm` import a module import. */
export async function bundleWorker(entry) {
  const out = await build({
    entryPoints: [entry], bundle: true, write: false, format: "esm", platform: "neutral", target: "es2022",
    conditions: ["workerd", "worker", "browser"], mainFields: ["module", "main"], logLevel: "warning",
    plugins: [{ name: "wasm-module", setup(b) { b.onResolve({ filter: /\.wasm$/ }, () => ({ path: "./warden.wasm", external: true })); } }],
  });
  return out.outputFiles[0].text;
}

/** Starts workerd with the script, the bindings, a KV namespace WARDEN_KV (persisted in `kvPersist` unless false). */
export async function startWorker(script, bindings, kvPersist, extra = {}) {
  const wasm = await readFile(resolve(here, "../dist/warden.wasm"));
  const mf = new Miniflare({
    modules: [
      { type: "ESModule", path: "worker.js", contents: script },
      { type: "CompiledWasm", path: "warden.wasm", contents: wasm },
    ],
    modulesRoot: "/",
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: ["WARDEN_KV"],
    kvPersist,
    bindings,
    ...extra,
  });
  await mf.ready;
  return mf;
}

async function listen(server, port = 0) {
  await new Promise((done) => server.listen(port, "127.0.0.1", done));
  return server.address().port;
}

function closer(server) {
  return () => new Promise((done) => {
    server.closeAllConnections();
    server.close(() => done());
  });
}

/** Serves the conformance folder at /, with /index.json listing its *.json files. */
export async function serveVectors() {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    if (path === "/index.json") {
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify((await readdir(conformanceDir)).filter((f) => f.endsWith(".json"))));
      return;
    }
    const file = resolve(join(conformanceDir, path));
    const body = file.startsWith(conformanceDir + sep) ? await readFile(file).catch(() => null) : null;
    if (!body) res.writeHead(404).end();
    else res.writeHead(200, { "Content-Type": "application/json" }).end(body);
  });
  return { url: `http://127.0.0.1:${await listen(server)}`, close: closer(server) };
}

/** One bundle at /bundle.json with an ETag and 304s; `body` may change. */
export class BundleServer {
  body = "";
  port = 0;
  server = null;

  async start(port = 0) {
    this.server = createServer((req, res) => {
      const etag = `"${createHash("sha256").update(this.body).digest("hex").slice(0, 16)}"`;
      if (req.headers["if-none-match"] === etag) res.writeHead(304, { ETag: etag }).end();
      else res.writeHead(200, { ETag: etag, "Content-Type": "application/json" }).end(this.body);
    });
    this.port = await listen(this.server, port);
  }

  get url() {
    return `http://127.0.0.1:${this.port}/bundle.json`;
  }

  async stop() {
    const s = this.server;
    this.server = null;
    if (s) await closer(s)();
  }
}
