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
import { buildDockerDeployment, type DockerClusterParts } from "../constructs/docker-deployment";

/** Moved to constructs/docker-deployment.ts; re-exported for compatibility. */
export { buildDockerDeployment, type DockerClusterParts } from "../constructs/docker-deployment";

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
