/**
 * NativeSshKeySync: after every data node is set up, refreshes postgres's authorized_keys and
 * known_hosts on each data node from the keys the nodes published in the cluster
 * (table ems_ha.ssh_keys), so the data nodes trust each other's postgres user as the guide's
 * ssh-copy-id step does, without passwords.
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { nativeLayout } from "../src/render/native/layout";
import { sha256 } from "../src/render/native/setup-script";
import type { SshPolicy } from "../src/config/schema";
import { dependables, type Dependency, type IDeployStep } from "./deploy-step";
import { shellQuote } from "../src/render/shell-quote";
import type { NativePgNode } from "./native-node";
import { RemoteScript } from "./remote-script";

export interface NativeSshKeySyncProps {
  /** The data nodes whose keys are exchanged. */
  readonly nodes: ReadonlyArray<NativePgNode>;
  /** What must be set up first. @default every node in `nodes` */
  readonly dependsOn?: ReadonlyArray<Dependency>;
  /** The deployment's host key settings (deployment.ssh). @default each node's ssh.hostKey only */
  readonly policy?: SshPolicy;
}

export class NativeSshKeySync extends Construct implements IDeployStep {
  /** One terraform_data per data node. */
  public readonly resources: RemoteScript[];
  /** Every node's key refresh. */
  public readonly done: ITerraformDependable[];

  constructor(scope: Construct, id: string, props: NativeSshKeySyncProps) {
    super(scope, id);
    const dependsOn = dependables(props.dependsOn ?? props.nodes);
    const roster = sha256(props.nodes.map((n) => `${n.member.name} ${n.member.address} ${sha256(n.script)}`).join("\n"));
    this.resources = props.nodes.map((n) => {
      const l = nativeLayout();
      return new RemoteScript(this, n.member.name, {
        host: n.member.config,
        policy: props.policy,
        name: "native-ssh-sync",
        script: `#!/usr/bin/env bash\nset -euo pipefail\nexec bash ${shellQuote(l.setupScript)} --ssh-sync\n`,
        triggers: { node: n.member.name, roster },
        dependsOn,
      });
    });
    this.done = [...this.resources];
  }
}
