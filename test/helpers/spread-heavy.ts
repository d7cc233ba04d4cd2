/**
 * The order `npm test` starts its test files in (the sequencer in vitest.config.ts).
 *
 * Two files run at a time on two cores, and the run is CPU-bound (a run sampled here: 89 % busy,
 * 42 % of it in the kernel, most of that forking). A few files keep hosts or clusters with
 * background services running for minutes: lab hosts with systemd and Docker, or loopback nodes
 * with a reconciliation loop a second. Two of those side by side slow each other more than
 * running them one after the other would (heal.test and docker-single-region together took
 * 654 s, where alone they take 285 s and 190 s), because their background work grows with the
 * time they take. vitest's default order, largest file first when it has no record of earlier
 * runs (a fresh clone, as in CI), started those two within a minute of each other.
 *
 * vitest hands the files to its workers first come, first served. So the order is chosen by
 * playing that out with an estimate of each file's time: a heavy file is put next only when no
 * other heavy one would still be running; otherwise the next light file goes. When only heavy files
 * are left, they go in turn. The estimates need not be exact; when they are off, heavy files
 * overlap for a while and nothing else changes.
 */

/**
 * The files with minutes of background work, and their time in seconds when run alone on this
 * two-core machine (measured; a hint for the order, not a bound anything asserts). Each keeps more
 * than one core busy alone (CPU-seconds per second: heal 1.7, the Docker single-region lab and the
 * secrets sweep 1.5, lab-e2e 1.4, lab-hosts 1.4, the standalone lab 1.2). Long files that mostly
 * wait (the first deploy 0.75, the Docker engine apply 0.8) are light here: they are good company
 * for a heavy one.
 */
export const HEAVY_FILES: Readonly<Record<string, number>> = {
  "test/ops/heal.test.ts": 285,
  "test/lab/docker-single-region.test.ts": 190,
  "test/lab/secrets-sweep-docker.test.ts": 174,
  "test/lab/lab-e2e.test.ts": 160,
  "test/lab/lab-hosts.test.ts": 61,
  "test/lab/lab-standalone.test.ts": 33,
};

/** A light file's estimate when vitest has no record of it: the mean of a CI run's light files. */
export const LIGHT_DEFAULT_SECONDS = 16;

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
 * The jobs for `spreadHeavy`: each file in vitest's own order, heavy ones with their table estimate,
 * light ones with vitest's record of their last run when it has one.
 */
export function orderJobs(files: ReadonlyArray<{ readonly id: string; readonly lastSeconds?: number }>): OrderJob[] {
  return files.map((f) => {
    const heavySeconds = HEAVY_FILES[f.id];
    if (heavySeconds !== undefined) return { id: f.id, seconds: heavySeconds, heavy: true };
    return { id: f.id, seconds: f.lastSeconds ?? LIGHT_DEFAULT_SECONDS, heavy: false };
  });
}
