/**
 * The order `npm test` starts its test files in (the sequencer in vitest.config.ts). Why, and the
 * figures: docs/lab.md, "The order `npm test` runs its files in".
 *
 * vitest hands the files to its workers first come, first served. So the order is chosen by
 * playing that out with an estimate of each file's time: a heavy file is put next only when no
 * other heavy one would still be running; otherwise the next light file goes. When only heavy files
 * are left, they go in turn. The estimates need not be exact; when they are off, heavy files
 * overlap for a while, or one starts later than it could; nothing else changes.
 */

/**
 * The files with minutes of background work. Each keeps more than one core busy when it runs alone
 * (CPU-seconds per second, measured: heal 1.7, the Docker single-region lab and the secrets sweep
 * 1.5, lab-e2e and lab-hosts 1.4, the standalone lab 1.2). Long files that mostly wait (the first
 * deploy 0.75, the Docker engine apply 0.8) are not in it: they are good company for a heavy one.
 */
export const HEAVY_FILES: ReadonlySet<string> = new Set([
  "test/ops/heal.test.ts",
  "test/lab/docker-single-region.test.ts",
  "test/lab/secrets-sweep-docker.test.ts",
  "test/lab/lab-e2e.test.ts",
  "test/lab/lab-hosts.test.ts",
  "test/lab/lab-standalone.test.ts",
]);

/**
 * Seconds each file over 20 s took in a `.ci/run` on this machine in this order (2026-11-28):
 * estimates for the order when vitest has no record of an earlier run, as on a fresh clone. A hint,
 * not a bound anything asserts; a file missing here counts as `OTHER_FILE_SECONDS`.
 */
export const FILE_SECONDS: Readonly<Record<string, number>> = {
  "test/ops/heal.test.ts": 335,
  "test/lab/docker-single-region.test.ts": 238,
  "test/lab/lab-e2e.test.ts": 211,
  "test/lab/secrets-sweep-docker.test.ts": 198,
  "test/constructs/docker-engine-script.test.ts": 139,
  "test/lab/lab-first-deploy.test.ts": 133,
  "test/review/real-plans.test.ts": 132,
  "test/topologies/docker-engine-apply.test.ts": 112,
  "test/ops/backup-passwords.test.ts": 110,
  "test/ops/failover-validation.test.ts": 107,
  "test/review/membership.test.ts": 105,
  "test/ops/switchover.test.ts": 83,
  "test/lab/lab-hosts.test.ts": 80,
  "test/constructs/docker-engine-parity.test.ts": 57,
  "test/property/render-deployments.test.ts": 52,
  "test/package/consumer.test.ts": 50,
  "test/cli/cli.test.ts": 48,
  "test/property/config-reject.test.ts": 43,
  "test/ops/status-keeps.test.ts": 41,
  "test/render/docker-reconcile.test.ts": 37,
  "test/ops/repmgrd-hung-server.test.ts": 36,
  "test/ops/cluster.test.ts": 35,
  "test/review/ci-pipelines.test.ts": 35,
  "test/constructs/docker-engine-membership.test.ts": 35,
  "test/review/deployments.test.ts": 35,
  "test/constructs/app.test.ts": 31,
  "test/lab/lab-standalone.test.ts": 31,
  "test/cli/quick-start.test.ts": 24,
  "test/native/renderers.test.ts": 22,
  "test/native/reconcile-repaired.test.ts": 21,
};

/** The mean of the other files in that run. */
export const OTHER_FILE_SECONDS = 3;

export interface OrderJob {
  /** The file, relative to the repository. */
  readonly id: string;
  readonly seconds: number;
  readonly heavy: boolean;
}

/**
 * The start order for `workers` workers that take the next file when they finish one: heavy files
 * longest first, each started when the simulated workers have no heavy file running; light files in
 * the order given, filling the time between.
 */
export function spreadHeavy(jobs: ReadonlyArray<OrderJob>, workers: number): OrderJob[] {
  const heavy = jobs.filter((j) => j.heavy).sort((a, b) => b.seconds - a.seconds);
  const light = jobs.filter((j) => !j.heavy);
  const free = new Array<number>(Math.max(1, workers)).fill(0);
  let heavyUntil = 0;
  const out: OrderJob[] = [];
  while (heavy.length > 0 || light.length > 0) {
    const w = free.indexOf(Math.min(...free));
    const t = free[w]!;
    const job = heavy.length > 0 && (t >= heavyUntil || light.length === 0) ? heavy.shift()! : light.shift()!;
    if (job.heavy) heavyUntil = Math.max(heavyUntil, t + job.seconds);
    free[w] = t + job.seconds;
    out.push(job);
  }
  return out;
}

/**
 * The jobs for `spreadHeavy`: each file in vitest's own order, with vitest's record of its last
 * run when there is one, else the table's estimate.
 */
export function orderJobs(files: ReadonlyArray<{ readonly id: string; readonly lastSeconds?: number }>): OrderJob[] {
  return files.map((f) => ({ id: f.id, seconds: f.lastSeconds ?? FILE_SECONDS[f.id] ?? OTHER_FILE_SECONDS, heavy: HEAVY_FILES.has(f.id) }));
}
