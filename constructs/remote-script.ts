/**
 * RemoteScript: "upload this script (and these secret files) over SSH and run it", the one way
 * every stack runs a step on a host. A terraform_data (Terraform's built-in, no provider) whose
 * provisioners:
 *
 * 1. create the step's directory in the login user's home, `~/.ems-ha/run/<name>/` (0700, any
 *    previous run's leftovers removed), with `secrets/` and `files/` inside;
 * 2. upload the script, a small runner, the secret files (into `secrets/`, 0700 directory) and
 *    the local files (installer, extensions tarball) into it;
 * 3. run the runner, with `sudo -n` when the login user is not root. The runner, as root, places
 *    each secret and file where the script expects it (root-owned), runs the script, and on exit
 *    (success or failure) removes the secrets it placed and the uploaded ones.
 *
 * The connection verifies the host key when one is pinned and authenticates with the node's key
 * (constructs/connection.ts). The resource is replaced (the step re-runs) when its triggers
 * change: the caller's, plus the sha256 of the script, of the runner and of each uploaded file,
 * so a re-apply of an unchanged deployment does nothing. Secret values are never in the
 * triggers, the script or the command lines; Terraform hides the output of the provisioners that
 * carry them. Scripts and runner are Terraform-escaped (terraformLiteral).
 *
 * RemoteScript is itself the terraform_data, so a construct that replaces its own terraform_data
 * with one keeps the same id and Terraform address.
 */
import { DataResource, type FileProvisioner, type ITerraformDependable, type RemoteExecProvisioner, type TerraformResourceLifecycle } from "cdktf";
import type { Construct } from "constructs";
import { createHash } from "node:crypto";
import { absoluteLocalPath } from "../src/config/local-files";
import type { SshPolicy } from "../src/config/schema";
import { shellQuote } from "../src/render/shell-quote";
import { sshConnection, terraformLiteral, type SshHost } from "./connection";
import { dependablesOrNone, type Dependency, type IDeployStep } from "./deploy-step";

/** The directory of all steps, relative to the login user's home (scp and the ssh session start there). */
export const REMOTE_RUN_ROOT = ".ems-ha/run";

export interface RemoteSecretFile {
  /** File name in the step's secrets/ directory (letters, digits, '.', '_', '-'). */
  readonly name: string;
  /** The value: a sensitive variable's `stringValue` (or an expression built from one). */
  readonly content: string;
  /** Absolute path where the script expects it (root-owned, 0600, removed after the run). @default only in the step's secrets/ directory */
  readonly path?: string;
}

export interface RemoteUpload {
  /** Path of the file on the machine running Terraform (made absolute at synth). */
  readonly source: string;
  /** Absolute path on the host; the file ends up root-owned, mode 0644. */
  readonly destination: string;
  /** sha256 of the file: a new file re-runs the step. */
  readonly sha256?: string;
}

export interface RemoteScriptProps {
  /** The host and its SSH settings. */
  readonly host: SshHost;
  /** The deployment's host key settings (its `ssh`). @default keys from host.ssh.hostKey only */
  readonly policy?: SshPolicy;
  /** Name of the step, unique per host: its directory ~/.ems-ha/run/<name>/. */
  readonly name: string;
  /** The bash script to run (as root). No secret in it. */
  readonly script: string;
  /** Arguments to the script. @default none */
  readonly args?: ReadonlyArray<string>;
  /** Secret files, uploaded into the step's 0700 secrets/ directory. @default none */
  readonly secretFiles?: ReadonlyArray<RemoteSecretFile>;
  /** Local files to upload (installer, extensions). @default none */
  readonly uploads?: ReadonlyArray<RemoteUpload>;
  /** Also install the script at this absolute path (root, 0700), for later steps that call it. @default not installed */
  readonly installAs?: string;
  /** What else re-runs the step when it changes (host, role, ...). @default none */
  readonly triggers?: Readonly<Record<string, string>>;
  /** Terraform's SSH connection timeout. @default "5m" */
  readonly timeout?: string;
  /** Run with `sudo -n` (passwordless sudo). @default true when the login user is not root */
  readonly sudo?: boolean;
  /** What must run first. @default none */
  readonly dependsOn?: ReadonlyArray<Dependency>;
  /** Terraform lifecycle settings (e.g. preconditions on the secrets). @default none */
  readonly lifecycle?: TerraformResourceLifecycle;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

const NAME = /^[A-Za-z0-9._-]+$/;

/** The runner: as root, places secrets and files, runs the script, always removes the secrets. */
export function renderRunner(props: Pick<RemoteScriptProps, "args" | "secretFiles" | "uploads" | "installAs">): string {
  const q = shellQuote;
  const placed = (props.secretFiles ?? []).filter((s) => s.path).map((s) => q(s.path!));
  const lines = [
    "#!/usr/bin/env bash",
    "# ems-ha: runs this step's script as root, then removes its secrets (even when the script fails). Generated; do not edit.",
    "set -euo pipefail",
    "umask 077",
    'here="$(cd "$(dirname "$0")" && pwd)"',
    `cleanup() { rm -rf "$here/secrets" "$here/files"${placed.length ? ` ${placed.join(" ")}` : ""}; }`,
    "trap cleanup EXIT",
    "# Creates a directory that does not exist yet; an existing one (/etc, /opt, ...) keeps its owner and mode.",
    'newdir() { [ -d "$2" ] || install -d -m "$1" "$2"; }',
  ];
  for (const s of props.secretFiles ?? []) {
    if (!s.path) continue;
    lines.push(`newdir 0700 ${q(s.path.replace(/\/[^/]*$/, "") || "/")}`, `install -m 0600 "$here/secrets/"${q(s.name)} ${q(s.path)}`);
  }
  (props.uploads ?? []).forEach((u, i) => {
    const dir = u.destination.replace(/\/[^/]*$/, "") || "/";
    lines.push(`newdir 0755 ${q(dir)}`, `mv -f "$here/files/${i}" ${q(u.destination)}`, `chown 0:0 ${q(u.destination)}`, `chmod 0644 ${q(u.destination)}`);
  });
  if (props.installAs) {
    const dir = props.installAs.replace(/\/[^/]*$/, "") || "/";
    lines.push(`newdir 0755 ${q(dir)}`, `install -m 0700 -o 0 -g 0 "$here/script.sh" ${q(props.installAs)}`);
  }
  lines.push(`EMS_HA_SECRETS="$here/secrets" bash "$here/script.sh"${(props.args ?? []).map((a) => ` ${q(a)}`).join("")}`);
  return `${lines.join("\n")}\n`;
}

export class RemoteScript extends DataResource implements IDeployStep {
  /** The script the step runs (no secret in it). */
  public readonly script: string;
  /** The runner that wraps it. */
  public readonly runner: string;
  /** The step's directory, relative to the login user's home. */
  public readonly runDir: string;

  constructor(scope: Construct, id: string, props: RemoteScriptProps) {
    if (!NAME.test(props.name)) throw new Error(`${id}: RemoteScript name "${props.name}" must be letters, digits, '.', '_' or '-'`);
    for (const s of props.secretFiles ?? []) {
      if (!NAME.test(s.name)) throw new Error(`${id}: secret file name "${s.name}" must be letters, digits, '.', '_' or '-'`);
      if (s.path && !s.path.startsWith("/")) throw new Error(`${id}: secret file path "${s.path}" must be absolute`);
    }
    for (const u of props.uploads ?? []) if (!u.destination.startsWith("/")) throw new Error(`${id}: upload destination "${u.destination}" must be absolute`);
    if (props.installAs && !props.installAs.startsWith("/")) throw new Error(`${id}: installAs "${props.installAs}" must be absolute`);

    const runDir = `${REMOTE_RUN_ROOT}/${props.name}`;
    const runner = renderRunner(props);
    const sudo = (props.sudo ?? props.host.ssh.user !== "root") ? "sudo -n " : "";
    const uploads = (props.uploads ?? []).map((u) => ({ ...u, source: absoluteLocalPath(u.source) }));

    const provisioners: Array<FileProvisioner | RemoteExecProvisioner> = [
      {
        type: "remote-exec",
        inline: [
          // A previous run's directory may hold files root left behind: remove it as root when sudo is used.
          `umask 077 && mkdir -p ${REMOTE_RUN_ROOT} && chmod 700 .ems-ha ${REMOTE_RUN_ROOT} && ${sudo}rm -rf ${runDir} && mkdir -m 700 ${runDir} ${runDir}/secrets ${runDir}/files`,
        ],
      },
      { type: "file", content: terraformLiteral(props.script), destination: `${runDir}/script.sh` },
      { type: "file", content: terraformLiteral(runner), destination: `${runDir}/run.sh` },
    ];
    for (const s of props.secretFiles ?? []) {
      // Terraform suppresses this provisioner's output (its content is sensitive); it prints nothing anyway.
      provisioners.push({ type: "file", content: s.content, destination: `${runDir}/secrets/${s.name}` });
    }
    uploads.forEach((u, i) => provisioners.push({ type: "file", source: u.source, destination: `${runDir}/files/${i}` }));
    provisioners.push({ type: "remote-exec", inline: [`${sudo}bash ${runDir}/run.sh`] });

    super(scope, id, {
      triggersReplace: {
        ...props.triggers,
        content_sha256: sha256([props.script, runner, ...uploads.map((u) => `${u.destination} ${u.sha256 ?? u.source}`)].join("\u0000")),
      },
      connection: sshConnection(props.host, props.timeout ?? "5m", props.policy),
      provisioners,
      dependsOn: dependablesOrNone(props.dependsOn),
      lifecycle: props.lifecycle,
    });
    this.script = props.script;
    this.runner = runner;
    this.runDir = runDir;
  }

  /** The step itself. */
  public get done(): ITerraformDependable[] {
    return [this];
  }
}
