/** SSH for the lab: the per-lab client key, per-host host keys, and running commands on hosts. */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { runOk, runStreaming, waitFor, type RunResult } from "./exec";

/** Generates the lab's ed25519 client key (a fresh one per lab). */
export function generateClientKey(keyPath: string): string {
  mkdirSync(dirname(keyPath), { recursive: true, mode: 0o700 });
  rmSync(keyPath, { force: true });
  rmSync(`${keyPath}.pub`, { force: true });
  runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "ems-ha-lab", "-f", keyPath]);
  return readFileSync(`${keyPath}.pub`, "utf8");
}

/**
 * Creates the host's own SSH host key inside its root (the image carries none): ed25519 only,
 * which sshd is told to use (RSA generation would cost seconds per host). Returns the public key.
 */
export function generateHostKeys(rootDir: string): string {
  const key = join(rootDir, "etc/ssh/ssh_host_ed25519_key");
  mkdirSync(join(rootDir, "etc/ssh/sshd_config.d"), { recursive: true });
  rmSync(key, { force: true });
  rmSync(`${key}.pub`, { force: true });
  runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "root@lab-host", "-f", key]);
  writeFileSync(
    join(rootDir, "etc/ssh/sshd_config.d/ems-ha-lab-hostkey.conf"),
    "# ems-ha lab: the host's own key, made at lab up\nHostKey /etc/ssh/ssh_host_ed25519_key\n",
  );
  return readFileSync(`${key}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
}

export function writeKnownHosts(path: string, entries: ReadonlyArray<{ names: readonly string[]; publicKey: string }>): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, entries.map((e) => `${e.names.join(",")} ${e.publicKey}\n`).join(""));
}

/** Replaces the entry naming `names[0]` in a known_hosts file written by writeKnownHosts (a host reinstalled with a new key). */
export function replaceKnownHost(path: string, names: readonly string[], publicKey: string): void {
  const kept = existsSync(path)
    ? readFileSync(path, "utf8")
        .split("\n")
        .filter((l) => l.trim() && !l.split(" ")[0]!.split(",").includes(names[0]!))
    : [];
  writeFileSync(path, [...kept, `${names.join(",")} ${publicKey}`, ""].join("\n"));
}

/** Places `publicKey` in root's authorized_keys inside the host's root. */
export function authorizeKey(rootDir: string, publicKey: string): void {
  const dir = join(rootDir, "root/.ssh");
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o700);
  writeFileSync(join(dir, "authorized_keys"), publicKey.endsWith("\n") ? publicKey : `${publicKey}\n`, { mode: 0o600 });
}

/** The non-root login every lab host also has: passwordless sudo, the lab's client key. */
export const LAB_SUDO_USER = "emsadmin";

/**
 * Creates LAB_SUDO_USER inside the host's root (chroot useradd), with passwordless sudo (a
 * sudoers.d file, as an operator would set up) and `publicKey` in its authorized_keys.
 */
export function addSudoUser(rootDir: string, publicKey: string): void {
  const r = spawnSync("chroot", [rootDir, "useradd", "--create-home", "--shell", "/bin/bash", LAB_SUDO_USER], { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0 && !/already exists/.test(r.stderr)) throw new Error(`useradd ${LAB_SUDO_USER} in ${rootDir} failed: ${r.stderr.trim()}`);
  mkdirSync(join(rootDir, "etc/sudoers.d"), { recursive: true });
  writeFileSync(join(rootDir, "etc/sudoers.d", LAB_SUDO_USER), `# ems-ha lab: a non-root deploy user\n${LAB_SUDO_USER} ALL=(ALL) NOPASSWD: ALL\n`, {
    mode: 0o440,
  });
  const home = join(rootDir, "home", LAB_SUDO_USER);
  const ids = spawnSync("chroot", [rootDir, "id", "-u", LAB_SUDO_USER], { encoding: "utf8", timeout: 10_000 }).stdout.trim();
  const uid = Number(ids);
  mkdirSync(join(home, ".ssh"), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, ".ssh/authorized_keys"), publicKey.endsWith("\n") ? publicKey : `${publicKey}\n`, { mode: 0o600 });
  for (const p of [home, join(home, ".ssh"), join(home, ".ssh/authorized_keys")]) chownSync(p, uid, uid);
  chmodSync(join(home, ".ssh"), 0o700);
}

/** What sshExec needs to reach a host. */
export interface SshTarget {
  readonly address: string;
  readonly sshKeyPath: string;
  /** When given, the host key is checked against it; otherwise not checked. */
  readonly knownHostsPath?: string;
  /** @default "root" */
  readonly user?: string;
}

export function sshArgs(t: SshTarget, connectTimeoutSeconds = 5): string[] {
  const hostKey =
    t.knownHostsPath && existsSync(t.knownHostsPath)
      ? ["-o", `UserKnownHostsFile=${t.knownHostsPath}`, "-o", "StrictHostKeyChecking=yes"]
      : ["-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no"];
  return [
    "-i",
    t.sshKeyPath,
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    `ConnectTimeout=${connectTimeoutSeconds}`,
    "-o",
    "LogLevel=ERROR",
    ...hostKey,
    `${t.user ?? "root"}@${t.address}`,
  ];
}

/** Runs a shell command on a lab host; resolves with its exit code and output (never rejects on a non-zero exit). */
export function sshExec(t: SshTarget, command: string, opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return runStreaming("ssh", [...sshArgs(t), "--", command], { timeoutMs: opts.timeoutMs ?? 60_000, input: opts.input });
}

/** Waits (bounded) until the host runs commands over SSH. Returns undefined when ready, else the last error. */
export async function waitForSsh(t: SshTarget, timeoutMs: number, isAlive: () => boolean = () => true): Promise<string | undefined> {
  let last = "no attempt made";
  const ok = await waitFor(
    async () => {
      if (!isAlive()) {
        last = "the host's systemd-nspawn process exited";
        return false;
      }
      const r = await runStreaming("ssh", [...sshArgs(t, 2), "--", "true"], { timeoutMs: 5000 });
      if (r.code === 0) return true;
      last = (r.stderr || `exit ${r.code}`).trim();
      return undefined;
    },
    timeoutMs,
    500,
  );
  return ok === true ? undefined : last;
}
