/**
 * native-single-region: "EMS nodes in HA with Postgres DB HA cluster using native Postgres
 * without Docker, single region", corrected as docs/background.md#errors-in-the-guide, #native-postgresql-and-repmgr describe.
 *
 * Order: every DB host prepares at once (packages, configuration: needs no other host); then
 * the initial primary joins, then the other data nodes and the witness(es) together (each needs
 * only the primary), then the postgres SSH key exchange between data nodes, then the
 * rolling restart (what a change left pending, one node at a time), then the EMS primary, then
 * the other EMS nodes. Only terraform_data resources: `terraform init && terraform plan` need no provider.
 */
import { TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { LiteralOutput } from "../constructs/literal-output";
import { ConfigError } from "../src/config/errors";
import type { Deployment } from "../src/config/schema";
import { guiChecklist } from "../src/render/checklist";
import { nativeMembers } from "../src/render/native/layout";
import type { EmsNode } from "../constructs/ems-node";
import { EmsCluster } from "../constructs/ems-cluster";
import { NativePgHaCluster } from "../constructs/native-pg-ha-cluster";
import type { NativePgNode, NativeWitnessNode } from "../constructs/native-node";
import type { NativeRollingRestart } from "../constructs/native-rolling-restart";
import type { NativeSshKeySync } from "../constructs/native-ssh-keys";
import { DeploymentSecrets } from "../constructs/secrets";

export class NativeSingleRegionStack extends TerraformStack {
  public readonly secrets: DeploymentSecrets;
  /** The DB nodes and the key exchange. */
  public readonly cluster: NativePgHaCluster;
  /** The EMS nodes, after the cluster. */
  public readonly ems: EmsCluster;
  /** Data nodes, the initial primary first (cluster.dataNodes). */
  public readonly dataNodes: NativePgNode[];
  /** cluster.witnesses */
  public readonly witnesses: NativeWitnessNode[];
  /** cluster.sshKeys */
  public readonly sshKeys: NativeSshKeySync;
  /** cluster.rollingRestart: restarts what a change left pending, one node at a time (docs/operations.md#rolling-changes). */
  public readonly rollingRestart: NativeRollingRestart;
  /** EMS nodes, the EMS primary first (ems.nodes). */
  public readonly emsNodes: EmsNode[];

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

    this.cluster = new NativePgHaCluster(this, { deployment: d, secrets: this.secrets });
    this.dataNodes = this.cluster.dataNodes;
    this.witnesses = this.cluster.witnesses;
    this.sshKeys = this.cluster.sshKeys;
    this.rollingRestart = this.cluster.rollingRestart;
    const dbHosts = this.dataNodes.map((n) => n.member.address);
    this.ems = new EmsCluster(this, { deployment: d, secrets: this.secrets, dependsOn: [this.cluster], dbHosts });
    this.emsNodes = this.ems.nodes;

    new LiteralOutput(this, "repmgr_nodes", {
      value: nativeMembers(d).map((m) => `${m.nodeId} ${m.name} ${m.role} ${m.address}`),
      description: "repmgr node id, name, role and address of every DB node",
    });
    new LiteralOutput(this, "gui_checklist", { value: guiChecklist(d), description: "EMS GUI steps to do by hand" });
  }
}
