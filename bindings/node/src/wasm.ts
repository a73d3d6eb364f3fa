// warden.wasm ships in this package's own files (dist/warden.wasm, beside the
// built modules): compiled once per process, on first use.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

let compiled: Promise<WebAssembly.Module> | null = null;

/** Path of the warden.wasm this package ships. */
export function wasmPath(): string {
  // The CJS build has __dirname; the ESM build has import.meta.url.
  return typeof __dirname === "string" ? join(__dirname, "warden.wasm") : fileURLToPath(new URL("./warden.wasm", import.meta.url));
}

/** The compiled warden.wasm (one compilation shared by every Warden of the process). */
export function wardenModule(): Promise<WebAssembly.Module> {
  compiled ??= readFile(wasmPath()).then((bytes) => WebAssembly.compile(bytes));
  return compiled;
}
