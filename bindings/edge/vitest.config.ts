import { defineConfig } from "vitest/config";
import { reporting } from "../../vitest.shared.ts";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    ...reporting("edge"),
  },
});
