/**
 * single-region: "EMS nodes in HA with Postgres DB HA cluster using EMS PostgreSQL HA Docker,
 * single region". Data nodes and witnesses in ems-postgres-ha containers, EMS installed over SSH
 * (first node after the DB primary accepts writes, the others after the first), and the
 * FortiGate load balancer after the EMS nodes.
 */
import { TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { LiteralOutput } from "../constructs/literal-output";
import type { Deployment } from "../src/config/schema";
import { guiChecklist } from "../src/render/checklist";
import { dockerRunCommand } from "../src/render/bitnami";
import { dockerClusterParts, type DockerClusterParts } from "../constructs/docker-deployment";
import { DockerPgHaCluster } from "../constructs/docker-pg-ha-cluster";
import { EmsCluster } from "../constructs/ems-cluster";
import { FortiGateLb } from "../constructs/fortigate-lb";
import { DeploymentSecrets } from "../constructs/secrets";

/** Moved to constructs/docker-deployment.ts; re-exported for compatibility. */
export { buildDockerDeployment, type DockerClusterParts } from "../constructs/docker-deployment";

export class SingleRegionStack extends TerraformStack {
  public readonly secrets: DeploymentSecrets;
  /** The DB nodes and the primary-ready wait. */
  public readonly cluster: DockerPgHaCluster;
  /** The EMS nodes, after the cluster. */
  public readonly ems: EmsCluster;
  /** The FortiGate, after the EMS nodes (when the deployment has one). */
  public readonly fortigate?: FortiGateLb;
  /** The same constructs as one record. */
  public readonly parts: DockerClusterParts;

  constructor(scope: Construct, id: string, deployment: Deployment) {
    super(scope, id);
    const d = deployment;
    this.secrets = new DeploymentSecrets(this, "secrets", { fortigateToken: d.fortigate !== undefined });
    this.cluster = new DockerPgHaCluster(this, { deployment: d, secrets: this.secrets });
    this.ems = new EmsCluster(this, { deployment: d, secrets: this.secrets, dependsOn: [this.cluster] });
    if (d.fortigate) this.fortigate = new FortiGateLb(this, "fortigate", { deployment: d, secrets: this.secrets, dependsOn: [this.ems] });
    this.parts = dockerClusterParts(this.secrets, this.cluster, this.ems, this.fortigate);
    new LiteralOutput(this, "gui_checklist", { value: guiChecklist(d), description: "EMS GUI steps to do by hand" });
    new LiteralOutput(this, "docker_run_commands", {
      value: this.cluster.nodes.map((n) => dockerRunCommand(n.spec)),
      description: "The equivalent docker run commands (secrets as $DB_PASSWORD / $REPMGR_PASSWORD)",
    });
    if (this.fortigate) {
      new LiteralOutput(this, "fortios_cli", { value: this.fortigate.cliScript, description: "The FortiGate configuration as CLI commands" });
    }
  }
}
