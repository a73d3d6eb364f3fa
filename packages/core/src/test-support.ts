// Helpers for this package's Node tests (not part of the published build).
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** The shared conformance folder: WARDEN_CONFORMANCE_DIR, or ../shared/conformance beside the repository. */
export function conformanceDir(): string {
  const dir = process.env.WARDEN_CONFORMANCE_DIR ?? resolve(repoRoot, "../shared/conformance");
  if (!existsSync(dir)) throw new Error(`conformance vectors not found at ${dir}: set WARDEN_CONFORMANCE_DIR`);
  return dir;
}

export function wasmBytes(): Promise<Uint8Array> {
  return readFile(resolve(repoRoot, "engine/build/warden.wasm"));
}
