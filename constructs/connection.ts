/**
 * How the stacks reach a host over SSH: Terraform's `connection` block for provisioners, and the
 * known_hosts file and ssh options the docker provider's `ssh://` host uses.
 *
 * Host keys (docs/configuration.md, "Host keys"): a host's key is its `ssh.hostKey`, else the
 * entry for it in the deployment's `ssh.knownHostsFile`. With a key, every provisioner
 * connection carries `host_key` (Terraform then refuses any other key) and the docker provider
 * runs ssh with `UserKnownHostsFile=<a file holding that key> StrictHostKeyChecking=yes`.
 * Without one, Terraform's provisioners accept any host key and the docker provider falls back
 * to ~/.ssh/known_hosts; `ems-ha check` warns (rule ssh-host-key-unverified), and
 * `ssh.strictHostKeys: true` makes it an error.
 */
import { App, Fn, Token, type SSHProvisionerConnection } from "cdktf";
import type { Construct } from "constructs";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { absoluteLocalPath } from "../src/config/local-files";
import type { SshPolicy, SshSettings } from "../src/config/schema";
import { pinnedHostKey } from "../src/config/host-keys";
import { hostEntryName } from "../src/ops/known-hosts";

export interface SshHost {
  readonly name?: string;
  readonly address: string;
  readonly ssh: SshSettings;
}

/** The host's pinned key (`type base64`): ssh.hostKey, else its entry in the policy's known_hosts file. */
export function hostKeyFor(host: SshHost, policy?: SshPolicy): string | undefined {
  return pinnedHostKey(host, policy);
}

/**
 * The connection for provisioners: the node's private key when configured (otherwise Terraform
 * uses the ssh agent only, and fails without one: `ems-ha check` warns, rule ssh-agent-required),
 * and `host_key` when the host's key is pinned.
 *
 * Terraform evaluates a connection's file() during plan and fails when the key file is missing,
 * so the key is read only when it exists (fileexists ? file : null); the synth step has already
 * refused a missing key (unless EMS_HA_OFFLINE_FILES=1).
 */
export function sshConnection(host: SshHost, timeout = "5m", policy?: SshPolicy): SSHProvisionerConnection {
  const hostKey = hostKeyFor(host, policy);
  return {
    type: "ssh",
    host: host.address,
    user: host.ssh.user,
    port: host.ssh.port,
    timeout,
    ...(host.ssh.privateKeyPath ? { privateKey: privateKeyExpression(host.ssh.privateKeyPath) } : {}),
    ...(hostKey ? { hostKey } : {}),
  };
}

/** `fileexists(p) ? file(p) : null` with p the key's absolute path (a relative path is taken from the working directory at synth). */
export function privateKeyExpression(path: string): string {
  const p = absoluteLocalPath(path);
  return Fn.conditional(Fn.fileexists(p), Fn.file(p), Token.nullValue());
}

/** A word of an ssh `-o Key=value` option, quoted when it holds white space (ssh splits values on it). */
function sshOptionValue(v: string): string {
  return /\s|"/.test(v) ? `"${v.replace(/(["\\])/g, "\\$1")}"` : v;
}

/**
 * The known_hosts file the docker provider's ssh uses for a host: the deployment's
 * ssh.knownHostsFile when the host has no ssh.hostKey of its own, else a file written now under
 * the app's output directory (absolute path) holding the pinned key. Undefined when no key is pinned.
 */
export function knownHostsFileFor(scope: Construct, host: SshHost, policy?: SshPolicy): string | undefined {
  if (!host.ssh.hostKey) {
    const file = policy?.knownHostsFile ? absoluteLocalPath(policy.knownHostsFile) : undefined;
    return file && hostKeyFor(host, policy) ? file : undefined;
  }
  const dir = resolve(App.of(scope).outdir, "ems-ha-known-hosts");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${hostEntryName(host.address, host.ssh.port).replace(/[^A-Za-z0-9._-]/g, "_")}`);
  writeFileSync(file, `${hostEntryName(host.address, host.ssh.port)} ${host.ssh.hostKey}\n`, { mode: 0o600 });
  return file;
}

/**
 * ssh options of the docker provider (`ssh <opts> -l user -p port -- host docker system dial-stdio`):
 * batch mode, the node's key only, and strict checking against the pinned key when there is one.
 */
export function dockerSshOpts(scope: Construct, host: SshHost, policy?: SshPolicy): string[] {
  const opts = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"];
  if (host.ssh.privateKeyPath) opts.push("-i", absoluteLocalPath(host.ssh.privateKeyPath), "-o", "IdentitiesOnly=yes");
  const kh = knownHostsFileFor(scope, host, policy);
  if (kh) opts.push("-o", `UserKnownHostsFile=${sshOptionValue(kh)}`, "-o", "StrictHostKeyChecking=yes");
  return opts;
}

/** Moved to src/render/escape.ts (one module for every escaping function); re-exported for the constructs. */
export { terraformLiteral } from "../src/render/escape";
