/**
 * DockerPgHaCluster: the ems-postgres-ha cluster of the Docker topologies (single-region,
 * geo-redundant) in the guide's order: the initial primary, then the other data nodes, then the
 * witnesses, then a bounded wait until the primary accepts writes (PrimaryReady). Each node's
 * container engine follows database.docker.engine (dockerDbNode).
 *
 * A composite, not a construct of its own: it adds its constructs into the scope it is given,
 * with fixed ids (each node's name, and "primary-ready"), and adds no level to the construct
 * tree. Terraform addresses derive from the construct path, so wrapping the nodes in a construct
 * would have renamed every resource (Terraform would destroy and recreate the containers).
 * Adding into the given scope keeps every address the stacks had before the class existed,
 * without overriding logical ids; test/constructs/construct-ids.test.ts pins them.
 * See docs/library.md, "Composites".
 */
import type { ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import { dataNodes, initialPrimary, witnessNodes } from "../src/config/derive";
import type { Deployment } from "../src/config/schema";
import type { Dependency, IDeployStep } from "./deploy-step";
import { dockerDbNode, type DockerDbNode } from "./docker-db-node";
import { dockerReconcileService, type DockerReconcileService } from "./docker-reconcile";
import { PrimaryReady } from "./primary-ready";
import type { DeploymentSecrets } from "./secrets";

export interface DockerPgHaClusterProps {
  /** The validated deployment: every entry of database.nodes becomes a node. */
  readonly deployment: Deployment;
  /** Supplies db_password and repmgr_password. */
  readonly secrets: DeploymentSecrets;
  /** What must be done before the initial primary's container starts. @default none */
  readonly dependsOn?: ReadonlyArray<Dependency>;
}

export class DockerPgHaCluster implements IDeployStep {
  /** The initial primary (also dataNodes[0]). */
  public readonly primary: DockerDbNode;
  /** Data nodes, the initial primary first: PgHaNode (engine "provider") or SshPgHaNode (engine "ssh"). */
  public readonly dataNodes: DockerDbNode[];
  /** WitnessNode or SshWitnessNode. */
  public readonly witnesses: DockerDbNode[];
  /** The wait until the primary accepts writes. */
  public readonly primaryReady: PrimaryReady;
  /** The reconciliation service on every DB host, each a child "reconcile" of its node, after its container (docs/reliability.md). */
  public readonly reconcile: DockerReconcileService[];
  /** The primary-ready wait: the cluster is done once its primary accepts writes. */
  public readonly done: ITerraformDependable[];

  /** Adds the nodes and the wait into `scope` (no construct of its own: see the file comment). */
  constructor(scope: Construct, props: DockerPgHaClusterProps) {
    const d = props.deployment;
    const secrets = props.secrets;
    const primaryCfg = initialPrimary(d);
    this.primary = dockerDbNode(scope, primaryCfg.name, { deployment: d, node: primaryCfg, secrets, dependsOn: props.dependsOn });
    // One container step after the other (docs/operations.md, "Rolling changes"): a change that
    // replaces every DB container never has two DB nodes away at once. The initial primary first,
    // then the other data nodes, then the witnesses.
    this.dataNodes = [this.primary];
    this.witnesses = [];
    let previous: DockerDbNode = this.primary;
    for (const node of [...dataNodes(d), ...witnessNodes(d)]) {
      if (node.name === primaryCfg.name) continue;
      previous = dockerDbNode(scope, node.name, { deployment: d, node, secrets, dependsOn: [previous] });
      (node.role === "data" ? this.dataNodes : this.witnesses).push(previous);
    }
    this.primaryReady = new PrimaryReady(scope, "primary-ready", {
      primary: primaryCfg,
      port: d.database.port,
      user: d.database.user,
      dataNodes: dataNodes(d).map((n) => n.name),
      dependsOn: this.nodes,
      policy: d.ssh,
    });
    this.reconcile = this.nodes.map((n) => dockerReconcileService(n, d));
    this.done = this.primaryReady.done;
  }

  /** Every DB node: the data nodes, then the witnesses. */
  public get nodes(): DockerDbNode[] {
    return [...this.dataNodes, ...this.witnesses];
  }
}
