/**
 * The Docker PG HA cluster, the EMS nodes and the FortiGate of the single-region and
 * geo-redundant stacks, built into the scope it is given.
 */
import type { Construct } from "constructs";
import { initialPrimary } from "../src/config/derive";
import type { Deployment } from "../src/config/schema";
import type { EmsNode } from "./ems-node";
import { buildEmsChain } from "./ems-chain";
import { FortiGateLb } from "./fortigate-lb";
import { dockerDbNode, type DockerDbNode } from "./docker-db-node";
import { PrimaryReady } from "./primary-ready";
import { DeploymentSecrets } from "./secrets";

export interface DockerClusterParts {
  readonly secrets: DeploymentSecrets;
  /** PgHaNode (engine "provider") or SshPgHaNode (engine "ssh"). */
  readonly dataNodes: DockerDbNode[];
  /** WitnessNode or SshWitnessNode. */
  readonly witnesses: DockerDbNode[];
  readonly primaryReady: PrimaryReady;
  readonly emsNodes: EmsNode[];
  readonly fortigate?: FortiGateLb;
}

/**
 * Builds a Docker PG HA cluster, the EMS nodes and the FortiGate into a scope, in the guide's
 * order: primary, other data nodes, witnesses, EMS primary, EMS secondaries, FortiGate.
 * Shared by the single-region and geo-redundant stacks.
 */
export function buildDockerDeployment(scope: Construct, d: Deployment): DockerClusterParts {
  const secrets = new DeploymentSecrets(scope, "secrets", { fortigateToken: d.fortigate !== undefined });
  const primaryCfg = initialPrimary(d);
  const primary = dockerDbNode(scope, primaryCfg.name, { deployment: d, nodeName: primaryCfg.name, secrets });
  const dataNodes = [primary];
  for (const n of d.database.nodes) {
    if (n.role !== "data" || n.name === primaryCfg.name) continue;
    dataNodes.push(dockerDbNode(scope, n.name, { deployment: d, nodeName: n.name, secrets, dependsOn: [primary.container] }));
  }
  const witnesses = d.database.nodes
    .filter((n) => n.role === "witness")
    .map((n) => dockerDbNode(scope, n.name, { deployment: d, nodeName: n.name, secrets, dependsOn: dataNodes.map((x) => x.container) }));
  const primaryReady = new PrimaryReady(scope, "primary-ready", {
    primary: primaryCfg,
    port: d.database.port,
    user: d.database.user,
    dataNodes: d.database.nodes.filter((n) => n.role === "data").map((n) => n.name),
    dependsOn: [...dataNodes, ...witnesses].map((x) => x.container),
    policy: d.ssh,
  });
  const emsNodes = buildEmsChain(scope, { deployment: d, secrets, afterDatabase: [primaryReady.resource] });
  const fortigate = d.fortigate ? new FortiGateLb(scope, "fortigate", { deployment: d, secrets, dependsOn: emsNodes.map((e) => e.resource) }) : undefined;
  return { secrets, dataNodes, witnesses, primaryReady, emsNodes, fortigate };
}
