import { relative } from "node:path";
import { configDefaults, defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import { orderJobs, spreadHeavy } from "./test/helpers/spread-heavy";

/** vitest's order, with the files that keep hosts busy for minutes kept apart (test/helpers/spread-heavy.ts). */
class SpreadHeavySequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const root = this.ctx.config.root;
    const jobs = orderJobs(
      base.map((spec) => {
        const id = relative(root, spec.moduleId);
        const last = this.ctx.cache.getFileTestResults(`${spec.project.name}:${id}`);
        return { id, lastSeconds: last ? last.duration / 1000 : undefined };
      }),
    );
    // by the job itself, not its name: every file vitest gave is returned, once
    const specOf = new Map(jobs.map((j, i) => [j, base[i]!]));
    const workers = typeof this.ctx.config.maxWorkers === "number" ? this.ctx.config.maxWorkers : 2;
    return spreadHeavy(jobs, workers).map((j) => specOf.get(j)!);
  }
}

/**
 * `npm test` (and CI): everything under test/ except the long lab drills in test/drills/, which
 * `npm run test:drills` runs (vitest.drills.config.ts). Why the split, and what each tier covers:
 * docs/lab.md, "Two tiers of lab tests".
 */
export const shared = {
  // Names any test that holds a worker's event loop for long (see the file).
  setupFiles: ["test/helpers/loop-watch.ts", "test/helpers/standin-first.mjs"],
  testTimeout: 60_000,
  hookTimeout: 600_000,
  pool: "forks" as const,
  // Two test files at a time on a 2-core machine (vitest's default there is one): the lab tests
  // mostly wait on their hosts, and each lab has its own subnet, so two run side by side.
  maxWorkers: 2,
  minWorkers: 1,
  reporters: ["default"],
};

export default defineConfig({
  test: {
    ...shared,
    include: ["test/**/*.test.ts"],
    exclude: [...configDefaults.exclude, "test/drills/**"],
    sequence: { sequencer: SpreadHeavySequencer },
  },
});
