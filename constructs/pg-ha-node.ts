/**
 * PgHaNode and WitnessNode: one ems-postgres-ha container per DB host, through a docker
 * provider that reaches the host over SSH (ssh://user@address:port).
 *
 * Per host: the provider, a host preparation step (conf.d/extra.conf from PGTune for data
 * nodes, the image loaded from a tarball keyed on its sha256, or pulled), a named data volume
 * that is never destroyed by Terraform (prevent_destroy), and the container with the guide's
 * flags, all derived from the cluster description.
 */
import { Container } from "@cdktf/provider-docker/lib/container";
import { Image } from "@cdktf/provider-docker/lib/image";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { dependables, type Dependency, type IDeployStep } from "./deploy-step";
import { resolveDbNode, type DbNodeRef } from "./node-ref";
import type { DbNodeConfig, Deployment } from "../src/config/schema";
import { containerSpec, type ContainerSpec } from "../src/render/bitnami";
import { dockerSshOpts } from "./connection";
import { dockerHostPrepare } from "./docker-host-prepare";
import type { RemoteScript } from "./remote-script";
import type { DeploymentSecrets } from "./secrets";

/** How DB containers stop (src/render/bitnami.ts): SIGINT, PostgreSQL's fast shutdown, with 120 s of grace. */
export { DB_STOP_GRACE_SECONDS, DB_STOP_SIGNAL } from "../src/render/bitnami";
import { DB_STOP_GRACE_SECONDS, DB_STOP_SIGNAL } from "../src/render/bitnami";

export interface PgHaNodeProps extends DbNodeRef {
  /** The validated deployment (the cluster this node belongs to). */
  readonly deployment: Deployment;
  /** Passwords (sensitive variables). */
  readonly secrets: DeploymentSecrets;
  /** What must exist before this node's container starts (e.g. the primary node construct). @default none */
  readonly dependsOn?: ReadonlyArray<Dependency>;
  /**
   * A docker provider of your own for this host.
   * @default a provider for ssh://user@address:port, aliased after the node name
   */
  readonly provider?: DockerProvider;
}

/** The docker provider URL of a host. */
export function dockerHostUrl(node: DbNodeConfig): string {
  return `ssh://${node.ssh.user}@${node.address}:${node.ssh.port}`;
}

/** Shared by PgHaNode and WitnessNode. */
abstract class BitnamiNode extends Construct implements IDeployStep {
  /** The DB node as configured. */
  public readonly dbNode: DbNodeConfig;
  /** Address other nodes and EMS use. */
  public readonly address: string;
  /** The container's flags, derived from the cluster. */
  public readonly spec: ContainerSpec;
  public readonly provider: DockerProvider;
  /** Host preparation (Docker, conf.d, image load); everything that talks to the engine depends on it. */
  public readonly prepare: RemoteScript;
  public readonly image: Image;
  /** The data volume; Terraform refuses to destroy it. */
  public readonly volume: Volume;
  /** The container (its attributes: name, id, ...). */
  public readonly container: Container;
  /** The container: the node is done once it exists. */
  public readonly done: ITerraformDependable[];

  protected constructor(scope: Construct, id: string, props: PgHaNodeProps, expectedRole: DbNodeConfig["role"]) {
    super(scope, id);
    const d = props.deployment;
    const node = resolveDbNode(id, d, props);
    if (node.role !== expectedRole) {
      throw new Error(`${id}: node "${node.name}" has role "${node.role}"; use ${node.role === "witness" ? "WitnessNode" : "PgHaNode"} for it`);
    }
    this.dbNode = node;
    this.address = node.address;
    this.spec = containerSpec(d, node);

    // The node's key, and the pinned host key with strict checking when there is one (connection.ts).
    const sshOpts = dockerSshOpts(this, node, d.ssh);
    // The daemon check is off so that a plan works before the prepare step has installed Docker.
    this.provider =
      props.provider ??
      new DockerProvider(this, "provider", {
        alias: node.name.replace(/[^A-Za-z0-9_]/g, "_"),
        host: dockerHostUrl(node),
        sshOpts,
        disableDockerDaemonCheck: true,
      });

    // The same step as the ssh engine's (constructs/docker-host-prepare.ts).
    this.prepare = dockerHostPrepare(this, d, node, this.spec);

    this.image = new Image(this, "image", {
      provider: this.provider,
      name: this.spec.image,
      keepLocally: true,
      dependsOn: [this.prepare],
    });

    // Creating a volume talks to the engine: it waits for the step that installs Docker.
    this.volume = new Volume(this, "data", {
      provider: this.provider,
      name: this.spec.volumes[0]!.volumeName!,
      lifecycle: { preventDestroy: true },
      dependsOn: [this.prepare],
    });

    const secretEnv = this.spec.secretEnv.map(
      (s) => `${s.name}=${(s.secret === "dbPassword" ? props.secrets.dbPassword : (props.secrets.repmgrPassword ?? props.secrets.dbPassword)).stringValue}`,
    );
    this.container = new Container(this, "container", {
      provider: this.provider,
      name: this.spec.name,
      image: this.image.imageId,
      restart: this.spec.restart,
      // false: a container an operator stopped on purpose (docs/operations.md) stays stopped; a
      // refresh does not treat it as failed and recreate it. The restart policy still restarts it after a crash or reboot.
      mustRun: false,
      // PostgreSQL shuts down cleanly (fast shutdown) instead of being killed when the container is stopped or replaced.
      stopSignal: DB_STOP_SIGNAL,
      stopTimeout: DB_STOP_GRACE_SECONDS,
      destroyGraceSeconds: DB_STOP_GRACE_SECONDS,
      env: [...secretEnv, ...this.spec.env.map(([k, v]) => `${k}=${v}`)],
      ports: this.spec.ports.map((p) => ({ internal: p.internal, external: p.external })),
      volumes: this.spec.volumes.map((v) =>
        v.volumeName ? { volumeName: this.volume.name, containerPath: v.containerPath } : { hostPath: v.hostPath, containerPath: v.containerPath },
      ),
      host: this.spec.hosts.map((h) => ({ host: h.host, ip: h.ip })),
      shmSize: this.spec.shmSizeMb,
      // Dead connections into an unreachable location fail within ~25 s (src/render/bitnami.ts DB_CONTAINER_SYSCTLS).
      sysctls: Object.fromEntries(this.spec.sysctls),
      // Rotated logs (database.docker.logs); without them the daemon's own configuration.
      ...(this.spec.logs ? { logDriver: this.spec.logs.driver, logOpts: Object.fromEntries(this.spec.logs.options) } : {}),
      // The daemon adds its daemon.json log-opts to a container's own when the drivers match, and
      // the provider reads them back: without this, each plan would replace every DB container at once
      // (docs/topologies/single-region.md, "Container logs").
      lifecycle: { ignoreChanges: ["log_opts"] },
      dependsOn: [this.prepare, ...dependables(props.dependsOn)],
    });
    this.done = [this.container];
  }
}

/** A data node of the ems-postgres-ha cluster (holds a copy of the database). */
export class PgHaNode extends BitnamiNode {
  constructor(scope: Construct, id: string, props: PgHaNodeProps) {
    super(scope, id, props, "data");
  }
}

/** A witness of the ems-postgres-ha cluster (votes in elections, holds no data). */
export class WitnessNode extends BitnamiNode {
  constructor(scope: Construct, id: string, props: PgHaNodeProps) {
    super(scope, id, props, "witness");
  }
}
