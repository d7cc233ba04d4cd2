/**
 * The "afterwards" of a failover outcome (`ems-ha failover`, `ems-ha status`, report.md): how an
 * election repmgrd cancelled ends on a deployment whose reconciliation service repairs it.
 */
import type { Deployment } from "../config/schema";
import { electionRepair } from "../render/election-repair";

/**
 * What happens after an outage in which repmgrd cancels its election for want of a majority, on a
 * deployment whose service repairs that: undefined where the outcome is not such a cancellation or
 * the repair is off.
 */
export function electionRepairNote(
  d: Deployment,
  o: { readonly newPrimary: string | null; readonly manualCandidate: string | null; readonly rule: string },
): string | undefined {
  const repair = electionRepair(d);
  if (!repair.enabled || o.newPrimary !== null || !o.manualCandidate || (o.rule !== "majority" && o.rule !== "quorum")) return undefined;
  return (
    `once a majority of the DB nodes answers again and no data node has answered as primary for ${repair.afterSeconds} s, ` +
    `the reconciliation service promotes the standby repmgr would pick among those that answer (${o.manualCandidate} of those up now; ` +
    `docs/reliability.md, "An election repmgrd did not hold")`
  );
}
