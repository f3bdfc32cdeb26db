// Three tiers, run together by `npm test`: unit (pure), chart (the real helm
// binary) and integration (real local kube-apiservers, one file at a time).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      { test: { name: "chart", include: ["test/chart/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 300_000 } },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          fileParallelism: false,
          globalSetup: ["test/platform/programs/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
