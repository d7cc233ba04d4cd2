/** Terraform's SSH connection block for a host of the deployment. */
import { Fn, type SSHProvisionerConnection } from "cdktf";
import type { SshSettings } from "../src/config/schema";

export interface SshHost {
  readonly address: string;
  readonly ssh: SshSettings;
}

/**
 * The connection for provisioners. The private key is read with file(pathexpand(...)),
 * which Terraform evaluates only when a provisioner runs: a plan needs no key.
 * Without privateKeyPath, Terraform uses the ssh agent.
 */
export function sshConnection(host: SshHost, timeout = "5m"): SSHProvisionerConnection {
  return {
    type: "ssh",
    host: host.address,
    user: host.ssh.user,
    port: host.ssh.port,
    timeout,
    ...(host.ssh.privateKeyPath ? { privateKey: Fn.file(Fn.pathexpand(host.ssh.privateKeyPath)) } : {}),
  };
}
