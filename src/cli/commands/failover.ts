import { initialPrimary, locationOf } from "../../config/derive";
import type { Deployment } from "../../config/schema";
import { clusterOf, FAILOVER_MODELS, type DecidingRule, type FailoverModelName, type FailoverOutcome } from "../../analysis/failover/cluster";
import { disagree, failover, otherModel } from "../../analysis/failover/model";
import { type FlagSpec, usageError } from "../args";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment } from "../deployment-file";
import { electionRepairNote } from "../../ops/failover-afterwards";

/** `--model repmgr|vendor`, shared by failover, scenarios and report. */
export const MODEL_FLAG = {
  type: "string",
  choices: FAILOVER_MODELS,
  default: "repmgr",
  description: "repmgr: what repmgrd 5.3 does; vendor: the guide's description",
} as const satisfies FlagSpec;

/** The --model value as a model name (the parser already checked it is one of the choices). */
export function modelOf(value: string): FailoverModelName {
  return value as FailoverModelName;
}

/** Names in --down: DB node names, or a location name standing for all its DB nodes. */
export function downNodes(d: Deployment, list: string): string[] {
  const names = d.database.nodes.map((n) => n.name);
  const locations = [...new Set(d.database.nodes.map(locationOf))];
  const out = new Set<string>();
  for (const item of list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (names.includes(item)) out.add(item);
    else if (locations.includes(item)) d.database.nodes.filter((n) => locationOf(n) === item).forEach((n) => out.add(n.name));
    else
      throw usageError(
        "--down",
        item,
        "is neither a DB node nor a DB location",
        `use DB node names (${names.join(", ")}) or locations (${locations.join(", ")})`,
      );
  }
  return names.filter((n) => out.has(n));
}

/** `--lsn pg-2=0/3000060,pg-3=1234`: last received LSN per node (PostgreSQL X/Y hex form or a number). */
export function parseLsn(text: string): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const item of text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z0-9-]+)=(?:([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})|(\d+))$/.exec(item);
    if (!m) throw usageError("--lsn", item, "is not node=LSN", "write it like pg-2=0/3000060 (PostgreSQL form) or pg-2=50331744");
    out[m[1]!] = m[4] !== undefined ? BigInt(m[4]) : (BigInt(`0x${m[2]}`) << 32n) + BigInt(`0x${m[3]}`);
  }
  return out;
}

export const RULE_WORDS: Record<DecidingRule, string> = {
  "primary-up": "no election: the primary is up",
  "no-candidate": "no candidate: no data node with priority > 0 is up",
  "only-standby": "single standby: no siblings to ask",
  location: "location rule: a visible node must be in the failed primary's location",
  majority: "majority rule: more than half of the failed primary's siblings + 1 must be visible",
  quorum: "quorum rule: (n/2)+1 of the cluster's n nodes must be up",
  order: "candidate order",
};

/** `afterwards`: what the deployment's reconciliation service does once the outage ends (electionRepairNote). */
export function describeOutcome(o: FailoverOutcome, other: FailoverOutcome, afterwards?: string): string {
  const order = o.model === "repmgr" ? "highest LSN, then priority, then lowest node id" : "highest priority, then lowest node id";
  const result =
    o.rule === "primary-up"
      ? `${o.primary} stays primary (no failover)`
      : o.newPrimary
        ? `${o.newPrimary} becomes primary`
        : o.manualPromotion
          ? `nobody is promoted: manual promotion needed (\`ems-ha promote ${o.manualCandidate}\`)`
          : "nobody is promoted, and no data node is up to promote";
  return [
    `Model: ${o.model}`,
    `Primary: ${o.primary}; down: ${o.down.join(", ") || "(none)"}`,
    `Result: ${result}`,
    `Decided by: ${RULE_WORDS[o.rule]}${o.rule === "order" ? ` (${order})` : ""}`,
    `Counts: ${o.visible} of ${o.total} nodes ${o.model === "repmgr" ? "visible (siblings + itself)" : "up (whole cluster)"}; candidates up: ${o.candidates.join(", ") || "none"}`,
    `Why: ${o.reason}`,
    ...(afterwards ? [`Afterwards: ${afterwards}`] : []),
    disagree(o, other) ? `The ${other.model} model disagrees: ${other.reason}` : `The ${other.model} model agrees.`,
  ].join("\n");
}

export const failoverCommand = defineCommand({
  name: "failover",
  summary: "Who becomes DB primary when the given nodes go down, and why",
  flags: {
    config: CONFIG_FLAG,
    primary: { type: "string", placeholder: "NODE", description: "the data node that is primary before the outage (default: the initial primary)" },
    down: { type: "string", required: true, placeholder: "NODES", description: "comma-separated DB nodes or locations that go down, e.g. pg-1,pg-2 or dc1" },
    model: MODEL_FLAG,
    lsn: { type: "string", placeholder: "NODE=LSN,...", description: "last received LSN per standby, e.g. pg-2=0/3000060" },
    json: { type: "boolean", description: "print the outcome as JSON" },
  },
  run({ flags }, io) {
    const { deployment: d } = readDeployment(flags.config, io);
    const model = modelOf(flags.model);
    const primary = flags.primary ?? initialPrimary(d).name;
    const pnode = d.database.nodes.find((n) => n.name === primary);
    if (!pnode || pnode.role !== "data") {
      throw usageError(
        "--primary",
        primary,
        "is not a data node of the deployment",
        `use one of ${d.database.nodes
          .filter((n) => n.role === "data")
          .map((n) => n.name)
          .join(", ")}`,
      );
    }
    const input = { nodes: clusterOf(d), primary, down: downNodes(d, flags.down), ...(flags.lsn ? { lsn: parseLsn(flags.lsn) } : {}) };
    const outcome = failover(model, input);
    const other = failover(otherModel(model), input);
    const afterwards = electionRepairNote(d, outcome);
    io.out(flags.json ? JSON.stringify({ ...outcome, ...(afterwards ? { afterwards } : {}) }, null, 2) : describeOutcome(outcome, other, afterwards));
    return 0;
  },
});
