/**
 * DockerReconcileService: installs the reconciliation service (src/render/docker-reconcile.ts)
 * on a Docker DB host, as a step (RemoteScript, construct id "reconcile" under the node) after
 * the node's container. The service runs on the host and acts on the container with the docker
 * CLI, so it is the same for both container engines (docker provider or ssh). Re-runs when the
 * script, the unit or the host change; an unchanged re-apply does nothing.
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { DbNodeConfig, Deployment } from "../src/config/schema";
import { renderDockerReconcileInstallScript } from "../src/render/docker-reconcile";
import type { DockerDbNode } from "./docker-ssh-node";
import { RemoteScript } from "./remote-script";

export interface DockerReconcileServiceProps {
  /** The deployment (single-region or geo-redundant). */
  readonly deployment: Deployment;
  /** The DB node whose host gets the service. */
  readonly node: DbNodeConfig;
  /** Steps to run after (the node's container). @default none */
  readonly dependsOn?: ITerraformDependable[];
}

/** The install step of one DB host's reconciliation service. */
export class DockerReconcileService extends RemoteScript {
  constructor(scope: Construct, id: string, props: DockerReconcileServiceProps) {
    const d = props.deployment;
    super(scope, id, {
      host: props.node,
      policy: d.ssh,
      name: "reconcile-service",
      script: renderDockerReconcileInstallScript(d, props.node),
      triggers: { host: props.node.address },
      timeout: "5m",
      dependsOn: props.dependsOn,
    });
  }
}

/** The service of a Docker DB node, as a child "reconcile" of the node's construct, after its container. */
export function dockerReconcileService(node: DockerDbNode, d: Deployment): DockerReconcileService {
  if (!(node instanceof Construct)) throw new Error(`DB node ${node.dbNode.name}: not a construct; the reconciliation service is added under the node`);
  return new DockerReconcileService(node, "reconcile", { deployment: d, node: node.dbNode, dependsOn: [node.container] });
}
