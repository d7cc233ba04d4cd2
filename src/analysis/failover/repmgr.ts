/**
 * repmgrd's automatic failover as repmgr 5.3 implements it (do_election in
 * repmgrd-physical.c; docs/background.md#repmgr-automatic-failover), for one failure seen the same way by every node:
 *
 * - Not a candidate: witnesses and nodes with priority <= 0.
 * - Siblings are the other nodes attached to the failed primary (down ones
 *   included: their records stay active). shared = siblings + 1. If no more than
 *   half of shared are visible (visible counts the node itself), the election is
 *   cancelled. The failed primary is never counted.
 * - If no visible node (the node itself included) is in the failed primary's
 *   location, repmgrd assumes a network split and cancels.
 * - A single standby with no siblings wins by default, unless its location differs
 *   from the primary's.
 * - Among candidates: highest received LSN, then highest priority, then lowest node id.
 * - A cancelled election is not re-run when nodes return: manual promotion.
 *
 * Not modelled (not in the schema): failover=manual, primary_visibility_consensus, cascading
 * standbys, partial network partitions. The toolkit's failover_validation_command confirms the
 * candidate ranked first here (docs/analysis.md); the extra election it costs when a standby was
 * lost with the primary is not in the times.
 */
import { checkInput, type FailoverInput, type FailoverOutcome, isCandidate, nobody, orderReason, primaryUp, rankCandidates } from "./cluster";

export function repmgrFailover(input: FailoverInput): FailoverOutcome {
  checkInput(input);
  if (!input.down.includes(input.primary)) return primaryUp("repmgr", input);
  const primary = input.nodes.find((n) => n.name === input.primary)!;
  const up = input.nodes.filter((n) => n.name !== primary.name && !input.down.includes(n.name));
  const shared = input.nodes.length - 1;
  const visible = up.length;
  const ranked = rankCandidates(up.filter(isCandidate), input.lsn);
  const counts = { visible, total: shared, candidates: ranked.map((n) => n.name) };
  const countText = `${visible} of ${shared} nodes visible (a majority needs more than ${shared / 2})`;

  const winner = ranked[0];
  if (!winner) {
    return nobody("repmgr", input, "no-candidate", counts, `no node that can be promoted (a data node with priority > 0) is up; ${countText}`);
  }
  if (shared === 1) {
    if (winner.location === primary.location) {
      return promote(input, winner.name, "only-standby", counts, `${winner.name} is the only standby and has no siblings, so it wins by default`);
    }
    return nobody(
      "repmgr",
      input,
      "only-standby",
      counts,
      `${winner.name} is the only standby but its location ${winner.location} differs from the primary's ${primary.location}; repmgrd does not promote across locations without a witness`,
    );
  }
  const inPrimaryLocation = up.filter((n) => n.location === primary.location);
  if (inPrimaryLocation.length === 0) {
    return nobody(
      "repmgr",
      input,
      "location",
      counts,
      `no visible node is in the failed primary's location "${primary.location}", so repmgrd assumes a network split and cancels the election (${countText})`,
    );
  }
  if (visible <= shared / 2) {
    return nobody("repmgr", input, "majority", counts, `only ${countText}: repmgrd cannot reach a qualified majority and cancels the election`);
  }
  return promote(
    input,
    winner.name,
    "order",
    counts,
    `${countText}; "${primary.location}" seen via ${inPrimaryLocation.map((n) => n.name).join(", ")}; ${orderReason(ranked, input.lsn)}`,
  );
}

function promote(
  input: FailoverInput,
  name: string,
  rule: FailoverOutcome["rule"],
  counts: { visible: number; total: number; candidates: ReadonlyArray<string> },
  why: string,
): FailoverOutcome {
  return {
    model: "repmgr",
    primary: input.primary,
    down: [...input.down],
    newPrimary: name,
    promoted: true,
    manualPromotion: false,
    manualCandidate: null,
    rule,
    ...counts,
    reason: `${name} becomes primary: ${why}`,
  };
}
