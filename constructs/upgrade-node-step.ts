/** UpgradeNodeStep: one step of the 7.4.4 upgrade (stacks/upgrade-7-4-4.ts) on one DB host. */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { Deployment } from "../src/config/schema";
import { upgradeMark, type NodeUpgrade } from "../src/render/upgrade";
import { dependablesOrNone, type Dependency, type IDeployStep } from "./deploy-step";
import { passwordsWithoutLineBreaks } from "./docker-ssh-node";
import { RemoteScript } from "./remote-script";
import type { DeploymentSecrets } from "./secrets";

export type UpgradeStep = "prepare" | "stop" | "load" | "start";

export interface UpgradeNodeStepProps {
  /** The validated deployment (topology upgrade-7-4-4). */
  readonly deployment: Deployment;
  /** The node's upgrade plan (src/render/upgrade.ts upgradeOrder). */
  readonly upgrade: NodeUpgrade;
  /** Which step this is. */
  readonly step: UpgradeStep;
  /** The script to run on the node's host (no secrets in it). */
  readonly script: string;
  /** A sensitive file to place first (the start step's password env file). @default none */
  readonly secretFile?: { readonly content: string; readonly destination: string };
  /** The passwords the secret file holds: checked at plan for line breaks. @default no check */
  readonly secrets?: DeploymentSecrets;
  /** The steps that must run first. @default none */
  readonly dependsOn?: ReadonlyArray<Dependency>;
}

/** One step of the upgrade on one DB host. */
export class UpgradeNodeStep extends Construct implements IDeployStep {
  /** The terraform_data that runs the step. */
  public readonly resource: RemoteScript;
  /** The step. */
  public readonly done: ITerraformDependable[];
  public readonly script: string;

  constructor(scope: Construct, id: string, props: UpgradeNodeStepProps) {
    super(scope, id);
    const node = props.upgrade.node;
    this.script = props.script;
    this.resource = new RemoteScript(this, "run", {
      host: node,
      policy: props.deployment.ssh,
      name: `upgrade-${props.step}`,
      script: props.script,
      // The start step's env file: placed where the script expects it, removed after the run.
      secretFiles: props.secretFile ? [{ name: "env", content: props.secretFile.content, path: props.secretFile.destination }] : [],
      triggers: { node: node.name, address: node.address, step: props.step, target: upgradeMark(props.deployment) },
      timeout: "10m",
      ...(props.secrets ? { lifecycle: { precondition: [passwordsWithoutLineBreaks(props.secrets)] } } : {}),
      dependsOn: dependablesOrNone(props.dependsOn),
    });
    this.done = [this.resource];
  }
}
