/** The order in which a deployment's parts are brought up (the guide's steps). */
import { dataNodes, emsInstallOrder, initialPrimary, witnessNodes } from "../../config/derive";
import type { Deployment } from "../../config/schema";

export interface DeploymentStep {
  readonly step: number;
  readonly what: string;
  /** Hosts the step runs on. */
  readonly nodes: string[];
}

export function deploymentOrder(d: Deployment): DeploymentStep[] {
  const primary = initialPrimary(d);
  const standbys = dataNodes(d).filter((n) => n.name !== primary.name);
  const steps: Array<Omit<DeploymentStep, "step">> = [
    { what: "prepare every DB host (packages or the Docker image, extra.conf)", nodes: d.database.nodes.map((n) => n.name) },
    { what: "start and register the DB primary", nodes: [primary.name] },
    ...standbys.map((n) => ({ what: "clone and register a standby from the primary", nodes: [n.name] })),
    ...witnessNodes(d).map((n) => ({ what: "start and register a witness with the primary", nodes: [n.name] })),
  ];
  for (const { node, primary: isPrimary } of emsInstallOrder(d)) {
    steps.push({ what: isPrimary ? "install the EMS primary (creates the database)" : "install an EMS secondary (--skip_db_deploy)", nodes: [node.name] });
  }
  if (d.fortigate) steps.push({ what: "configure the FortiGate: health check, virtual servers, policy", nodes: [`FortiGate ${d.fortigate.address}`] });
  return steps.map((s, i) => ({ step: i + 1, ...s }));
}
