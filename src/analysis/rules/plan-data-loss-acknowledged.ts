import { planAcknowledgementRule } from "./plan-acknowledgement";

/**
 * `acknowledgements: [{ rule: "plan-data-loss", reason }]` lets `ems-ha plan-review` pass a plan
 * that destroys a database volume (src/review).
 */
export const planDataLossAcknowledged = planAcknowledgementRule(
  "plan-data-loss",
  "a plan that destroys database data is acknowledged (ems-ha plan-review); remove the acknowledgement after the apply",
  "plan-review will let a plan destroy database volumes of this deployment",
  "remove the plan-data-loss acknowledgement once the change is applied",
);
