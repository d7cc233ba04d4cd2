/** report.md: what a reviewer needs to judge a deployment in a pull-request comment. */
import { emsPorts, initialPrimary, locationOf, priorityOf, repmgrNodeId } from "../../config/derive";
import type { Deployment } from "../../config/schema";
import { clusterOf, type FailoverModelName } from "../failover/cluster";
import { deploymentScenarios, disagreements, scenarioTable } from "../failover/scenarios";
import { shortOutcome } from "../failover/model";
import { type Finding, formatFinding, openFindings } from "../rules";
import { rtoBudget, rtoTable } from "../rto";
import { deploymentOrder } from "./deployment-order";

function table(head: string[], rows: Array<Array<string | number>>): string {
  const esc = (v: string | number) => String(v).replace(/\|/g, "\\|");
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`)].join("\n");
}

function nodesSection(d: Deployment): string {
  const primary = initialPrimary(d);
  const rows: Array<Array<string | number>> = [
    ...d.emsNodes.map((n, i) => [n.name, n.address, n.location, i === 0 ? "EMS primary (installed first)" : "EMS secondary", "", ""]),
    ...d.database.nodes.map((n) => [
      n.name,
      n.address,
      locationOf(n),
      n.role === "witness" ? "DB witness" : n.name === primary.name ? "DB primary (initial)" : "DB standby",
      priorityOf(n),
      repmgrNodeId(n) ?? "",
    ]),
  ];
  return table(["Node", "Address", "Location", "Role", "repmgr priority", "repmgr node id"], rows);
}

function networkSection(d: Deployment): string {
  const lines = [`- DB port ${d.database.port} on every DB node; EMS reaches the data nodes ${d.database.nodes.filter((n) => n.role === "data").map((n) => n.name).join(", ")}.`];
  if (!d.fortigate) {
    lines.push(`- No FortiGate in the deployment: clients must reach the EMS primary at ${d.ems.vip} some other way.`);
    return lines.join("\n");
  }
  const fg = d.fortigate;
  lines.push(
    `- FortiGate ${fg.address} (VDOM ${fg.vdom}), client side ${fg.incomingInterface}, EMS side ${fg.outgoingInterface}.`,
    `- VIP ${d.ems.vip} (EMS FQDN ${d.ems.fqdn}), load balancing first alive, health check TCP 8013.`,
    "",
    table(
      ["Port", "Real servers (in order)"],
      emsPorts(fg).map((p) => [p, d.emsNodes.map((n, i) => `${n.name} ${n.address}:${p}${i === 0 ? " (first)" : ""}`).join(", ")]),
    ),
  );
  return lines.join("\n");
}

function findingsSection(findings: ReadonlyArray<Finding>): string {
  if (findings.length === 0) return "No findings.";
  const open = openFindings(findings);
  const counts = `${openFindings(findings, "error").length} error(s), ${openFindings(findings, "warning").length} warning(s), ${findings.length - open.length} acknowledged.`;
  return [counts, "", ...findings.map((f) => `- ${formatFinding(f)}`)].join("\n");
}

export interface ReportOptions {
  readonly model?: FailoverModelName;
  /** File name of the diagram next to report.md. @default "topology.svg" */
  readonly svgName?: string;
  readonly findings: ReadonlyArray<Finding>;
}

export function reportMarkdown(d: Deployment, opts: ReportOptions): string {
  const model = opts.model ?? "repmgr";
  const nodes = clusterOf(d);
  const results = deploymentScenarios(d, model, nodes);
  const failures = results.filter((r) => r.outcome.rule !== "primary-up");
  const manual = failures.filter((r) => r.outcome.newPrimary === null);
  const diff = disagreements(results);
  const budget = rtoBudget(d);
  const order = deploymentOrder(d);
  return [
    `# EMS HA review: ${d.name} (${d.topology})`,
    "",
    `![topology](${opts.svgName ?? "topology.svg"})`,
    "",
    "## Nodes and roles",
    "",
    nodesSection(d),
    "",
    "## Deployment order",
    "",
    ...order.map((s) => `${s.step}. ${s.what}: ${s.nodes.join(", ")}`),
    "",
    "## VIPs and ports",
    "",
    networkSection(d),
    "",
    `## Failover table (${model} model)`,
    "",
    `${results.length} scenarios (every single node, pair of nodes and location, for each possible primary); ` +
      `${failures.length} lose the primary, of which ${manual.length} need a manual promotion. ` +
      `The rows where the primary stays up are left out below; \`ems-ha scenarios\` prints them all.`,
    "",
    scenarioTable(nodes, results, { onlyPrimaryFailures: true }),
    "",
    diff.length === 0
      ? `The ${model} model and the other model agree on every scenario.`
      : [
          `Where the other model disagrees (${diff.length}):`,
          "",
          ...diff.map((r) => `- primary ${r.scenario.primary}, down ${r.scenario.down.join(", ")}: ${model} says ${shortOutcome(r.outcome)}, ${r.other.model} says ${shortOutcome(r.other)}`),
        ].join("\n"),
    "",
    "## RTO budget",
    "",
    rtoTable(budget),
    "",
    "## Rule findings",
    "",
    findingsSection(opts.findings),
    "",
  ].join("\n");
}
