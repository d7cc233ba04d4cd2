import type { TopologyRule } from "./rule";

/**
 * A warning rule that reports an acknowledgement of a plan-review refusal while the deployment
 * holds it, so `ems-ha check` lists it until it is removed after the apply.
 */
export function planAcknowledgementRule(id: string, summary: string, message: string, fix: string): TopologyRule {
  return {
    id,
    level: "warning",
    summary,
    check: (d) => (d.acknowledgements.some((a) => a.rule === id) ? [{ nodes: [], message, fix }] : []),
  };
}
