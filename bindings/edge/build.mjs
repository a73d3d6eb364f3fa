// dist/index.js keeps `import wasm from "./warden.wasm"`: Workers' bundlers
// (wrangler, and workerd's own module list) turn it into a compiled
// WebAssembly.Module, since workerd cannot compile wasm from bytes at run time.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { copyFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";

rmSync("dist", { recursive: true, force: true });
await build({
  entryPoints: ["src/index.ts"], outdir: "dist", bundle: true, format: "esm", platform: "neutral", target: "es2022",
  packages: "external", external: ["./warden.wasm"], logLevel: "warning",
});
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", "tsconfig.json", "--emitDeclarationOnly"], { stdio: "inherit" });
copyFileSync("../../engine/build/warden.wasm", "dist/warden.wasm");
