/**
 * The reconciliation service's election repair (docs/reliability.md, "An election repmgrd did not
 * hold") as a deployment renders it: whether a standby promotes itself when repmgrd's one-shot
 * election did not, and after how many seconds without a primary. One answer for the native and
 * the Docker script, for `ems-ha failover` and for `ems-ha status`.
 */
import type { Deployment } from "../config/schema";
import { DOCKER_RECONCILE_INTERVAL_SECONDS, dockerElectionRepairEnabled, dockerGraceSeconds } from "./docker-reconcile";
import { electAfterSeconds, electionRepairEnabled } from "./native/reconcile";

export interface ElectionRepair {
  /** Whether the service renders the repair (ELECT=1). */
  readonly enabled: boolean;
  /** Seconds with no data node answering as primary before it acts (ELECT_AFTER). */
  readonly afterSeconds: number;
}

/**
 * On where the primary fences itself when isolated (the repair relies on that: a cut-off old
 * primary has stopped) and every node is in one location (repmgr cancels an election on purpose
 * when no node of the primary's location answers; that is left to it). Off for the topologies
 * without a reconciliation service.
 */
export function electionRepair(d: Deployment): ElectionRepair {
  if (d.topology === "native-single-region") return { enabled: electionRepairEnabled(d), afterSeconds: electAfterSeconds(d) };
  if (d.topology === "single-region" || d.topology === "geo-redundant") {
    return {
      enabled: dockerElectionRepairEnabled(d),
      afterSeconds: electAfterSeconds(d, DOCKER_RECONCILE_INTERVAL_SECONDS, dockerGraceSeconds(d)),
    };
  }
  return { enabled: false, afterSeconds: 0 };
}
