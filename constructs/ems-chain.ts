/** The EMS nodes of a stack as a function: kept for compatibility; EmsCluster is the construct. */
import type { ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import { EmsCluster } from "./ems-cluster";
import type { EmsNode } from "./ems-node";
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

/** @deprecated use `new EmsCluster(scope, { deployment, secrets, dependsOn, dbHosts }).nodes`. */
export function buildEmsChain(scope: Construct, props: EmsChainProps): EmsNode[] {
  return new EmsCluster(scope, { deployment: props.deployment, secrets: props.secrets, dependsOn: props.afterDatabase, dbHosts: props.dbHosts }).nodes;
}
