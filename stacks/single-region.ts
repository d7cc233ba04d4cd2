/**
 * single-region: "EMS nodes in HA with Postgres DB HA cluster using EMS PostgreSQL HA Docker,
 * single region". Data nodes and witnesses in ems-postgres-ha containers, EMS installed over SSH
 * (first node after the DB primary accepts writes, the others after the first), and the
 * FortiGate load balancer after the EMS nodes.
 */
import { TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { LiteralOutput } from "../constructs/literal-output";
import { initialPrimary } from "../src/config/derive";
import type { Deployment } from "../src/config/schema";
import { guiChecklist } from "../src/render/checklist";
import { dockerRunCommand } from "../src/render/bitnami";
import type { EmsNode } from "../constructs/ems-node";
import { buildEmsChain } from "./ems-chain";
import { FortiGateLb } from "../constructs/fortigate-lb";
import { dockerDbNode, type DockerDbNode } from "../constructs/docker-db-node";
import { dockerReconcileService } from "../constructs/docker-reconcile";
import { PrimaryReady } from "../constructs/primary-ready";
import { DeploymentSecrets } from "../constructs/secrets";

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
  // The reconciliation service on every DB host (docs/topologies/single-region.md).
  for (const n of [...dataNodes, ...witnesses]) dockerReconcileService(n, d);
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

export class SingleRegionStack extends TerraformStack {
  public readonly parts: DockerClusterParts;

  constructor(scope: Construct, id: string, deployment: Deployment) {
    super(scope, id);
    this.parts = buildDockerDeployment(this, deployment);
    new LiteralOutput(this, "gui_checklist", { value: guiChecklist(deployment), description: "EMS GUI steps to do by hand" });
    new LiteralOutput(this, "docker_run_commands", {
      value: [...this.parts.dataNodes, ...this.parts.witnesses].map((n) => dockerRunCommand(n.spec)),
      description: "The equivalent docker run commands (secrets as $DB_PASSWORD / $REPMGR_PASSWORD)",
    });
    if (this.parts.fortigate) {
      new LiteralOutput(this, "fortios_cli", { value: this.parts.fortigate.cliScript, description: "The FortiGate configuration as CLI commands" });
    }
  }
}
