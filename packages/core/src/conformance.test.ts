import { describe, it, expect } from "vitest";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { Warden } from "./index.js";
import { runConformance } from "./conformance.js";
import { conformanceDir, wasmBytes } from "./test-support.js";

describe("conformance vectors", () => {
  it("passes every decision and invalid-policy vector", async () => {
    const dir = conformanceDir();
    const module = await WebAssembly.compile(await wasmBytes());
    const result = await runConformance(
      { list: () => readdir(dir), read: (p) => readFile(join(dir, p), "utf8") },
      () => Warden.create({ wasm: module }),
    );
    console.log(`conformance: ${result.passed}/${result.checks} checks passed`);
    expect(result.failures).toEqual([]);
    expect(result.ran).toBe(result.checks);
    expect(result.passed).toBe(result.checks);
  });
});
