/**
 * buildDockerDeployment: the secrets, the Docker PG HA cluster, the EMS nodes and the FortiGate
 * of the single-region and geo-redundant stacks, as one function. Kept for compatibility; the
 * stacks compose DeploymentSecrets, DockerPgHaCluster, EmsCluster and FortiGateLb themselves.
 */
import type { Construct } from "constructs";
import type { Deployment } from "../src/config/schema";
import { DockerPgHaCluster } from "./docker-pg-ha-cluster";
import type { DockerDbNode } from "./docker-db-node";
import { EmsCluster } from "./ems-cluster";
import type { EmsNode } from "./ems-node";
import { FortiGateLb } from "./fortigate-lb";
import type { PrimaryReady } from "./primary-ready";
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

/** The parts of a Docker deployment, from its composites. */
export function dockerClusterParts(secrets: DeploymentSecrets, cluster: DockerPgHaCluster, ems: EmsCluster, fortigate?: FortiGateLb): DockerClusterParts {
  return { secrets, dataNodes: cluster.dataNodes, witnesses: cluster.witnesses, primaryReady: cluster.primaryReady, emsNodes: ems.nodes, fortigate };
}

/**
 * Builds a Docker PG HA cluster, the EMS nodes and the FortiGate into a scope, in the guide's
 * order: primary, other data nodes, witnesses, EMS primary, EMS secondaries, FortiGate.
 * @deprecated compose DeploymentSecrets, DockerPgHaCluster, EmsCluster and FortiGateLb as SingleRegionStack does.
 */
export function buildDockerDeployment(scope: Construct, d: Deployment): DockerClusterParts {
  const secrets = new DeploymentSecrets(scope, "secrets", { fortigateToken: d.fortigate !== undefined });
  const cluster = new DockerPgHaCluster(scope, { deployment: d, secrets });
  const ems = new EmsCluster(scope, { deployment: d, secrets, dependsOn: [cluster] });
  const fortigate = d.fortigate ? new FortiGateLb(scope, "fortigate", { deployment: d, secrets, dependsOn: [ems] }) : undefined;
  return dockerClusterParts(secrets, cluster, ems, fortigate);
}
