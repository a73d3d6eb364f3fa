import { defineConfig } from "vitest/config";
import { reporting } from "../../vitest.shared.ts";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 60_000,
    ...reporting("core"),
  },
});
