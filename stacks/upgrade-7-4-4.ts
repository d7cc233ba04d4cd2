/**
 * upgrade-7-4-4: the guide's "To upgrade a previously installed EMS deployment with Postgres HA
 * using EMS PostgreSQL HA Docker to 7.4.4", as ordered terraform_data steps over SSH (docker CLI
 * on each DB host):
 *   prepare (ALTER SYSTEM, every node) -> stop (witnesses, standbys, primary last) ->
 *   load (new image, every node) -> start primary (own volume, REPMGR_UPGRADE_EXTENSION=yes,
 *   primary register --force) -> start standbys (own volumes) -> start witnesses.
 * Every step is skipped on a node whose new container already runs, so a re-apply loses nothing.
 */
import { TerraformStack, type ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import { LiteralOutput } from "../constructs/literal-output";
import type { Deployment } from "../src/config/schema";
import { renderHostPrepScript } from "../src/render/docker-host";
import {
  renderUpgradePrepareScript,
  renderUpgradeStartScript,
  renderUpgradeStopScript,
  stopOrder,
  upgradeEnvFileContent,
  upgradeOrder,
  upgradeDockerRunCommand,
  type NodeUpgrade,
} from "../src/render/upgrade";
import { DeploymentSecrets } from "../constructs/secrets";
import { UpgradeNodeStep, type UpgradeNodeStepProps, type UpgradeStep } from "../constructs/upgrade-node-step";

/** Moved to constructs/upgrade-node-step.ts; re-exported for compatibility. */
export { UpgradeNodeStep, type UpgradeNodeStepProps, type UpgradeStep } from "../constructs/upgrade-node-step";

export class Upgrade744Stack extends TerraformStack {
  public readonly secrets: DeploymentSecrets;
  /** Steps by node name. */
  public readonly steps: ReadonlyMap<string, Readonly<Record<UpgradeStep, UpgradeNodeStep>>>;

  constructor(scope: Construct, id: string, d: Deployment) {
    super(scope, id);
    this.secrets = new DeploymentSecrets(this, "secrets");
    const order = upgradeOrder(d);
    const steps = new Map<string, Record<UpgradeStep, UpgradeNodeStep>>();
    const partial = new Map<string, Partial<Record<UpgradeStep, UpgradeNodeStep>>>(order.map((u) => [u.node.name, {}]));
    const add = (u: NodeUpgrade, step: UpgradeStep, script: string, dependsOn: ITerraformDependable[], secretFile?: UpgradeNodeStepProps["secretFile"]) => {
      const s = new UpgradeNodeStep(this, `${u.node.name}-${step}`, {
        deployment: d,
        upgrade: u,
        step,
        script,
        dependsOn,
        secretFile,
        secrets: secretFile ? this.secrets : undefined,
      });
      partial.get(u.node.name)![step] = s;
      return s.resource;
    };

    // 1. ALTER SYSTEM on every node, while the old cluster still runs.
    const prepared = order.map((u) => add(u, "prepare", renderUpgradePrepareScript(d, u), []));
    // 2. Stop: witnesses, standbys, then the primary, one after the other, so no standby is promoted meanwhile.
    let last: ITerraformDependable[] = prepared;
    for (const u of stopOrder(d)) last = [add(u, "stop", renderUpgradeStopScript(d, u), last)];
    // 3. Load the new image (and write conf.d/extra.conf) on every node.
    const loaded = order.map((u) => add(u, "load", renderHostPrepScript(d, u.node, u.spec.extraConf), last));
    // 4. Start: the primary, then the standbys, then the witnesses.
    const secretFile = (u: NodeUpgrade) => ({
      content: upgradeEnvFileContent({
        dbPassword: this.secrets.dbPassword.stringValue,
        repmgrPassword: (this.secrets.repmgrPassword ?? this.secrets.dbPassword).stringValue,
      }),
      destination: u.envFile,
    });
    const primary = order.find((u) => u.role === "primary")!;
    const primaryStarted = add(primary, "start", renderUpgradeStartScript(d, primary), loaded, secretFile(primary));
    const standbys = order.filter((u) => u.role === "standby").map((u) => add(u, "start", renderUpgradeStartScript(d, u), [primaryStarted], secretFile(u)));
    for (const u of order.filter((x) => x.role === "witness")) add(u, "start", renderUpgradeStartScript(d, u), [primaryStarted, ...standbys], secretFile(u));

    for (const [name, s] of partial) steps.set(name, s as Record<UpgradeStep, UpgradeNodeStep>);
    this.steps = steps;

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
