/**
 * native-single-region: "EMS nodes in HA with Postgres DB HA cluster using native Postgres
 * without Docker, single region", corrected as docs/background.md#errors-in-the-guide, #native-postgresql-and-repmgr describe.
 *
 * Order: every DB host prepares at once (packages, configuration: needs no other host); then
 * the initial primary joins, then the other data nodes and the witness(es) together (each needs
 * only the primary), then the postgres SSH key exchange between data nodes, then the EMS
 * primary, then the other EMS nodes. Only terraform_data resources: `terraform init && terraform plan` need no provider.
 */
import { TerraformStack, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { LiteralOutput } from "../constructs/literal-output";
import { ConfigError } from "../src/config/errors";
import type { Deployment } from "../src/config/schema";
import { guiChecklist } from "../src/render/checklist";
import { nativeMembers } from "../src/render/native/layout";
import type { EmsNode } from "../constructs/ems-node";
import { buildEmsChain } from "./ems-chain";
import { NativePgNode, NativeWitnessNode } from "../constructs/native-node";
import { NativeSshKeySync } from "../constructs/native-ssh-keys";
import { DeploymentSecrets } from "../constructs/secrets";

export class NativeSingleRegionStack extends TerraformStack {
  public readonly secrets: DeploymentSecrets;
  /** Data nodes, the initial primary first. */
  public readonly dataNodes: NativePgNode[] = [];
  public readonly witnesses: NativeWitnessNode[] = [];
  public readonly sshKeys: NativeSshKeySync;
  /** EMS nodes, the EMS primary first. */
  public readonly emsNodes: EmsNode[] = [];

  constructor(scope: Construct, id: string, deployment: Deployment) {
    super(scope, id);
    const d = deployment;
    if (d.topology !== "native-single-region") {
      throw new ConfigError([
        {
          path: "topology",
          value: d.topology,
          message: "NativeSingleRegionStack builds the native-single-region topology",
          fix: 'set topology to "native-single-region" or use that topology\'s stack',
        },
      ]);
    }
    this.secrets = new DeploymentSecrets(this, "secrets", { symmetricKey: true, repmgrPassword: true });

    // Every node prepares its host at once (NativeDbNode.prepare). The joins: the initial primary
    // first; then the other data nodes (clone, register) and the witnesses (register) together,
    // since each needs only the primary.
    let primary: ITerraformDependable[] = [];
    const joined: ITerraformDependable[] = [];
    for (const m of nativeMembers(d)) {
      const props = { deployment: d, nodeName: m.name, secrets: this.secrets, dependsOn: primary };
      if (m.role === "data") {
        const n = new NativePgNode(this, m.name, props);
        this.dataNodes.push(n);
        joined.push(n.resource);
      } else {
        const n = new NativeWitnessNode(this, m.name, props);
        this.witnesses.push(n);
        joined.push(n.resource);
      }
      if (primary.length === 0) primary = [joined[0]!];
    }
    joinAfterEveryPrepare([...this.dataNodes, ...this.witnesses]);
    this.sshKeys = new NativeSshKeySync(this, "ssh-keys", { nodes: this.dataNodes, dependsOn: joined, policy: d.ssh });

    const dbReady: ITerraformDependable[] = [...joined, ...this.sshKeys.resources];
    const dbHosts = this.dataNodes.map((n) => n.member.address);
    this.emsNodes.push(...buildEmsChain(this, { deployment: d, secrets: this.secrets, afterDatabase: dbReady, dbHosts }));

    new LiteralOutput(this, "repmgr_nodes", {
      value: nativeMembers(d).map((m) => `${m.nodeId} ${m.name} ${m.role} ${m.address}`),
      description: "repmgr node id, name, role and address of every DB node",
    });
    new LiteralOutput(this, "gui_checklist", { value: guiChecklist(d), description: "EMS GUI steps to do by hand" });
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
