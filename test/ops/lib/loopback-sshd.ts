/**
 * A real OpenSSH server on loopback addresses for the ops tests: its own host key,
 * config and authorized_keys in a temp directory, root login by key only.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { run } from "./loopback-cluster";

export interface LoopbackSshd {
  readonly port: number;
  /** Client private key that root accepts. */
  readonly clientKey: string;
  /** The server's ed25519 host public key as `type base64`. */
  readonly hostPublicKey: string;
  readonly process: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

function portOpen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port });
    s.setTimeout(1000);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
    s.once("timeout", () => {
      s.destroy();
      resolve(false);
    });
  });
}

export interface SshdOptions {
  /**
   * Logins as any user with a key in authorized_keys (UsePAM yes: this machine's postgres account
   * is locked, which sshd refuses without PAM), in a mount namespace with a private, world-writable
   * /tmp (repmgr keeps temporary files there; this machine's /tmp is root-only). The directories
   * the test uses must then lie outside /tmp.
   */
  readonly repmgrHops?: boolean;
}

export async function startSshd(dir: string, addresses: string[], port: number, opts: SshdOptions = {}): Promise<LoopbackSshd> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const hostKey = join(dir, "ssh_host_ed25519_key");
  const clientKey = join(dir, "client_ed25519");
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "ems-ha-ops-test-host", "-f", hostKey]);
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "ems-ha-ops-test-client", "-f", clientKey]);
  writeFileSync(join(dir, "authorized_keys"), readFileSync(`${clientKey}.pub`), { mode: 0o600 });
  if (opts.repmgrHops) {
    // sshd reads authorized_keys as the user logging in (postgres too)
    chmodSync(dir, 0o755);
    chmodSync(join(dir, "authorized_keys"), 0o644);
  }
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      ...addresses.map((a) => `ListenAddress ${a}`),
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      opts.repmgrHops ? "UsePAM yes" : "UsePAM no",
      "StrictModes no",
      "LogLevel VERBOSE",
      // bash, started by sshd for a command, reads the login user's ~/.bashrc; this machine's root
      // one initialises pyenv (a dozen processes per command). With SHLVL set, bash does not take
      // itself for sshd's child and skips it; the commands run in the same sshd and bash otherwise.
      // heal.test alone: 387 s and 691 CPU-seconds with the .bashrc, 285 s and 497 without.
      "SetEnv SHLVL=1",
      "",
    ].join("\n"),
  );
  let log = "";
  const proc = opts.repmgrHops
    ? spawn("unshare", ["-m", "sh", "-c", `mount -t tmpfs -o mode=1777,size=64m tmpfs /tmp && exec /usr/sbin/sshd -D -e -f ${config}`], {
        stdio: ["ignore", "pipe", "pipe"],
      })
    : spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 15_000;
  while (!(await portOpen(addresses[0]!, port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`sshd did not start on ${addresses[0]}:${port}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const hostPublicKey = readFileSync(`${hostKey}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  return {
    port,
    clientKey,
    hostPublicKey,
    process: proc,
    log: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const t = setTimeout(() => {
          proc.kill("SIGKILL");
          resolve();
        }, 5000);
        proc.once("exit", () => {
          clearTimeout(t);
          resolve();
        });
        proc.kill("SIGTERM");
      }),
  };
}
