/**
 * report.md: what a reviewer needs to judge a deployment in a pull-request comment.
 * Every value from the deployment goes through mdText (report/md.ts) where the text is assembled.
 */
import { checksumFields } from "../../config/checksums";
import { emsPorts, initialPrimary, locationOf, priorityOf, nodeIdOf } from "../../config/derive";
import type { Deployment } from "../../config/schema";
import { isPlaceholderSha256 } from "../../config/values";
import { clusterOf, type FailoverModelName } from "../failover/cluster";
import { deploymentScenarioRun, disagreements, MAX_EVALUATED_SCENARIOS, scenarioTable } from "../failover/scenarios";
import { otherModel, shortOutcome } from "../failover/model";
import { type Finding, formatFinding, openFindings } from "../rules";
import { rtoBudget, rtoTable } from "../rto";
import { deploymentOrder } from "./deployment-order";
import { mdKeepCode, mdText } from "./md";

/** A table whose every cell is a value (escaped here). */
function table(head: string[], rows: Array<Array<string | number>>): string {
  return [`| ${head.map(mdText).join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(mdText).join(" | ")} |`)].join("\n");
}

function nodesSection(d: Deployment): string {
  const primary = initialPrimary(d);
  const rows: Array<Array<string | number>> = [
    ...d.emsNodes.map((n, i) => [n.name, n.address, n.location, i === 0 ? "EMS primary (installed first)" : "EMS secondary", "", ""]),
    ...d.database.nodes.map((n, i) => [
      n.name,
      n.address,
      locationOf(n),
      n.role === "witness" ? "DB witness" : n.name === primary.name ? "DB primary (initial)" : "DB standby",
      priorityOf(n),
      nodeIdOf(d, n, i) ?? "",
    ]),
  ];
  return table(["Node", "Address", "Location", "Role", "repmgr priority", "repmgr node id"], rows);
}

/** What gets installed and from where, with the checksums a reviewer should compare. */
function softwareSection(d: Deployment): string {
  const src = d.installer.source;
  const img = d.database.image;
  const rows: Array<Array<string | number>> = [
    ["EMS installer", `${d.installer.version} (${src.kind === "file" ? `file ${src.path}` : `URL ${src.url}`}), run from ${d.installer.installDir}`],
  ];
  if (["single-region", "geo-redundant", "upgrade-7-4-4"].includes(d.topology)) {
    const where =
      img.source.kind === "tarball" ? `tarball ${img.source.path} on each DB host` : img.source.registry ? `registry ${img.source.registry}` : "Docker Hub";
    rows.push(["PostgreSQL HA image", `${img.name}:${img.tag} from ${where}`]);
  }
  for (const f of checksumFields(d)) {
    rows.push([`sha256 of ${f.what}`, `${f.sha256}${isPlaceholderSha256(f.sha256) ? " (PLACEHOLDER: synth and deploy refuse it)" : ""}`]);
  }
  return table(["What", "Version, source and checksum"], rows);
}

function networkSection(d: Deployment): string {
  const lines = [
    `- DB port ${d.database.port} on every DB node; EMS reaches the data nodes ${mdText(
      d.database.nodes
        .filter((n) => n.role === "data")
        .map((n) => n.name)
        .join(", "),
    )}.`,
  ];
  if (!d.fortigate) {
    lines.push(`- No FortiGate in the deployment: clients must reach the EMS primary at ${mdText(d.ems.vip)} some other way.`);
    return lines.join("\n");
  }
  const fg = d.fortigate;
  lines.push(
    `- FortiGate ${mdText(fg.address)} (VDOM ${mdText(fg.vdom)}), client side ${mdText(fg.incomingInterface)}, EMS side ${mdText(fg.outgoingInterface)}.`,
    `- VIP ${mdText(d.ems.vip)} (EMS FQDN ${mdText(d.ems.fqdn)}), load balancing first alive, health check TCP 8013.`,
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
  return [counts, "", ...findings.map((f) => `- ${mdText(formatFinding(f))}`)].join("\n");
}

export interface ReportOptions {
  readonly model?: FailoverModelName;
  /** File name of the diagram next to report.md. @default "topology.svg" */
  readonly svgName?: string;
  readonly findings: ReadonlyArray<Finding>;
  /**
   * Seconds without a primary after which the deployment's reconciliation service promotes a
   * standby once a majority answers again (its election repair; render/election-repair), when
   * the deployment renders that repair. @default none (the repair is not mentioned)
   */
  readonly electionRepairAfterSeconds?: number;
}

export function reportMarkdown(d: Deployment, opts: ReportOptions): string {
  const model = opts.model ?? "repmgr";
  const other = otherModel(model);
  const nodes = clusterOf(d);
  const run = deploymentScenarioRun(d, model, nodes);
  const results = run.results;
  // The counts describe exactly the rows of the table below (the primary's failures).
  const failures = results.filter((r) => r.outcome.rule !== "primary-up");
  const manual = failures.filter((r) => r.outcome.manualPromotion);
  const noData = failures.filter((r) => r.outcome.newPrimary === null && !r.outcome.manualPromotion);
  // Cancelled for want of a majority: the service holds that election once a majority answers again.
  const repaired = opts.electionRepairAfterSeconds === undefined ? [] : manual.filter((r) => r.outcome.rule === "majority" || r.outcome.rule === "quorum");
  const repairedText =
    repaired.length === 0
      ? ""
      : ` Of the manual promotions, ${repaired.length} come from an election cancelled for want of a majority: ` +
        `once a majority of the DB nodes answers again and no primary has answered for ${opts.electionRepairAfterSeconds} s, ` +
        `this deployment's reconciliation service promotes the standby repmgr would pick (docs/reliability.md, "An election repmgrd did not hold").`;
  const diff = disagreements(results);
  const budget = rtoBudget(d);
  const order = deploymentOrder(d);
  const omitted =
    run.omittedPrimaries.length === 0
      ? ""
      : ` To keep the analysis bounded (at most ${MAX_EVALUATED_SCENARIOS} scenarios), the scenarios with ${mdText(run.omittedPrimaries.join(", "))} as primary are left out; \`ems-ha failover --primary NODE --down ...\` answers any one of them.`;
  return [
    `# EMS HA review: ${mdText(d.name)} (${mdText(d.topology)})`,
    "",
    `![topology](${encodeURI(opts.svgName ?? "topology.svg").replace(/[()]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)})`,
    "",
    "## Nodes and roles",
    "",
    nodesSection(d),
    "",
    "## Installer and image",
    "",
    softwareSection(d),
    "",
    "## Deployment order",
    "",
    ...order.map((s) => `${s.step}. ${mdText(s.what)}: ${mdText(s.nodes.join(", "))}`),
    "",
    "## VIPs and ports",
    "",
    networkSection(d),
    "",
    `## Failover table (${model} model)`,
    "",
    `${results.length} scenarios (every single node, pair of nodes and location, for each possible primary shown); ` +
      `${failures.length} lose the primary and are listed below: ${manual.length} need a manual promotion` +
      `${noData.length > 0 ? `, ${noData.length} leave no data node up` : ""}, ` +
      `${failures.length - manual.length - noData.length} promote a standby automatically. ` +
      `The rows where the primary stays up are left out; \`ems-ha scenarios\` prints them all.${omitted}${repairedText}`,
    "",
    scenarioTable(nodes, results, { onlyPrimaryFailures: true }),
    "",
    diff.length === 0
      ? `The ${model} model and the ${other} model agree on every scenario.`
      : [
          `Where the ${other} model disagrees (${diff.length}):`,
          "",
          ...diff.map(
            (r) =>
              `- primary ${mdText(r.scenario.primary)}, down ${mdText(r.scenario.down.join(", "))}: ${model} says ${mdKeepCode(shortOutcome(r.outcome))}, ${r.other.model} says ${mdKeepCode(shortOutcome(r.other))}`,
          ),
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
