/**
 * The engine switch of the Docker topologies: one DB node's container through the docker provider
 * (PgHaNode / WitnessNode) or through the docker CLI over SSH (SshPgHaNode / SshWitnessNode),
 * as database.docker.engine says. Both take the same ContainerSpec.
 */
import type { Construct } from "constructs";
import { PgHaNode, WitnessNode, type PgHaNodeProps } from "./pg-ha-node";
import { SshPgHaNode, SshWitnessNode, type DockerDbNode } from "./docker-ssh-node";
import { resolveDbNode } from "./node-ref";

export type { DockerDbNode } from "./docker-ssh-node";

/** The DB node `props.node` (or `props.nodeName`) with the engine of `props.deployment.database.docker.engine`. */
export function dockerDbNode(scope: Construct, id: string, props: PgHaNodeProps): DockerDbNode {
  const d = props.deployment;
  const witness = resolveDbNode(id, d, props).role === "witness";
  if (d.database.docker.engine === "ssh") {
    if (props.provider)
      throw new Error(`${id}: a docker provider was given, but database.docker.engine is "ssh" (no provider); drop the provider or use engine "provider"`);
    return witness ? new SshWitnessNode(scope, id, props) : new SshPgHaNode(scope, id, props);
  }
  return witness ? new WitnessNode(scope, id, props) : new PgHaNode(scope, id, props);
}
