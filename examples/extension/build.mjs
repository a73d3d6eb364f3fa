// Builds the unpacked extension into dist/: the service worker, the content
// script and the popup (each bundled), warden.wasm, the manifest and pages.
import { build } from "esbuild";
import { cpSync, copyFileSync, rmSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const here = dirname(new URL(import.meta.url).pathname);
const dist = join(here, "dist");
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: { background: join(here, "src/background.ts"), popup: join(here, "src/popup.ts") },
  outdir: dist, bundle: true, format: "esm", platform: "browser", target: "es2022", logLevel: "warning",
});
// The content script runs as a classic script.
await build({ entryPoints: [join(here, "src/agent.ts")], outfile: join(dist, "agent.js"), bundle: true, format: "iife", platform: "browser", target: "es2022", logLevel: "warning" });
cpSync(join(here, "static"), dist, { recursive: true });
const extension = dirname(createRequire(import.meta.url).resolve("@warden/extension/package.json"));
copyFileSync(join(extension, "dist/warden.wasm"), join(dist, "warden.wasm"));
console.log(`built the extension in ${dist}`);
