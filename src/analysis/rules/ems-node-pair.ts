import type { TopologyRule } from "./rule";

/** A single EMS node gives no application HA. */
export const emsNodePair: TopologyRule = {
  id: "ems-node-pair",
  level: "warning",
  summary: "at least two EMS nodes, so EMS itself can fail over",
  check: (d) =>
    d.emsNodes.length >= 2
      ? []
      : [
          {
            nodes: d.emsNodes.map((n) => n.name),
            message: "only one EMS node: if it fails, EMS is down until it is repaired, whatever the database does",
            fix: "add a second EMS node (the guide's topologies have two or three)",
          },
        ],
};
