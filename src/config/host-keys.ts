/**
 * The pinned SSH host key of a host: its `ssh.hostKey`, else the entry for its address (and
 * port) in the deployment's `ssh.knownHostsFile`. Used by the constructs (Terraform's
 * `host_key`, the docker provider's known_hosts) and by the host key rules of `ems-ha check`.
 */
import { existsSync, readFileSync } from "node:fs";
import { knownKeys } from "../ops/known-hosts";
import { absoluteLocalPath } from "./local-files";
import type { Deployment, SshPolicy, SshSettings } from "./schema";

export interface SshHostRef {
  readonly name?: string;
  readonly address: string;
  readonly ssh: SshSettings;
}

/** Key types in the order a pinned key is picked from a known_hosts file that has several. */
const KEY_PREFERENCE = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];

/** `type base64` of the host's pinned key, or undefined when neither ssh.hostKey nor the known_hosts file has one. */
export function pinnedHostKey(host: SshHostRef, policy?: SshPolicy): string | undefined {
  if (host.ssh.hostKey) return host.ssh.hostKey;
  const file = policy?.knownHostsFile ? absoluteLocalPath(policy.knownHostsFile) : undefined;
  if (!file || !existsSync(file)) return undefined;
  const keys = knownKeys(readFileSync(file, "utf8"), host.address, host.ssh.port);
  if (keys.length === 0) return undefined;
  const rank = (t: string) => (KEY_PREFERENCE.includes(t) ? KEY_PREFERENCE.indexOf(t) : KEY_PREFERENCE.length);
  const best = [...keys].sort((a, b) => rank(a.type) - rank(b.type))[0]!;
  return `${best.type} ${best.key.toString("base64")}`;
}

/**
 * Every host the toolkit logs in to over SSH with a shell: DB nodes and EMS nodes (not the
 * vm-appliances' CLI, whose host key is checked by `ems-ha appliance run`).
 */
export function sshHostsOf(d: Deployment): SshHostRef[] {
  const ems = d.topology === "vm-appliances" ? [] : d.emsNodes;
  const db =
    d.topology === "standalone-db" || d.topology === "vm-appliances"
      ? d.standalone?.mode === "managed"
        ? d.database.nodes.slice(0, 1)
        : []
      : d.database.nodes;
  return [...db, ...ems];
}
