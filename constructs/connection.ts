/** Terraform's SSH connection block for a host of the deployment. */
import { Fn, Token, type SSHProvisionerConnection } from "cdktf";
import type { SshSettings } from "../src/config/schema";

export interface SshHost {
  readonly address: string;
  readonly ssh: SshSettings;
}

/**
 * The connection for provisioners. Terraform evaluates a connection's file() during plan and
 * fails when the key file is missing, so the key is read only when it exists
 * (fileexists ? file : null): a plan needs no key; at apply a missing key falls back to the agent.
 * Without privateKeyPath, Terraform uses the ssh agent.
 */
export function sshConnection(host: SshHost, timeout = "5m"): SSHProvisionerConnection {
  return {
    type: "ssh",
    host: host.address,
    user: host.ssh.user,
    port: host.ssh.port,
    timeout,
    ...(host.ssh.privateKeyPath ? { privateKey: privateKeyExpression(host.ssh.privateKeyPath) } : {}),
  };
}

/** `fileexists(p) ? file(p) : null` with p = pathexpand(path). */
export function privateKeyExpression(path: string): string {
  const p = Fn.pathexpand(path);
  return Fn.conditional(Fn.fileexists(p), Fn.file(p), Token.nullValue());
}

/** Moved to src/render/escape.ts (one module for every escaping function); re-exported for the constructs. */
export { terraformLiteral } from "../src/render/escape";
