/**
 * Running the topology rules: `runRules(deployment)` returns every finding, with
 * acknowledged warnings marked; `synthFindings(deployment)` is what a stack calls at
 * synth (errors stop synthesis, warnings print).
 */
import { ConfigError } from "../../config/errors";
import type { Deployment } from "../../config/schema";
import { CONFIG_RULES } from "./config-checks";
import { emsDbSameLocation } from "./ems-db-same-location";
import { emsNodePair } from "./ems-node-pair";
import { evenVotingNodes } from "./even-voting-nodes";
import { locationLossNoMajority } from "./location-loss-no-majority";
import { placeholderChecksum } from "./placeholder-checksum";
import { recommendedClusterSize } from "./recommended-cluster-size";
import type { Finding, RuleHit, TopologyRule } from "./rule";
import { witnessLocation } from "./witness-location";
import { fortigateTlsUnverified, sshAgentRequired, sshHostKeyRequired, sshHostKeyUnverified } from "./ssh-trust";
import { stateInRepository } from "./state-in-repository";
import { planDataLossAcknowledged } from "./plan-data-loss-acknowledged";
import { planDockerMembershipAcknowledged } from "./plan-docker-membership-acknowledged";
import { synchronousReplicationDocker } from "./synchronous-replication-docker";

export type { Finding, RuleHit, RuleLevel, TopologyRule } from "./rule";
export { CONFIG_RULES, hitOfIssue, ruleFromCheck } from "./config-checks";

export const WARNING_RULES: ReadonlyArray<TopologyRule> = [
  evenVotingNodes,
  locationLossNoMajority,
  recommendedClusterSize,
  emsDbSameLocation,
  witnessLocation,
  emsNodePair,
  placeholderChecksum,
  sshHostKeyUnverified,
  sshAgentRequired,
  fortigateTlsUnverified,
  stateInRepository,
  planDataLossAcknowledged,
  planDockerMembershipAcknowledged,
  synchronousReplicationDocker,
];

export const UNKNOWN_ACK_ID = "acknowledgement-names-rule";

export const ALL_RULES: ReadonlyArray<TopologyRule> = [...CONFIG_RULES, sshHostKeyRequired, ...WARNING_RULES];

/** Acknowledgements that name no rule, or an error rule (errors cannot be acknowledged). */
function badAcknowledgements(d: Deployment, rules: ReadonlyArray<TopologyRule>): RuleHit[] {
  const warnings = rules.filter((r) => r.level === "warning").map((r) => r.id);
  return d.acknowledgements.flatMap((a, i) => {
    const rule = rules.find((r) => r.id === a.rule);
    if (rule?.level === "warning") return [];
    const why = rule ? `${a.rule} is an error rule; errors cannot be acknowledged` : `no rule has the id ${a.rule}`;
    return [{ nodes: [], message: `acknowledgements[${i}]: ${why}`, fix: `fix the error, or name one of the warning rules: ${warnings.join(", ")}` }];
  });
}

/** Runs every rule. A warning whose rule is acknowledged carries the reason and does not count. */
export function runRules(d: Deployment, rules: ReadonlyArray<TopologyRule> = ALL_RULES): Finding[] {
  const acks = new Map(d.acknowledgements.map((a) => [a.rule, a.reason]));
  const findings: Finding[] = rules.flatMap((rule) =>
    rule.check(d).map((hit) => {
      const reason = rule.level === "warning" ? acks.get(rule.id) : undefined;
      return { ruleId: rule.id, level: rule.level, ...hit, ...(reason !== undefined ? { acknowledged: reason } : {}) };
    }),
  );
  for (const hit of badAcknowledgements(d, rules)) findings.push({ ruleId: UNKNOWN_ACK_ID, level: "warning", ...hit });
  return findings;
}

/** Findings that count: not acknowledged. */
export function openFindings(findings: ReadonlyArray<Finding>, level?: Finding["level"]): Finding[] {
  return findings.filter((f) => f.acknowledged === undefined && (level === undefined || f.level === level));
}

/** One line per finding, cdk-nag style. */
export function formatFinding(f: Finding): string {
  const tag = f.acknowledged !== undefined ? "Acknowledged" : f.level === "error" ? "Error" : "Warning";
  const nodes = f.nodes.length > 0 ? ` [${f.nodes.join(", ")}]` : "";
  const tail = f.acknowledged !== undefined ? ` Reason: ${f.acknowledged}` : ` Fix: ${f.fix}`;
  return `[${tag}] ${f.ruleId}${nodes}: ${f.message}.${tail}`;
}

export interface SynthFindings {
  readonly findings: Finding[];
  readonly errors: Finding[];
  readonly warnings: Finding[];
}

/**
 * For the cdktf app at synth: runs the rules, prints each open warning through `warn`
 * and throws ConfigError (exit 2) when an error finding exists.
 */
export function synthFindings(d: Deployment, warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): SynthFindings {
  const findings = runRules(d);
  const errors = openFindings(findings, "error");
  const warnings = openFindings(findings, "warning");
  if (errors.length > 0) {
    throw new ConfigError(
      errors.map((f) => ({ path: `rule ${f.ruleId}`, value: f.nodes, message: f.message, fix: f.fix })),
      d.name,
    );
  }
  for (const w of warnings) warn(formatFinding(w));
  return { findings, errors, warnings };
}
