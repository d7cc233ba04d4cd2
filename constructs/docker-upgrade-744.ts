/**
 * DockerUpgrade744: the guide's "To upgrade a previously installed EMS deployment with Postgres
 * HA using EMS PostgreSQL HA Docker to 7.4.4", as ordered UpgradeNodeStep steps over SSH (docker
 * CLI on each DB host):
 *   prepare (ALTER SYSTEM, every node) -> stop (witnesses, standbys, primary last) ->
 *   load (new image, every node) -> start primary (own volume, REPMGR_UPGRADE_EXTENSION=yes,
 *   primary register --force) -> start standbys (own volumes) -> start witnesses ->
 *   reconcile (every node, once all new containers run: the reconciliation service of the
 *   single-region and geo-redundant stacks, for the new container; the stop step stops a
 *   service the host already has).
 * Every step is skipped on a node whose new container already runs, so a re-apply loses nothing.
 *
 * A composite, not a construct of its own: it adds its steps into the scope it is given, with
 * fixed ids (`<node>-<step>`), and adds no level to the construct tree, so every Terraform
 * address stays what the stack had before the class existed (docs/library.md, "Composites").
 */
import type { ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import type { Deployment } from "../src/config/schema";
import { renderHostPrepScript } from "../src/render/docker-host";
import {
  renderUpgradePrepareScript,
  renderUpgradeStartScript,
  renderUpgradeStopScript,
  stopOrder,
  upgradeEnvFileContent,
  upgradeOrder,
  type NodeUpgrade,
} from "../src/render/upgrade";
import type { IDeployStep } from "./deploy-step";
import { DockerReconcileService } from "./docker-reconcile";
import type { DeploymentSecrets } from "./secrets";
import { UpgradeNodeStep, type UpgradeNodeStepProps, type UpgradeStep } from "./upgrade-node-step";

export interface DockerUpgrade744Props {
  /** The validated deployment (topology upgrade-7-4-4). */
  readonly deployment: Deployment;
  /** Supplies db_password and repmgr_password (written to each node's env file by its start step). */
  readonly secrets: DeploymentSecrets;
}

export class DockerUpgrade744 implements IDeployStep {
  /** Steps by node name. */
  public readonly steps: ReadonlyMap<string, Readonly<Record<UpgradeStep, UpgradeNodeStep>>>;
  /** The reconciliation service's install step of every node (id `<node>-reconcile`), after every start step. */
  public readonly reconcile: DockerReconcileService[];
  /** Every node's start step and reconciliation service: the upgrade is done once all new containers run and are looked after. */
  public readonly done: ITerraformDependable[];

  /** Adds the steps into `scope` (no construct of its own: see the file comment). */
  constructor(scope: Construct, props: DockerUpgrade744Props) {
    const d = props.deployment;
    const order = upgradeOrder(d);
    const steps = new Map<string, Record<UpgradeStep, UpgradeNodeStep>>();
    const partial = new Map<string, Partial<Record<UpgradeStep, UpgradeNodeStep>>>(order.map((u) => [u.node.name, {}]));
    const add = (u: NodeUpgrade, step: UpgradeStep, script: string, dependsOn: ITerraformDependable[], secretFile?: UpgradeNodeStepProps["secretFile"]) => {
      const s = new UpgradeNodeStep(scope, `${u.node.name}-${step}`, {
        deployment: d,
        upgrade: u,
        step,
        script,
        dependsOn,
        secretFile,
        secrets: secretFile ? props.secrets : undefined,
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
    const loaded = order.map((u) => add(u, "load", renderHostPrepScript(d, u.node, u.spec.extraConf, u.spec.repmgrFiles), last));
    // 4. Start: the primary, then the standbys, then the witnesses.
    const secretFile = (u: NodeUpgrade) => ({
      content: upgradeEnvFileContent({
        dbPassword: props.secrets.dbPassword.stringValue,
        repmgrPassword: (props.secrets.repmgrPassword ?? props.secrets.dbPassword).stringValue,
      }),
      destination: u.envFile,
    });
    const primary = order.find((u) => u.role === "primary")!;
    const primaryStarted = add(primary, "start", renderUpgradeStartScript(d, primary), loaded, secretFile(primary));
    const standbys = order.filter((u) => u.role === "standby").map((u) => add(u, "start", renderUpgradeStartScript(d, u), [primaryStarted], secretFile(u)));
    const witnesses = order
      .filter((x) => x.role === "witness")
      .map((u) => add(u, "start", renderUpgradeStartScript(d, u), [primaryStarted, ...standbys], secretFile(u)));

    for (const [name, s] of partial) steps.set(name, s as Record<UpgradeStep, UpgradeNodeStep>);
    this.steps = steps;
    const started = [primaryStarted, ...standbys, ...witnesses];
    this.reconcile = order.map((u) => new DockerReconcileService(scope, `${u.node.name}-reconcile`, { deployment: d, node: u.node, dependsOn: started }));
    this.done = [...started, ...this.reconcile];
  }
}
