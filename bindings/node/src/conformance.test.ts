import { describe, it, expect } from "vitest";
import { readFile, readdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runConformance } from "@warden/core/conformance";
import { Warden } from "../dist/index.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

describe("conformance in Node, through @warden/node", () => {
  it("passes every decision and invalid-policy vector", async () => {
    const dir = process.env.WARDEN_CONFORMANCE_DIR ?? resolve(repoRoot, "../shared/conformance");
    expect(existsSync(dir), `conformance vectors at ${dir}`).toBe(true);
    const result = await runConformance({ list: () => readdir(dir), read: (p) => readFile(join(dir, p), "utf8") }, () => Warden.create());
    console.log(`conformance (@warden/node): ${result.passed}/${result.checks} checks passed`);
    expect(result.failures).toEqual([]);
    expect(result.ran).toBe(result.checks);
    expect(result.passed).toBe(result.checks);
  });
});
