// Serves the example and @warden/browser's standalone build: http://127.0.0.1:5173/
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const standalone = join(dirname(createRequire(import.meta.url).resolve("@warden/browser/package.json")), "dist/standalone");
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".json": "application/json", ".wasm": "application/wasm" };
const port = Number(process.env.PORT ?? 5173);

const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
  const [root, rest] = path.startsWith("/warden/") ? [standalone, path.slice(8)] : [here, path === "/" ? "index.html" : path.slice(1)];
  const file = resolve(join(root, rest));
  const body = file.startsWith(root + sep) ? await readFile(file).catch(() => null) : null;
  if (body === null) return res.writeHead(404).end("not found");
  res.writeHead(200, { "Content-Type": types[extname(file)] ?? "application/octet-stream" }).end(body);
});
server.listen(port, "127.0.0.1", () => console.log(`the browser assistant: http://127.0.0.1:${server.address().port}/`));
