/**
 * upgrade-7-4-4: the guide's "To upgrade a previously installed EMS deployment with Postgres HA
 * using EMS PostgreSQL HA Docker to 7.4.4": the steps of DockerUpgrade744
 * (constructs/docker-upgrade-744.ts, which describes their order), and what to do next as outputs.
 */
import { TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { LiteralOutput } from "../constructs/literal-output";
import type { Deployment } from "../src/config/schema";
import { upgradeOrder, upgradeDockerRunCommand } from "../src/render/upgrade";
import { DockerUpgrade744 } from "../constructs/docker-upgrade-744";
import { DeploymentSecrets } from "../constructs/secrets";
import type { UpgradeNodeStep, UpgradeStep } from "../constructs/upgrade-node-step";

/** Moved to constructs/upgrade-node-step.ts; re-exported for compatibility. */
export { UpgradeNodeStep, type UpgradeNodeStepProps, type UpgradeStep } from "../constructs/upgrade-node-step";

export class Upgrade744Stack extends TerraformStack {
  public readonly secrets: DeploymentSecrets;
  /** Steps by node name. */
  public readonly steps: ReadonlyMap<string, Readonly<Record<UpgradeStep, UpgradeNodeStep>>>;

  constructor(scope: Construct, id: string, d: Deployment) {
    super(scope, id);
    this.secrets = new DeploymentSecrets(this, "secrets");
    const upgrade = new DockerUpgrade744(this, { deployment: d, secrets: this.secrets });
    this.steps = upgrade.steps;
    const order = upgradeOrder(d);

    new LiteralOutput(this, "docker_run_commands", {
      value: order.map((u) => upgradeDockerRunCommand(d, u)),
      description: "The new containers, in start order (passwords from the env file)",
    });
    new LiteralOutput(this, "next_steps", {
      value: [
        "Check the cluster: docker exec -it <node> /opt/bitnami/scripts/postgresql-repmgr/entrypoint.sh repmgr -f /opt/bitnami/repmgr/conf/repmgr.conf cluster show",
        'Upgrade the EMS nodes to 7.4.4 as the EMS Administration Guide\'s "Upgrading EMS in HA" describes.',
        `The old containers are kept, stopped and without restart policy (${order.map((u) => u.oldContainerAfter).join(", ")}); remove them once the cluster is healthy.`,
      ],
    });
  }
}
