import { locationOf } from "../../config/derive";
import type { TopologyRule } from "./rule";

/** A location (data centre) whose loss leaves no majority of the DB nodes: no automatic failover after it. */
export const locationLossNoMajority: TopologyRule = {
  id: "location-loss-no-majority",
  level: "warning",
  summary: "losing any one location leaves a majority of the DB nodes",
  check: (d) => {
    const nodes = d.database.nodes;
    const locations = [...new Set(nodes.map(locationOf))];
    if (locations.length < 2) return [];
    return locations.flatMap((loc) => {
      const lost = nodes.filter((n) => locationOf(n) === loc);
      const left = nodes.length - lost.length;
      if (left > nodes.length / 2) return [];
      return [
        {
          nodes: lost.map((n) => n.name),
          message: `losing location ${loc} (${lost.map((n) => n.name).join(", ")}) leaves ${left} of ${nodes.length} DB nodes, no majority: nobody is promoted automatically and an operator must promote a node in another location`,
          fix: `move a witness out of ${loc} or add one in a third location; acknowledge the rule if manual promotion after losing ${loc} is intended (disaster recovery)`,
        },
      ];
    });
  },
};
