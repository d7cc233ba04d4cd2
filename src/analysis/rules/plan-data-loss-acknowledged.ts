import type { TopologyRule } from "./rule";

/**
 * `acknowledgements: [{ rule: "plan-data-loss", reason }]` lets `ems-ha plan-review` pass a plan
 * that destroys a database volume (src/review). This rule reports the acknowledgement itself, so
 * `ems-ha check` lists it (as acknowledged) until it is removed after the apply.
 */
export const planDataLossAcknowledged: TopologyRule = {
  id: "plan-data-loss",
  level: "warning",
  summary: "a plan that destroys database data is acknowledged (ems-ha plan-review); remove the acknowledgement after the apply",
  check: (d) =>
    d.acknowledgements.some((a) => a.rule === "plan-data-loss")
      ? [
          {
            nodes: [],
            message: "plan-review will let a plan destroy database volumes of this deployment",
            fix: "remove the plan-data-loss acknowledgement once the change is applied",
          },
        ]
      : [],
};
