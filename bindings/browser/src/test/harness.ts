// The browser tests' harness: Debian's Chromium (never a downloaded browser)
// driven by playwright-core, and loopback HTTP servers — one for the pages,
// the package's standalone build and the shared conformance files (with
// COOP/COEP, so performance.now() is precise), one for bundles (CORS), which a
// test can stop while the pages stay up.
import { createServer, type Server, type IncomingMessage, type ServerResponse } from "node:http";
import { readFile, readdir } from "node:fs/promises";
import { createHash } from "node:crypto";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
// @ts-expect-error: a plain JS module shared with the extension tests and the benchmarks
import { CHROMIUM, CHROMIUM_FLAGS, checkChromium } from "../../../../scripts/chromium.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
export const repoRoot = resolve(here, "../../../../");
export const conformanceDir = process.env.WARDEN_CONFORMANCE_DIR ?? resolve(repoRoot, "../shared/conformance");
export const standalone = resolve(here, "../../dist/standalone");

export function launchChromium(): Promise<Browser> {
  checkChromium();
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".json": "application/json", ".wasm": "application/wasm",
};

async function listen(server: Server): Promise<number> {
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return (server.address() as { port: number }).port;
}

function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((done) => server.close(() => done()));
}

/** Pages at /page.html, the standalone build at /pkg/, the vectors at /conformance/ (with /conformance/index.json listing the files). */
export class PageServer {
  private server: Server | null = null;
  origin = "";
  /** Overrides: path → [content type, body]. */
  extra = new Map<string, [string, string | Uint8Array]>();

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.origin = `http://127.0.0.1:${await listen(this.server)}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const headers = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp", "Cache-Control": "no-store" };
    const send = (type: string, body: string | Uint8Array) => {
      res.writeHead(200, { ...headers, "Content-Type": type });
      res.end(body);
    };
    const extra = this.extra.get(path);
    if (extra) return send(...extra);
    if (path === "/page.html") return send(TYPES[".html"], "<!doctype html><meta charset=utf-8><title>warden test</title><body>warden test page</body>");
    if (path === "/conformance/index.json") {
      return send(TYPES[".json"], JSON.stringify((await readdir(conformanceDir)).filter((f) => f.endsWith(".json"))));
    }
    const [root, rest] = path.startsWith("/pkg/") ? [standalone, path.slice(5)] : path.startsWith("/conformance/") ? [conformanceDir, path.slice(13)] : [null, ""];
    const file = root ? resolve(join(root, rest)) : "";
    if (!root || !file.startsWith(root + sep)) {
      res.writeHead(404, headers).end();
      return;
    }
    const body = await readFile(file).catch(() => null);
    if (body === null) {
      res.writeHead(404, headers).end();
      return;
    }
    send(TYPES[extname(file)] ?? "application/octet-stream", body);
  }

  async stop(): Promise<void> {
    if (this.server) await stop(this.server);
    this.server = null;
  }
}

/** Serves one bundle at /bundle.json, cross-origin, with an ETag and 304s; `body` may change. */
export class BundleServer {
  private server: Server | null = null;
  body = "";
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const cors = { "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "If-None-Match", "Access-Control-Expose-Headers": "ETag", "Cross-Origin-Resource-Policy": "cross-origin" };
      if (req.method === "OPTIONS") {
        res.writeHead(204, cors).end();
        return;
      }
      const etag = `"${createHash("sha256").update(this.body).digest("hex").slice(0, 16)}"`;
      if (req.headers["if-none-match"] === etag) {
        res.writeHead(304, { ...cors, ETag: etag }).end();
        return;
      }
      res.writeHead(200, { ...cors, ETag: etag, "Content-Type": "application/json" }).end(this.body);
    });
    await new Promise<void>((done) => this.server!.listen(port, "127.0.0.1", done));
    this.port = (this.server.address() as { port: number }).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/bundle.json`;
  }

  async stop(): Promise<void> {
    if (this.server) await stop(this.server);
    this.server = null;
  }
}
