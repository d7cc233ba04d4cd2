/**
 * What a failover drill may lose. Replication is asynchronous in these labs (the guide's way):
 * the primary acknowledges a commit once it is on its own disk, so a kill can lose what it
 * acknowledged in its last instant and had not streamed yet (docs/reliability.md, "Synchronous
 * replication"). Anything else lost is a fault: a row acknowledged well before the kill, or a hole
 * (a lost row older than one the new primary has).
 */
import { expect } from "vitest";
import type { DrillResult } from "../../lab/lib/drill";

/** The longest time before the kill a lost row may have been acknowledged. */
export const ASYNC_LOSS_WINDOW_MS = 1000;

export function expectOnlyTheAsyncTailLost(r: DrillResult): void {
  const why = `missing ${JSON.stringify(r.missingIds)} of ${r.rowsAcknowledged}, the earliest acknowledged ${r.missingAckedBeforeKillMs} ms before the kill`;
  expect(r.missingAreTail, `a lost row is older than one the new primary has: ${why}`).toBe(true);
  if (r.rowsMissing > 0) expect(r.missingAckedBeforeKillMs!, why).toBeLessThanOrEqual(ASYNC_LOSS_WINDOW_MS);
}
