/**
 * NativePgHaCluster: the native PostgreSQL + repmgr cluster (topology native-single-region) in
 * the guide's order, corrected as docs/background.md#native-postgresql-and-repmgr describes:
 * every DB host prepares at once (NativeDbNode.prepare); the initial primary joins first; then
 * the other data nodes (clone, register) and the witnesses (register) together, since each needs
 * only the primary; then the postgres SSH key exchange between the data nodes (NativeSshKeySync);
 * then the rolling restart (NativeRollingRestart: what a change left pending, one node at a
 * time, the primary last after a switchover; docs/operations.md#rolling-changes).
 *
 * A composite, not a construct of its own: it adds its constructs into the scope it is given,
 * with fixed ids (each node's name, "ssh-keys" and "rolling-restart"), and adds no level to the construct tree, so
 * every Terraform address stays what the stack had before the class existed (see
 * constructs/docker-pg-ha-cluster.ts and docs/library.md, "Composites").
 */
import type { ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import type { Deployment } from "../src/config/schema";
import { nativeMembers } from "../src/render/native/layout";
import type { Dependency, IDeployStep } from "./deploy-step";
import { NativePgNode, NativeWitnessNode } from "./native-node";
import { NativeRollingRestart } from "./native-rolling-restart";
import { NativeSshKeySync } from "./native-ssh-keys";
import type { DeploymentSecrets } from "./secrets";

export interface NativePgHaClusterProps {
  /** The validated deployment (topology native-single-region). */
  readonly deployment: Deployment;
  /** Supplies db_password, repmgr_password and symmetric_key. */
  readonly secrets: DeploymentSecrets;
  /** What must be done before the initial primary joins. @default none */
  readonly dependsOn?: ReadonlyArray<Dependency>;
}

export class NativePgHaCluster implements IDeployStep {
  /** Data nodes, the initial primary first. */
  public readonly dataNodes: NativePgNode[] = [];
  public readonly witnesses: NativeWitnessNode[] = [];
  /** The postgres SSH key exchange between the data nodes. */
  public readonly sshKeys: NativeSshKeySync;
  /** Restarts what a change left pending, after every join and key refresh. */
  public readonly rollingRestart: NativeRollingRestart;
  /** The rolling restart's last step (it runs after every join and key refresh). */
  public readonly done: ITerraformDependable[];

  /** Adds the nodes and the key exchange into `scope` (no construct of its own: see the file comment). */
  constructor(scope: Construct, props: NativePgHaClusterProps) {
    const d = props.deployment;
    let primary: ReadonlyArray<Dependency> = props.dependsOn ?? [];
    const joined: Array<NativePgNode | NativeWitnessNode> = [];
    for (const m of nativeMembers(d)) {
      const nodeProps = { deployment: d, node: m.config, secrets: props.secrets, dependsOn: primary };
      const n = m.role === "data" ? new NativePgNode(scope, m.name, nodeProps) : new NativeWitnessNode(scope, m.name, nodeProps);
      if (n instanceof NativePgNode) this.dataNodes.push(n);
      else this.witnesses.push(n);
      joined.push(n);
      if (joined.length === 1) primary = [n];
    }
    joinAfterEveryPrepare([...this.dataNodes, ...this.witnesses]);
    this.sshKeys = new NativeSshKeySync(scope, "ssh-keys", { nodes: this.dataNodes, dependsOn: joined, policy: d.ssh });
    this.rollingRestart = new NativeRollingRestart(scope, "rolling-restart", {
      deployment: d,
      nodes: [...this.dataNodes, ...this.witnesses],
      dependsOn: [...joined, this.sshKeys],
    });
    this.done = this.rollingRestart.done;
  }
}

/**
 * Every join waits for every node's preparation, which writes pg_hba.conf and reloads it: a node
 * that is added, or replaced at a new address, is then admitted by every member before it clones
 * or registers (docs/operations.md#adding-removing-and-replacing-db-nodes). On a first deploy the
 * preparations run at once anyway.
 */
function joinAfterEveryPrepare(nodes: ReadonlyArray<NativePgNode | NativeWitnessNode>): void {
  const address = (r: NativePgNode["prepare"]): string => `${r.terraformResourceType}.${r.friendlyUniqueId}`;
  for (const n of nodes) {
    // Its own preparation is a dependency already (NativeDbNode).
    const others = nodes.filter((o) => o !== n).map((o) => address(o.prepare));
    n.resource.dependsOn = [...(n.resource.dependsOn ?? []), ...others];
  }
}
