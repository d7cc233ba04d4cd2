/**
 * One lab host: an overlay of the base image, its own identity files, booted
 * with systemd-nspawn as a detached process whose PID the lab records.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LabError, run, runOk, runStreamingOk, sleep, waitFor } from "./exec";
import { createHostCgroups, removeHostCgroups, thawHostProcesses } from "./cgroup";
import { addSudoUser, authorizeKey, generateHostKeys } from "./ssh";
import { hostDirs, type LabHost } from "./state";

export function isMounted(path: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[4] === path);
}

/** Mount points at or below `dir` (deepest first). */
export function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

export function mountOverlay(image: string, h: LabHost): void {
  const d = hostDirs(h);
  for (const p of [d.upper, d.work, d.merged]) mkdirSync(p, { recursive: true });
  if (isMounted(d.merged)) return;
  runOk("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${image},upperdir=${d.upper},workdir=${d.work}`, d.merged]);
}

/** Unmounts (bounded retries, then lazily). Returns false if the path is still mounted. */
export async function unmount(path: string): Promise<boolean> {
  for (let i = 0; i < 10 && isMounted(path); i++) {
    if (run("umount", [path]).code !== 0) await sleep(300);
  }
  if (isMounted(path)) run("umount", ["-l", path]);
  return !isMounted(path);
}

export interface HostIdentity {
  readonly hosts: ReadonlyArray<Pick<LabHost, "name" | "address">>;
  readonly prefixLength: number;
  readonly clientPublicKey: string;
}

/** Writes hostname, hosts, machine-id, the host0 address, SSH keys. Returns the host's ed25519 public key. */
export function writeIdentity(h: LabHost, id: HostIdentity): string {
  const root = hostDirs(h).merged;
  writeFileSync(join(root, "etc/hostname"), `${h.name}\n`);
  writeFileSync(
    join(root, "etc/hosts"),
    [
      "127.0.0.1\tlocalhost",
      "::1\tlocalhost ip6-localhost ip6-loopback",
      "ff02::1\tip6-allnodes",
      "ff02::2\tip6-allrouters",
      "# ems-ha lab hosts",
      ...id.hosts.map((o) => `${o.address}\t${o.name}`),
      "",
    ].join("\n"),
  );
  writeFileSync(join(root, "etc/machine-id"), `${randomBytes(16).toString("hex")}\n`);
  mkdirSync(join(root, "etc/systemd/network"), { recursive: true });
  writeFileSync(
    join(root, "etc/systemd/network/10-host0.network"),
    `# ems-ha lab: static address on the lab bridge\n[Match]\nName=host0\n\n[Network]\nAddress=${h.address}/${id.prefixLength}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n`,
  );
  authorizeKey(root, id.clientPublicKey);
  addSudoUser(root, id.clientPublicKey);
  return generateHostKeys(root);
}

/**
 * chroot's arguments for pg_createcluster. The port is explicit: in the chroot pg_createcluster
 * sees this machine's network namespace and picks the next free port (5433) when something
 * here listens on 5432.
 */
export function createClusterArgs(root: string, port: number): string[] {
  return [root, "pg_createcluster", "--locale", "C.UTF-8", "--port", String(port), "15", "main", "--", "--no-sync"];
}

/**
 * Creates the host's own PostgreSQL cluster 15/main (what Debian's postinst does on a real
 * host), so every DB host has its own system identifier. UTF-8 locale (docs/background.md#native-postgresql-and-repmgr). initdb's
 * --no-sync only skips the final fsync of the new files (the page cache outlives any host stop).
 */
export async function createPgCluster(h: LabHost, port = 5432): Promise<void> {
  await runStreamingOk("chroot", createClusterArgs(hostDirs(h).merged, port), {
    timeoutMs: 120_000,
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", LC_ALL: "C.UTF-8" },
  });
}

/**
 * Starts systemd-nspawn detached, in the host's own cgroups (see cgroup.ts); returns its PID.
 * A shell moves itself into the cgroups and execs nspawn, so the PID is nspawn's.
 * Output (the host's console) goes to nspawn.log.
 */
export function bootHost(h: LabHost, bridge: string, extraArgs: readonly string[] = []): number {
  const d = hostDirs(h);
  const cgroups = createHostCgroups(h.machine);
  const log = openSync(d.log, "a");
  try {
    const child = spawn(
      "/bin/sh",
      [
        "-c",
        'for g in $EMS_LAB_CGROUPS; do echo $$ > "$g/cgroup.procs" || exit 1; done; exec "$@"',
        "sh",
        "systemd-nspawn",
        ...["-D", d.merged, "--register=no", "--keep-unit", `--network-bridge=${bridge}`, "-M", h.machine, "--console=read-only", ...extraArgs, "-b"],
      ],
      { detached: true, stdio: ["ignore", log, log], env: { ...process.env, EMS_LAB_CGROUPS: cgroups.join(" ") } },
    );
    if (child.pid === undefined) throw new LabError(`systemd-nspawn did not start for ${h.name}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/** True when `pid` is still this host's systemd-nspawn (guards against a reused PID). */
export function isHostProcess(pid: number | undefined, h: LabHost): boolean {
  if (!pid) return false;
  const c = cmdline(pid);
  return c.includes("systemd-nspawn") && c.includes(hostDirs(h).merged);
}

/** PIDs whose root directory is the host's merged tree (the container's processes). */
function processesRootedIn(root: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readlinkSync(`/proc/${e}/root`) === root) out.push(Number(e));
    } catch {
      /* gone or not ours to read */
    }
  }
  return out;
}

function kill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/**
 * Stops the host: SIGTERM to nspawn (a clean poweroff of the container), SIGKILL after
 * `graceMs`, then SIGKILL to any process still rooted in the host's tree. Bounded.
 */
export async function stopHost(h: LabHost, graceMs = 20_000): Promise<void> {
  const root = hostDirs(h).merged;
  // a paused container's processes take no signal until thawed (see thawHostProcesses)
  thawHostProcesses(h.machine);
  if (isHostProcess(h.pid, h)) {
    kill(h.pid!, "SIGTERM");
    const gone = await waitFor(() => (isHostProcess(h.pid, h) ? undefined : true), graceMs, 200);
    if (!gone) {
      kill(h.pid!, "SIGKILL");
      await waitFor(() => (isHostProcess(h.pid, h) ? undefined : true), 5000, 100);
    }
  }
  let strays = processesRootedIn(root);
  for (let i = 0; i < 20 && strays.length > 0; i++) {
    strays.forEach((p) => kill(p, "SIGKILL"));
    await sleep(100);
    strays = processesRootedIn(root);
  }
  if (strays.length > 0) throw new LabError(`processes ${strays.join(", ")} of ${h.name} survive SIGKILL`);
  removeHostCgroups(h.machine);
}

/**
 * Removes the host's directory once nothing is mounted below it. Asynchronous: a Docker host's
 * directory holds image layers, and a synchronous delete of a lab's hosts held a test worker 17.7 s.
 */
export async function removeHostDir(h: LabHost): Promise<void> {
  if (!existsSync(h.dir)) return;
  const left = mountsUnder(h.dir);
  if (left.length > 0) throw new LabError(`not removing ${h.dir}: still mounted ${left.join(", ")}`);
  await rm(h.dir, { recursive: true, force: true });
}
