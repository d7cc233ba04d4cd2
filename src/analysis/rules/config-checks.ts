/**
 * The error rules: the cross-field checks of src/config/semantics.ts (which also run inside
 * parseDeployment and `ems-ha check`), reported as findings. Each check carries its own id and
 * summary, and each issue names its nodes: nothing here parses messages.
 */
import { type ConfigIssue, showValue } from "../../config/errors";
import { CONFIG_CHECKS, type ConfigCheck } from "../../config/semantics";
import type { RuleHit, TopologyRule } from "./rule";

/** A config issue as a rule hit: the path and value lead the message. */
export function hitOfIssue(issue: ConfigIssue): RuleHit {
  return { nodes: [...(issue.nodes ?? [])], message: `${issue.path}: ${issue.message} (got ${showValue(issue.value)})`, fix: issue.fix };
}

export function ruleFromCheck(check: ConfigCheck): TopologyRule {
  return { id: check.id, level: "error", summary: check.summary, check: (d) => check.check(d).map(hitOfIssue) };
}

export const CONFIG_RULES: ReadonlyArray<TopologyRule> = CONFIG_CHECKS.map(ruleFromCheck);
