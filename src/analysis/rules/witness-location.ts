import { locationOf } from "../../config/derive";
import type { TopologyRule } from "./rule";

/**
 * A witness left in repmgr's "default" location while data nodes have named locations
 * (the guide's geo commands, docs/background.md#errors-in-the-guide): under repmgr's location rule it never counts as
 * "seeing the primary's data centre", so it cannot help a promotion.
 */
export const witnessLocation: TopologyRule = {
  id: "witness-location",
  level: "warning",
  summary: "witnesses carry their data centre's location when the data nodes have locations",
  check: (d) => {
    const named = d.database.nodes.filter((n) => n.role === "data" && locationOf(n) !== "default");
    if (named.length === 0) return [];
    return d.database.nodes
      .filter((n) => n.role === "witness" && locationOf(n) === "default")
      .map((w) => ({
        nodes: [w.name],
        message: `witness ${w.name} has no location (repmgr's "default") while data nodes use ${[...new Set(named.map(locationOf))].join(", ")}; repmgr's location rule never counts it for the primary's data centre`,
        fix: `set location on ${w.name} to the data centre it runs in`,
      }));
  },
};
