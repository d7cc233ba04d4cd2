/**
 * Topology rules in the style of cdk-nag: each rule is a small pure function of a
 * validated deployment that returns what it finds, with the nodes involved and a fix.
 */
import type { Deployment } from "../../config/schema";

export type RuleLevel = "error" | "warning";

/** What one rule reports about one problem. */
export interface RuleHit {
  readonly nodes: string[];
  readonly message: string;
  readonly fix: string;
}

export interface TopologyRule {
  /** Stable id, used in `acknowledgements: [{ rule, reason }]`. */
  readonly id: string;
  readonly level: RuleLevel;
  /** One line for docs and `ems-ha check`. */
  readonly summary: string;
  readonly check: (d: Deployment) => RuleHit[];
}

export interface Finding {
  readonly ruleId: string;
  readonly level: RuleLevel;
  readonly nodes: string[];
  readonly message: string;
  readonly fix: string;
  /** The reason given in the deployment's acknowledgements, when acknowledged. */
  readonly acknowledged?: string;
}
