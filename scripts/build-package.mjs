// Builds a package's entry points to dist/ as ESM (.js) and CJS (.cjs) with
// esbuild, and its .d.ts files with tsc. Run from the package folder:
//   node ../../scripts/build-package.mjs [--platform=node] [--copy=FROM:TO]... ENTRY...
//   node ../../scripts/build-package.mjs --platform=node --bin ENTRY
//   node ../../scripts/build-package.mjs --esm-only ENTRY...
// --copy puts a file beside the build (the Node package ships warden.wasm so);
// --bin builds one executable ESM file with a shebang, and no declarations.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { copyFileSync, rmSync, mkdirSync, chmodSync } from "node:fs";
import { createRequire } from "node:module";

const args = process.argv.slice(2);
const entries = args.filter((a) => !a.startsWith("--"));
const platform = args.find((a) => a.startsWith("--platform="))?.slice(11) ?? "neutral";
const copies = args.filter((a) => a.startsWith("--copy=")).map((a) => a.slice(7).split(":"));
if (entries.length === 0) {
  console.error("usage: build-package.mjs [--platform=node] [--copy=FROM:TO]... ENTRY...");
  process.exit(2);
}
const bin = args.includes("--bin");
const esmOnly = args.includes("--esm-only");
rmSync("dist", { recursive: true, force: true });
const common = {
  entryPoints: entries, bundle: true, platform, target: platform === "node" ? "node20" : "es2022", outdir: "dist",
  packages: "external", logLevel: "warning",
  // The CJS build reads `import.meta.url` only where `__dirname` is absent, which never happens in CJS.
  logOverride: { "empty-import-meta": "silent" },
};
// Secondary entries import the main one (`./index.js`) at run time rather
// than bundling a copy, so a package has one of each class.
const shareIndex = (format) => ({
  name: "share-index",
  setup(b) {
    b.onResolve({ filter: /^\.\/index\.js$/ }, () => ({ path: format === "cjs" ? "./index.cjs" : "./index.js", external: true }));
  },
});
if (bin) {
  await build({ ...common, format: "esm", banner: { js: "#!/usr/bin/env node" } });
  for (const entry of entries) chmodSync(`dist/${entry.replace(/^.*\//, "").replace(/\.ts$/, ".js")}`, 0o755);
  process.exit(0);
}
await build({ ...common, format: "esm", outExtension: { ".js": ".js" }, plugins: [shareIndex("esm")] });
if (!esmOnly) await build({ ...common, format: "cjs", outExtension: { ".js": ".cjs" }, plugins: [shareIndex("cjs")] });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc", { paths: [process.cwd()] });
execFileSync(process.execPath, [tsc, "-p", "tsconfig.json", "--emitDeclarationOnly"], { stdio: "inherit" });
for (const [from, to] of copies) {
  mkdirSync("dist", { recursive: true });
  copyFileSync(from, to);
}
