/**
 * PrimaryReady: a bounded wait, on the initial primary's host, until its container accepts
 * writes. EMS installs depend on it: the guide installs EMS "after the DB cluster is up and running".
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { DbNodeConfig, SshPolicy } from "../src/config/schema";
import { renderWaitPrimaryScript, type WaitOptions } from "../src/render/docker-host";
import { dependablesOrNone, type Dependency, type IDeployStep } from "./deploy-step";
import { RemoteScript } from "./remote-script";

export interface PrimaryReadyProps {
  /** The data node that starts as primary. */
  readonly primary: DbNodeConfig;
  readonly port: number;
  readonly user: string;
  /** Names of the data nodes (resolvable inside the container through --add-host). @default the primary only */
  readonly dataNodes?: ReadonlyArray<string>;
  /** Bounds of the wait. @default 60 attempts x 5 s */
  readonly wait?: WaitOptions;
  /** What must exist first: the DB node constructs (or their containers). */
  readonly dependsOn: ReadonlyArray<Dependency>;
  /** The deployment's host key settings (deployment.ssh). @default the primary's ssh.hostKey only */
  readonly policy?: SshPolicy;
}

export class PrimaryReady extends Construct implements IDeployStep {
  /** The wait step. */
  public readonly resource: RemoteScript;
  /** The wait step: done once the primary accepts writes. */
  public readonly done: ITerraformDependable[];

  constructor(scope: Construct, id: string, props: PrimaryReadyProps) {
    super(scope, id);
    const script = renderWaitPrimaryScript(props.primary.name, props.port, props.user, props.dataNodes ?? [props.primary.name], props.wait);
    this.resource = new RemoteScript(this, "wait", {
      host: props.primary,
      policy: props.policy,
      name: "wait-primary",
      script,
      triggers: { primary: props.primary.name, address: props.primary.address },
      dependsOn: dependablesOrNone(props.dependsOn),
    });
    this.done = [this.resource];
  }
}
