import type { TopologyRule } from "./rule";

/** The guide's recommended cluster sizes: total nodes -> data nodes + witnesses. */
export const RECOMMENDED_SIZES: ReadonlyArray<{ total: number; data: number; witness: number; name: string }> = [
  { total: 3, data: 2, witness: 1, name: "small" },
  { total: 5, data: 3, witness: 2, name: "medium" },
  { total: 9, data: 7, witness: 2, name: "large" },
];

/** A DB cluster whose size is not one of the guide's 3 / 5 / 9. A single standalone DB is not a cluster. */
export const recommendedClusterSize: TopologyRule = {
  id: "recommended-cluster-size",
  level: "warning",
  summary: "the DB cluster has 3, 5 or 9 nodes, as the guide recommends",
  check: (d) => {
    const nodes = d.database.nodes;
    if (nodes.length < 2 || RECOMMENDED_SIZES.some((s) => s.total === nodes.length)) return [];
    const data = nodes.filter((n) => n.role === "data").length;
    const sizes = RECOMMENDED_SIZES.map((s) => `${s.total} (${s.data} data + ${s.witness} witness${s.witness > 1 ? "es" : ""})`).join(", ");
    return [
      {
        nodes: nodes.map((n) => n.name),
        message: `the DB cluster has ${nodes.length} nodes (${data} data + ${nodes.length - data} witness); the guide recommends ${sizes}`,
        fix: "add or remove data or witness nodes to reach a recommended size, or acknowledge the rule with your reason",
      },
    ];
  },
};
