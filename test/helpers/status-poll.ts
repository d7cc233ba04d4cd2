/**
 * `ems-ha status --json` read until the cluster is healthy (exit 0), for the lab drills: every
 * `everyMs`, at most `seconds` (bounded); the last reading is returned either way, so the test's
 * own assertion names what stayed wrong.
 */
import type { ClusterStatus } from "../../src/ops/status";
import type { CliRun } from "./cli";

export interface StatusReading {
  readonly code: number;
  readonly s: ClusterStatus;
}

/** Parses one `status --json` run; throws with its output when that is not JSON. */
export function readStatus(r: CliRun): StatusReading {
  try {
    return { code: r.code, s: JSON.parse(r.out) as ClusterStatus };
  } catch {
    throw new Error(`ems-ha status --json printed no JSON (exit ${r.code}):\n${r.out}\n${r.err}`);
  }
}

export async function statusUntilHealthy(
  run: () => Promise<CliRun>,
  seconds: number,
  everyMs = 2000,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<StatusReading> {
  const deadline = Date.now() + seconds * 1000;
  let last = readStatus(await run());
  while (last.code !== 0 && Date.now() + everyMs <= deadline) {
    await sleep(everyMs);
    last = readStatus(await run());
  }
  return last;
}
