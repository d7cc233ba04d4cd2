import { planAcknowledgementRule } from "./plan-acknowledgement";

/**
 * `acknowledgements: [{ rule: "plan-docker-membership", reason }]` lets `ems-ha plan-review` pass a
 * plan that adds, removes or re-addresses a DB node of a running Docker cluster with the provider
 * engine, which cannot roll (docs/operations.md); the ssh engine performs such changes itself.
 */
export const planDockerMembershipAcknowledged = planAcknowledgementRule(
  "plan-docker-membership",
  "a plan that changes the DB nodes of a running Docker cluster is acknowledged (ems-ha plan-review); remove the acknowledgement after the apply",
  "plan-review will let a plan add, remove or re-address DB nodes of this Docker deployment",
  "remove the plan-docker-membership acknowledgement once the change is applied and `ems-ha status` is healthy",
);
