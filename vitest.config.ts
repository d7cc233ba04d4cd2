import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Names any test that holds a worker's event loop for long (see the file).
    setupFiles: ["test/helpers/loop-watch.ts", "test/helpers/standin-first.mjs"],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    pool: "forks",
    // Two test files at a time on a 2-core machine (vitest's default there is one): the lab tests
    // mostly wait on their hosts, and each lab has its own subnet, so two run side by side.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ["default"],
  },
});
