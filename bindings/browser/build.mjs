// The browser package's builds:
// - dist/index.js: ESM for bundlers (@warden/core stays an import; warden.wasm is
//   found with new URL("./warden.wasm", import.meta.url), which bundlers understand);
// - dist/standalone/: self-contained ESM for <script type="module">, with
//   @warden/core inside, the conformance runner beside it (shared code in one chunk),
//   and warden.wasm, so a page needs nothing else.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";

rmSync("dist", { recursive: true, force: true });
const common = { bundle: true, platform: "browser", target: "es2022", format: "esm", logLevel: "warning" };
await build({ ...common, entryPoints: ["src/index.ts"], outdir: "dist", packages: "external" });
await build({
  ...common, entryPoints: { warden: "src/index.ts", conformance: "src/conformance.ts" }, outdir: "dist/standalone",
  splitting: true, minify: true, chunkNames: "shared-[hash]",
});
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", "tsconfig.json", "--emitDeclarationOnly"], { stdio: "inherit" });
mkdirSync("dist/standalone", { recursive: true });
copyFileSync("../../engine/build/warden.wasm", "dist/warden.wasm");
copyFileSync("../../engine/build/warden.wasm", "dist/standalone/warden.wasm");
