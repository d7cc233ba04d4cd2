/**
 * What the fence lab tests (test/drills/heal-fence.test.ts natively, test/drills/docker-fence.test.ts on
 * Docker) do between drills and assert after a cancelled election, written once.
 */
import { join } from "node:path";
import { expect } from "vitest";
import type { Deployment } from "../../src/config/schema";
import { type CancelledElectionResult, untilSettled } from "../../lab/lib/fence-drill";
import { REPO_ROOT } from "../../lab/lib/paths";
import type { LabState } from "../../lab/lib/state";
import { runCliCaptured } from "./cli";

/**
 * Between drills: the last drill's rewind record of `rewound` acknowledged through the real CLI
 * (`ems-ha ack-rewind`), then the cluster settled with `primary` the only primary, its fence armed.
 */
export async function afterDrill(state: LabState, d: Deployment, env: NodeJS.ProcessEnv, rewound: string, primary: string): Promise<void> {
  const ack = await runCliCaptured(["ack-rewind", rewound, "--config", join(state.stateDir, "deployment.json")], REPO_ROOT, env);
  expect(ack.code, ack.err).toBe(0);
  await untilSettled(state, d, env, primary);
}

/**
 * A cancelled election held (docs/reliability.md, "An election repmgrd did not hold"): the standby's
 * reconciliation service promoted it, seeing a majority once the witness answered, and the cut-off
 * primary had fenced itself meanwhile, so it took no writes while the standby was promoted.
 */
export function expectElectionHeld(r: CancelledElectionResult, log: (m: string) => void): void {
  log(`figures ${JSON.stringify({ cancelS: r.cancelS, promotedS: r.promotedS, primaryFenced: r.primaryFenced, rejoinS: r.rejoinS })}`);
  expect(r.journal).toMatch(
    /REPAIR: no data node has answered as primary for \d+s \(repmgrd's election did not promote\); 1 of the other nodes answer \(a majority needs 1\)/,
  );
  // the failover validation was asked first, as repmgrd's own election asks it, and agreed
  const repair = r.journal.lastIndexOf("REPAIR: no data node has answered as primary");
  const validation = r.journal.search(
    /failover validation: (claimed the succession of node \d+ on witness \S+; )?no other data node answers as primary and no standby ranks above this node/,
  );
  expect(validation, "the election repair's failover validation line").toBeGreaterThanOrEqual(0);
  expect(validation).toBeLessThan(repair);
  expect(r.primaryFenced).toBe(true);
}
