// Builds a package's entry points to dist/ as ESM (.js) and CJS (.cjs) with
// esbuild, and its .d.ts files with tsc. Run from the package folder:
//   node ../../scripts/build-package.mjs src/index.ts [more entries]
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";

const entries = process.argv.slice(2);
if (entries.length === 0) {
  console.error("usage: build-package.mjs ENTRY...");
  process.exit(2);
}
rmSync("dist", { recursive: true, force: true });
const common = { entryPoints: entries, bundle: true, platform: "neutral", target: "es2022", outdir: "dist", packages: "external", logLevel: "warning" };
await build({ ...common, format: "esm", outExtension: { ".js": ".js" } });
await build({ ...common, format: "cjs", outExtension: { ".js": ".cjs" } });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc", { paths: [process.cwd()] });
execFileSync(process.execPath, [tsc, "-p", "tsconfig.json", "--emitDeclarationOnly"], { stdio: "inherit" });
