/**
 * SshPgHaNode and SshWitnessNode: the "ssh" container engine (database.docker.engine = "ssh").
 * The same container as PgHaNode / WitnessNode (one ContainerSpec), created with the docker CLI
 * in two ordered RemoteScript steps (terraform_data over SSH: host key checked, the node's key,
 * `sudo -n` for a non-root user, a 0700 run directory in the user's home) instead of through the
 * docker provider, so no provider download is needed (air-gapped sites):
 *
 *   prepare   - the host preparation shared with the provider engine (constructs/docker-host-prepare.ts:
 *               Docker, conf.d/extra.conf, image tarball sha256 check + docker load); same construct
 *               id, address, name and triggers, so switching engines does not run it again;
 *   container - the data volume (created when missing, never removed) and the container
 *               (src/render/docker-cli.ts renderContainerScript), after prepare and after the
 *               containers this one depends on.
 *
 * The passwords are the step's one secret file, the env file: uploaded into the step's 0700
 * secrets/ directory, placed by the runner as root at the path the script reads (0600, in a 0700
 * directory), passed as --env-file, and removed after the run even when it fails (remote-script.ts).
 * Destroying a step leaves the container and its volume on the host (docs: "Container engines").
 */
import type { ITerraformDependable, Precondition, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import type { DbNodeConfig } from "../src/config/schema";
import { containerSpec, type ContainerSpec } from "../src/render/bitnami";
import { envFileContent, imageIdentity, renderContainerScript } from "../src/render/docker-cli";
import { dockerMembership } from "../src/render/docker-membership";
import { dependables, type IDeployStep } from "./deploy-step";
import { dockerHostPrepare } from "./docker-host-prepare";
import { resolveDbNode } from "./node-ref";
import type { PgHaNodeProps } from "./pg-ha-node";
import { RemoteScript } from "./remote-script";
import type { DeploymentSecrets } from "./secrets";

/** What the stacks need of a DB node, whichever engine runs its container. */
export interface DockerDbNode extends IDeployStep {
  /** The DB node as configured. */
  readonly dbNode: DbNodeConfig;
  /** Address other nodes and EMS use. */
  readonly address: string;
  /** The container's flags, derived from the cluster. */
  readonly spec: ContainerSpec;
  /** The step after which the container exists (in `done`). */
  readonly container: ITerraformDependable;
}

/** Props of the ssh-engine nodes: those of PgHaNode, without a docker provider. */
export type SshDockerNodeProps = Omit<PgHaNodeProps, "provider">;

/**
 * A plan-time check that the DB and repmgr passwords hold no line break: an env file gives one
 * variable per line, so a line break would end the value and start another variable.
 * The error message names the variables, never their values.
 */
export function passwordsWithoutLineBreaks(secrets: DeploymentSecrets): Precondition {
  const vars = [secrets.dbPassword, ...(secrets.repmgrPassword ? [secrets.repmgrPassword] : [])];
  // Written out (the variables' names are fixed, SECRET_VARIABLES): "unchanged once CR and LF are removed".
  const ok = (v: TerraformVariable) => `var.${v.friendlyUniqueId} == replace(var.${v.friendlyUniqueId}, "/[\\r\\n]/", "")`;
  return {
    condition: `\${${vars.map(ok).join(" && ")}}`,
    errorMessage: `${vars.map((v) => v.friendlyUniqueId).join(" and ")} must not contain line breaks (they are written to an env file, one variable per line).`,
  };
}

/** The node of a deployment (by object or name), with the role the construct expects. */
export function findDbNode(
  id: string,
  props: SshDockerNodeProps,
  expectedRole: DbNodeConfig["role"],
  classes: { data: string; witness: string },
): DbNodeConfig {
  const node = resolveDbNode(id, props.deployment, props);
  if (node.role !== expectedRole) {
    throw new Error(`${id}: node "${node.name}" has role "${node.role}"; use ${classes[node.role]} for it`);
  }
  return node;
}

abstract class SshBitnamiNode extends Construct implements DockerDbNode {
  public readonly dbNode: DbNodeConfig;
  public readonly address: string;
  public readonly spec: ContainerSpec;
  /** Host preparation (Docker, conf.d, image load): the provider engine's step. */
  public readonly prepare: RemoteScript;
  /** The volume and container step. */
  public readonly container: RemoteScript;
  /** The container step: the node is done once it has run. */
  public readonly done: ITerraformDependable[];
  /** The script the container step runs (no secrets in it). */
  public readonly script: string;
  /** The spec hash recorded on the container (label ems-ha.spec-sha256). */
  public readonly specHash: string;
  /** Host path of the env file the script reads (present only while the step runs). */
  public readonly envFile: string;

  protected constructor(scope: Construct, id: string, props: SshDockerNodeProps, expectedRole: DbNodeConfig["role"]) {
    super(scope, id);
    const d = props.deployment;
    const node = findDbNode(id, props, expectedRole, { data: "SshPgHaNode", witness: "SshWitnessNode" });
    this.dbNode = node;
    this.address = node.address;
    this.spec = containerSpec(d, node);

    // The same step as the provider engine's, so switching engines keeps it.
    this.prepare = dockerHostPrepare(this, d, node, this.spec);

    const rendered = renderContainerScript(this.spec, { image: imageIdentity(d), membership: dockerMembership(d, node) });
    this.script = rendered.script;
    this.specHash = rendered.specHash;
    this.envFile = rendered.envFile;
    const dbPassword = props.secrets.dbPassword.stringValue;
    const repmgrPassword = (props.secrets.repmgrPassword ?? props.secrets.dbPassword).stringValue;
    this.container = new RemoteScript(this, "container", {
      host: node,
      policy: d.ssh,
      name: `container-${this.spec.name}`,
      script: this.script,
      // Sensitive content: Terraform hides it (and that provisioner's output).
      secretFiles: [{ name: "env", content: envFileContent(this.spec, { dbPassword, repmgrPassword }), path: rendered.envFile }],
      // Password values are deliberately not here (docs: "Container engines"): a change of the spec,
      // the image or the host replaces the step; the script then decides what to do on the host.
      triggers: { host: node.address, name: this.spec.name, spec: this.specHash },
      timeout: "10m",
      lifecycle: { precondition: [passwordsWithoutLineBreaks(props.secrets)] },
      dependsOn: [this.prepare, ...dependables(props.dependsOn)],
    });
    this.done = [this.container];
  }
}

/** A data node of the ems-postgres-ha cluster, its container created by the ssh engine. */
export class SshPgHaNode extends SshBitnamiNode {
  constructor(scope: Construct, id: string, props: SshDockerNodeProps) {
    super(scope, id, props, "data");
  }
}

/** A witness of the ems-postgres-ha cluster, its container created by the ssh engine. */
export class SshWitnessNode extends SshBitnamiNode {
  constructor(scope: Construct, id: string, props: SshDockerNodeProps) {
    super(scope, id, props, "witness");
  }
}
