/**
 * How a DB node construct is told which node it is: the node object itself (`node`, one of
 * deployment.database.nodes) or its name (`nodeName`). Either way the node is the deployment's.
 */
import type { DbNodeConfig, Deployment } from "../src/config/schema";

export interface DbNodeRef {
  /** The node, one of deployment.database.nodes. @default the node named `nodeName` */
  readonly node?: DbNodeConfig;
  /** Name of the node in deployment.database.nodes (when `node` is not given). @default node.name */
  readonly nodeName?: string;
}

/** The deployment's node that `ref` names; errors name the value and the fix. */
export function resolveDbNode(id: string, d: Deployment, ref: DbNodeRef): DbNodeConfig {
  const names = d.database.nodes.map((n) => n.name);
  if (ref.node && ref.nodeName !== undefined && ref.node.name !== ref.nodeName) {
    throw new Error(`${id}: node "${ref.node.name}" and nodeName "${ref.nodeName}" differ; give only one of them`);
  }
  const name = ref.node?.name ?? ref.nodeName;
  if (name === undefined) throw new Error(`${id}: no node given; pass node (one of database.nodes) or nodeName (one of ${names.join(", ")})`);
  const node = d.database.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`${id}: nodeName "${name}" is not in database.nodes (${names.join(", ")}); use one of those`);
  return node;
}
