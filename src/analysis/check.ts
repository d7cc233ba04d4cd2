/**
 * What `ems-ha check` does with a deployment, as a function: every schema error, every
 * cross-field error (the same checks parseDeployment and synth run) and, for a valid deployment,
 * every warning rule, in one list of findings. Never throws for any input.
 */
import { type ConfigIssue, showValue } from "../config/errors";
import { validateDeployment } from "../config/parse";
import type { Deployment } from "../config/schema";
import { openFindings, runRules } from "./rules";
import type { Finding } from "./rules/rule";

/** Rule id of the findings that come from the schema (types, ranges, value rules). */
export const SCHEMA_RULE_ID = "schema";

export interface CheckResult {
  /** The validated deployment, when there is no error. */
  readonly deployment?: Deployment;
  readonly findings: Finding[];
  readonly errors: Finding[];
  readonly warnings: Finding[];
}

function findingOfIssue(issue: ConfigIssue): Finding {
  return {
    ruleId: issue.rule ?? SCHEMA_RULE_ID,
    level: "error",
    nodes: [...(issue.nodes ?? [])],
    message: `${issue.path}: ${issue.message} (got ${showValue(issue.value)})`,
    fix: issue.fix,
  };
}

export function checkDeployment(input: unknown): CheckResult {
  const v = validateDeployment(input);
  const findings = v.ok ? runRules(v.deployment) : v.issues.map(findingOfIssue);
  return {
    ...(v.ok ? { deployment: v.deployment } : {}),
    findings,
    errors: openFindings(findings, "error"),
    warnings: openFindings(findings, "warning"),
  };
}
