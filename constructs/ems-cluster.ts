/**
 * EmsCluster: the EMS nodes of a deployment in the guide's order: the first (the EMS primary,
 * which deploys the EMS database) after the database, the others (--skip_db_deploy) after it.
 *
 * A composite, not a construct of its own: it adds one EmsNode per deployment.emsNodes entry
 * into the scope it is given, with the node's name as construct id, and adds no level to the
 * construct tree. Terraform addresses derive from the construct path, so the nodes keep the
 * addresses they had when the stacks created them one by one (`terraform_data.ems-1_install_...`);
 * see docs/library.md, "Composites".
 */
import type { ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import type { Deployment } from "../src/config/schema";
import { dependables, type Dependency, type IDeployStep } from "./deploy-step";
import { EmsNode } from "./ems-node";
import type { DeploymentSecrets } from "./secrets";

export interface EmsClusterProps {
  /** The validated deployment; one EmsNode per emsNodes entry, the first is the EMS primary. */
  readonly deployment: Deployment;
  /** Supplies db_password. */
  readonly secrets: DeploymentSecrets;
  /** What the EMS primary waits for: the database being ready (a DockerPgHaCluster, a DbReachable, ...). */
  readonly dependsOn: ReadonlyArray<Dependency>;
  /** --db_host list. @default every data node's address */
  readonly dbHosts?: ReadonlyArray<string>;
}

export class EmsCluster implements IDeployStep {
  /** The EMS nodes, the EMS primary first. */
  public readonly nodes: EmsNode[] = [];
  /** Every node's install step. */
  public readonly done: ITerraformDependable[];

  /** Adds the nodes into `scope` (no construct of its own: see the file comment). */
  constructor(scope: Construct, props: EmsClusterProps) {
    const d = props.deployment;
    d.emsNodes.forEach((node, i) => {
      this.nodes.push(
        new EmsNode(scope, node.name, {
          deployment: d,
          node,
          primary: i === 0,
          secrets: props.secrets,
          dbHosts: props.dbHosts,
          dependsOn: i === 0 ? props.dependsOn : [this.nodes[0]!],
        }),
      );
    });
    this.done = dependables(this.nodes);
  }

  /** The EMS primary (the first node). */
  public get primary(): EmsNode {
    return this.nodes[0]!;
  }
}
