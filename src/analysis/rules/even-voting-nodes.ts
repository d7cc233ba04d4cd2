import type { TopologyRule } from "./rule";

/** An even number of voting DB nodes: a clean split in half leaves neither side a majority. */
export const evenVotingNodes: TopologyRule = {
  id: "even-voting-nodes",
  level: "warning",
  summary: "an odd number of DB nodes (data + witness) votes",
  check: (d) => {
    const nodes = d.database.nodes;
    if (nodes.length < 2 || nodes.length % 2 === 1) return [];
    return [
      {
        nodes: nodes.map((n) => n.name),
        message: `${nodes.length} DB nodes vote in an election; when they split in two halves neither half has a majority and nobody is promoted`,
        fix: "add a witness node (or remove one) so that an odd number of nodes vote",
      },
    ];
  },
};
