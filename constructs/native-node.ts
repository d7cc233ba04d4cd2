/**
 * NativePgNode and NativeWitnessNode: PostgreSQL 15 + repmgr installed and configured natively
 * (no Docker) on one host, by a terraform_data whose provisioners upload the node's setup
 * script and its secrets over SSH and run the script as root.
 *
 * The resource is replaced (the script re-runs) only when what it would do changes: its
 * triggers hold the script's sha256, so a re-apply of an unchanged deployment does nothing.
 * The script itself is idempotent, so a re-run on a healthy node changes nothing either.
 * Secret values are not in the triggers: after rotating one, re-run with
 * `terraform apply -replace=<address>` (docs/topologies/native-single-region.md).
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { Deployment } from "../src/config/schema";
import { dependables, type Dependency, type IDeployStep } from "./deploy-step";
import { resolveDbNode, type DbNodeRef } from "./node-ref";
import { memberByName, nativeLayout, nativeSettings, type NativeMember } from "../src/render/native/layout";
import { renderSetupScript, secretsFor, sha256 } from "../src/render/native/setup-script";
import { RemoteScript } from "./remote-script";
import type { DeploymentSecrets } from "./secrets";

export interface NativeNodeProps extends DbNodeRef {
  /** The validated deployment (topology native-single-region). */
  readonly deployment: Deployment;
  /** The sensitive variables the script needs (db_password, repmgr_password, symmetric_key). */
  readonly secrets: DeploymentSecrets;
  /** What must be set up before this node joins (the initial primary's node construct). @default none */
  readonly dependsOn?: ReadonlyArray<Dependency>;
}

/** The `sudo ` prefix for a login user other than root. */
export function sudoPrefix(user: string): string {
  return user === "root" ? "" : "sudo -n ";
}

abstract class NativeDbNode extends Construct implements IDeployStep {
  /** The node as the native topology sees it (repmgr node id, order, role). */
  public readonly member: NativeMember;
  /** The setup script the node runs (no secret in it). */
  public readonly script: string;
  /** The host preparation (`native-setup.sh --prepare`), run on every node at once. */
  public readonly prepare: RemoteScript;
  /** The terraform_data that joins the node to the cluster (clone, register, repmgrd). */
  public readonly resource: RemoteScript;
  /** The join step: the node is done once it has run. */
  public readonly done: ITerraformDependable[];

  protected constructor(scope: Construct, id: string, props: NativeNodeProps, role: NativeMember["role"]) {
    super(scope, id);
    const d = props.deployment;
    const nodeName = resolveDbNode(id, d, props).name;
    this.member = memberByName(d, nodeName);
    if (this.member.role !== role) {
      throw new Error(
        `${id}: node "${nodeName}" has role "${this.member.role}"; use ${this.member.role === "data" ? "NativePgNode" : "NativeWitnessNode"} for it`,
      );
    }
    const settings = nativeSettings(d);
    const l = nativeLayout(settings.pgVersion);
    this.script = renderSetupScript(d, this.member);
    const ext = role === "data" ? settings.extensions : undefined;
    const common = {
      host: this.member.config,
      policy: d.ssh,
      script: this.script,
      // The script reads each secret from the secret directory and deletes it; the runner removes them too, even on failure.
      secretFiles: secretsFor(this.member).map((name) => ({ name, content: secretValue(props.secrets, name), path: `${l.secretDir}/${name}` })),
      uploads: ext ? [{ source: ext.path, destination: l.extensionsUpload, sha256: ext.sha256 }] : [],
      // The key exchange and the reconciliation service call the installed script later.
      installAs: l.setupScript,
      triggers: {
        node: this.member.name,
        address: this.member.address,
        node_id: String(this.member.nodeId),
        role: this.member.role,
        script_sha256: sha256(this.script),
        extensions_sha256: ext?.sha256 ?? "",
      },
      timeout: "5m",
    };
    // Packages, cluster, configuration files, services' scripts: needs no other host, so every
    // node prepares at once (no dependsOn). Only the join below waits for the previous node.
    this.prepare = new RemoteScript(this, "prepare", { ...common, name: "native-prepare", args: ["--prepare"] });
    this.resource = new RemoteScript(this, "setup", { ...common, name: "native-setup", dependsOn: [this.prepare, ...dependables(props.dependsOn)] });
    this.done = [this.resource];
  }
}

function secretValue(secrets: DeploymentSecrets, name: string): string {
  const v =
    name === "db_password"
      ? secrets.dbPassword
      : name === "repmgr_password"
        ? secrets.repmgrPassword
        : name === "symmetric_key"
          ? secrets.symmetricKey
          : undefined;
  if (!v)
    throw new Error(`the native topology needs the sensitive variable ${name}: create DeploymentSecrets with { symmetricKey: true, repmgrPassword: true }`);
  return v.stringValue;
}

/** A data node: starts as primary (the initial primary) or is cloned as a standby. */
export class NativePgNode extends NativeDbNode {
  constructor(scope: Construct, id: string, props: NativeNodeProps) {
    super(scope, id, props, "data");
  }
}

/** The witness: a PostgreSQL cluster of its own that only votes. */
export class NativeWitnessNode extends NativeDbNode {
  constructor(scope: Construct, id: string, props: NativeNodeProps) {
    super(scope, id, props, "witness");
  }
}
