/** The EMS nodes of a stack, in the guide's order: the first after the database, the others after the first. */
import type { ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import { EmsNode } from "./ems-node";
import type { DeploymentSecrets } from "./secrets";
import type { Deployment } from "../src/config/schema";

export interface EmsChainProps {
  readonly deployment: Deployment;
  readonly secrets: DeploymentSecrets;
  /** What the EMS primary waits for (the database being ready). */
  readonly afterDatabase: ITerraformDependable[];
  /** --db_host list. @default every data node */
  readonly dbHosts?: ReadonlyArray<string>;
}

export function buildEmsChain(scope: Construct, props: EmsChainProps): EmsNode[] {
  const nodes: EmsNode[] = [];
  props.deployment.emsNodes.forEach((node, i) => {
    nodes.push(
      new EmsNode(scope, node.name, {
        deployment: props.deployment,
        node,
        primary: i === 0,
        secrets: props.secrets,
        dbHosts: props.dbHosts,
        dependsOn: i === 0 ? props.afterDatabase : [nodes[0]!.resource],
      }),
    );
  });
  return nodes;
}
