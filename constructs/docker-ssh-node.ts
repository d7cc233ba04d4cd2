/**
 * SshPgHaNode and SshWitnessNode: the "ssh" container engine (database.docker.engine = "ssh").
 * The same container as PgHaNode / WitnessNode (one ContainerSpec), created with the docker CLI
 * in two ordered terraform_data steps over SSH instead of through the docker provider, so no
 * provider download is needed (air-gapped sites):
 *
 *   prepare   - the host preparation shared with the provider engine (Docker, conf.d/extra.conf,
 *               image tarball sha256 check + docker load); same construct id and address;
 *   container - the data volume (created when missing, never removed) and the container
 *               (src/render/docker-cli.ts renderContainerScript), after prepare and after the
 *               containers this one depends on.
 *
 * The passwords go into a root-only env file (0600, created empty before Terraform writes the
 * sensitive content, in a 0700 directory) that the script passes as --env-file and removes.
 * Destroying a step leaves the container and its volume on the host (docs: "Container engines").
 */
import { DataResource, type ITerraformDependable, type Precondition, type TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { createHash } from "node:crypto";
import type { DbNodeConfig } from "../src/config/schema";
import { containerSpec, type ContainerSpec } from "../src/render/bitnami";
import { containerScriptPathOf, envFileContent, imageIdentity, renderContainerScript, SSH_ENGINE_SECRETS_DIR } from "../src/render/docker-cli";
import { renderHostPrepScript } from "../src/render/docker-host";
import { sshConnection, terraformLiteral } from "./connection";
import type { PgHaNodeProps } from "./pg-ha-node";
import type { DeploymentSecrets } from "./secrets";

/** What the stacks need of a DB node, whichever engine runs its container. */
export interface DockerDbNode {
  /** The DB node as configured. */
  readonly dbNode: DbNodeConfig;
  /** Address other nodes and EMS use. */
  readonly address: string;
  /** The container's flags, derived from the cluster. */
  readonly spec: ContainerSpec;
  /** The step after which the container exists; use it in dependsOn. */
  readonly container: ITerraformDependable;
}

/** Props of the ssh-engine nodes: those of PgHaNode, without a docker provider. */
export type SshDockerNodeProps = Omit<PgHaNodeProps, "provider">;

function sha(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

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

/** The node of a deployment by name, with the role the construct expects. */
export function findDbNode(id: string, props: SshDockerNodeProps, expectedRole: DbNodeConfig["role"], classes: { data: string; witness: string }): DbNodeConfig {
  const d = props.deployment;
  const node = d.database.nodes.find((n) => n.name === props.nodeName);
  if (!node) {
    throw new Error(`${id}: nodeName "${props.nodeName}" is not in database.nodes (${d.database.nodes.map((n) => n.name).join(", ")}); use one of those`);
  }
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
  public readonly prepare: DataResource;
  /** The volume and container step (terraform_data). */
  public readonly container: DataResource;
  /** The script the container step runs (no secrets in it). */
  public readonly script: string;
  /** The spec hash recorded on the container (label ems-ha.spec-sha256). */
  public readonly specHash: string;

  protected constructor(scope: Construct, id: string, props: SshDockerNodeProps, expectedRole: DbNodeConfig["role"]) {
    super(scope, id);
    const d = props.deployment;
    const node = findDbNode(id, props, expectedRole, { data: "SshPgHaNode", witness: "SshWitnessNode" });
    this.dbNode = node;
    this.address = node.address;
    this.spec = containerSpec(d, node);

    // The same step as the provider engine's (constructs/pg-ha-node.ts), so switching engines keeps it.
    const prepScript = renderHostPrepScript(d, node, this.spec.extraConf);
    const img = d.database.image;
    this.prepare = new DataResource(this, "prepare", {
      triggersReplace: {
        host: node.address,
        script: sha(prepScript),
        image: img.source.kind === "tarball" ? img.source.sha256 : `${this.spec.image}`,
      },
      connection: sshConnection(node, "10m"),
      provisioners: [
        { type: "file", content: terraformLiteral(prepScript), destination: "/root/ems-ha-prepare-host.sh" },
        { type: "remote-exec", inline: ["bash /root/ems-ha-prepare-host.sh"] },
      ],
    });

    const rendered = renderContainerScript(this.spec, { image: imageIdentity(d) });
    this.script = rendered.script;
    this.specHash = rendered.specHash;
    const dbPassword = props.secrets.dbPassword.stringValue;
    const repmgrPassword = (props.secrets.repmgrPassword ?? props.secrets.dbPassword).stringValue;
    const scriptPath = containerScriptPathOf(this.spec.name);
    this.container = new DataResource(this, "container", {
      // Password values are deliberately not here (docs: "Container engines"): a change of the spec,
      // the image or the host replaces the step; the script then decides what to do on the host.
      triggersReplace: { host: node.address, name: this.spec.name, spec: this.specHash },
      connection: sshConnection(node, "10m"),
      lifecycle: { precondition: [passwordsWithoutLineBreaks(props.secrets)] },
      provisioners: [
        // The env file exists empty with mode 0600 in a 0700 directory before Terraform writes to it
        // (scp keeps an existing file's mode).
        { type: "remote-exec", inline: [`install -d -m 700 ${SSH_ENGINE_SECRETS_DIR} && install -m 600 /dev/null ${rendered.envFile}`] },
        // Sensitive content: Terraform hides it (and this provisioner's output).
        { type: "file", content: envFileContent(this.spec, { dbPassword, repmgrPassword }), destination: rendered.envFile },
        { type: "file", content: terraformLiteral(this.script), destination: scriptPath },
        { type: "remote-exec", inline: [`bash ${scriptPath}`] },
      ],
      dependsOn: [this.prepare, ...(props.dependsOn ?? [])],
    });
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
