/**
 * The guide's description of the election ("EMS High Availability (HA) concepts"):
 * a standby is promoted when a quorum of (n/2)+1 of the cluster's n nodes is up,
 * and the node with the highest priority wins. The guide names no tie-breaker; we
 * use repmgr's (lower node id). No location rule, no LSN, no single-standby rule.
 * This is what the guide's failover table assumes.
 */
import { checkInput, type FailoverInput, type FailoverOutcome, isCandidate, nobody, orderReason, primaryUp, rankCandidates } from "./cluster";

export function vendorFailover(input: FailoverInput): FailoverOutcome {
  checkInput(input);
  if (!input.down.includes(input.primary)) return primaryUp("vendor", input);
  const n = input.nodes.length;
  const quorum = Math.floor(n / 2) + 1;
  const up = input.nodes.filter((x) => !input.down.includes(x.name));
  // Priority, then node id: the guide's rule ignores how much WAL a node has.
  const ranked = rankCandidates(up.filter(isCandidate));
  const counts = { visible: up.length, total: n, candidates: ranked.map((x) => x.name) };
  const countText = `${up.length} of ${n} nodes up (quorum (n/2)+1 = ${quorum})`;
  if (up.length < quorum) return nobody("vendor", input, "quorum", counts, `not enough nodes for quorum: ${countText}`);
  const winner = ranked[0];
  if (!winner) return nobody("vendor", input, "no-candidate", counts, `no data node with priority > 0 is up; ${countText}`);
  return {
    model: "vendor",
    primary: input.primary,
    down: [...input.down],
    newPrimary: winner.name,
    promoted: true,
    manualPromotion: false,
    manualCandidate: null,
    rule: "order",
    ...counts,
    reason: `${winner.name} becomes primary: ${countText}; ${orderReason(ranked, undefined, false)}`,
  };
}
