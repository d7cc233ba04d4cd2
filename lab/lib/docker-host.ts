/**
 * Docker DB hosts: what a lab host needs so that Debian's Docker engine runs inside it.
 *
 * - The host boots from the Docker image recipe (image.ts DOCKER_RECIPE: docker.io, iptables).
 * - systemd-nspawn gets `--capability=all --system-call-filter='@keyring @mount bpf'` (dockerd
 *   and runc need mount, keyring and bpf calls nspawn filters by default).
 * - nspawn mounts the cgroup v1 controllers read-only; runc must create cgroups in them. A unit
 *   inside the host, ordered before containerd and docker, remounts /sys/fs/cgroup read-write
 *   and mounts each controller afresh.
 * - /var/lib/docker is a directory of the real disk bound into the host: on the host's overlay
 *   dockerd would fall back to the `vfs` driver or fail (overlay2 cannot stack on overlayfs).
 * - No image registry is reachable: the ems-postgres-ha stand-in tarball is placed on the host
 *   at the path the deployment names, as an operator copies the vendor tarball.
 * See docs/lab.md (Docker DB hosts).
 */
import { copyFileSync, mkdirSync, readFileSync, statfsSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { DOCKER_TOPOLOGIES } from "../../src/config/semantics";
import type { Deployment } from "../../src/config/schema";
import { shellQuote } from "../../src/ops/ssh";
import { LabError, run } from "./exec";
import type { StandinImage } from "../../test/standins/ems-postgres-ha/build";
import { hostDirs, type LabHost } from "./state";

/** The Docker topologies run their database in containers: their DB hosts get Docker. */
export function isDockerDeployment(d: Pick<Deployment, "topology">): boolean {
  return DOCKER_TOPOLOGIES.has(d.topology);
}

/** systemd-nspawn arguments of a Docker host (after the usual ones). */
export function dockerNspawnArgs(h: Pick<LabHost, "dir">): string[] {
  return ["--capability=all", "--system-call-filter=@keyring @mount bpf", `--bind=${dockerDataDir(h)}:/var/lib/docker`];
}

/** The host's /var/lib/docker on this machine's disk. */
export function dockerDataDir(h: Pick<LabHost, "dir">): string {
  return join(h.dir, "docker");
}

export const CGROUP_UNIT = "ems-lab-docker-cgroups.service";
export const CGROUP_SCRIPT = "/usr/local/sbin/ems-lab-docker-cgroups";
export const CGROUP_CONTROLLERS = [
  "cpu",
  "cpuacct",
  "cpuset",
  "memory",
  "devices",
  "freezer",
  "blkio",
  "pids",
  "net_cls",
  "net_prio",
  "perf_event",
  "hugetlb",
  "rdma",
] as const;

/** The remount script: only cgroup v1 controllers that are mounted are touched. */
export function cgroupScript(): string {
  return [
    "#!/bin/sh",
    "# ems-ha lab: systemd-nspawn mounts the cgroup v1 controllers read-only; runc (Docker)",
    "# must create cgroups in them. Remount each one read-write before containerd and docker start.",
    "set -e",
    "[ -f /sys/fs/cgroup/cgroup.controllers ] && exit 0 # cgroup v2 only: nothing to do",
    "mount -o remount,rw /sys/fs/cgroup",
    `for c in ${CGROUP_CONTROLLERS.join(" ")}; do`,
    '  grep -qw "$c" /proc/cgroups || continue',
    '  mountpoint -q "/sys/fs/cgroup/$c" || continue',
    "  # nspawn stacks two mounts: remove both",
    '  umount -l "/sys/fs/cgroup/$c" 2>/dev/null || true',
    '  umount -l "/sys/fs/cgroup/$c" 2>/dev/null || true',
    '  mkdir -p "/sys/fs/cgroup/$c"',
    '  mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"',
    "done",
    "",
  ].join("\n");
}

export function cgroupUnit(): string {
  return [
    "[Unit]",
    "Description=ems-ha lab: writable cgroup v1 controllers for Docker",
    "Before=containerd.service docker.service",
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    `ExecStart=${CGROUP_SCRIPT}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

const DROP_IN = `[Unit]\nRequires=${CGROUP_UNIT}\nAfter=${CGROUP_UNIT}\n`;

/** Writes the cgroup unit (enabled, required by containerd and docker) into the host's tree. */
export function writeDockerUnits(h: Pick<LabHost, "dir">): void {
  const root = hostDirs(h).merged;
  const script = join(root, CGROUP_SCRIPT.slice(1));
  mkdirSync(dirname(script), { recursive: true });
  writeFileSync(script, cgroupScript(), { mode: 0o755 });
  writeFileSync(join(root, "etc/systemd/system", CGROUP_UNIT), cgroupUnit());
  const wants = join(root, "etc/systemd/system/multi-user.target.wants");
  mkdirSync(wants, { recursive: true });
  if (!existsSync(join(wants, CGROUP_UNIT))) symlinkSync(`/etc/systemd/system/${CGROUP_UNIT}`, join(wants, CGROUP_UNIT));
  for (const svc of ["docker.service", "containerd.service"]) {
    const d = join(root, "etc/systemd/system", `${svc}.d`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "ems-lab-cgroups.conf"), DROP_IN);
  }
}

/** The file system type of `dir` as stat reports it (ext2/ext3, xfs, overlayfs, tmpfs ...). */
export function fsType(dir: string): string {
  const r = run("stat", ["-f", "-c", "%T", dir]);
  return r.code === 0 ? r.stdout.trim() : "unknown";
}

/** Creates the host's /var/lib/docker directory; refuses a file system overlay2 cannot sit on. */
export function prepareDockerDataDir(h: Pick<LabHost, "dir" | "name">): string {
  const dir = dockerDataDir(h);
  mkdirSync(dir, { recursive: true, mode: 0o710 });
  const t = fsType(dir);
  if (/overlay|tmpfs|aufs/.test(t)) {
    throw new LabError(
      `${dir} (the /var/lib/docker of ${h.name}) is on ${t}: Docker's overlay2 driver needs a real disk there. Set EMS_HA_LAB_STATE to a directory on a disk (ext4, xfs).`,
    );
  }
  return dir;
}

/**
 * The stand-in tarballs a Docker deployment's DB hosts need: the one the deployment names
 * (matched by sha256), and for upgrade-7-4-4 every variant (the old image too). Each goes to
 * its `hostPath`; the deployment's one also to the path the deployment names.
 */
export function tarballsFor(d: Deployment, images: readonly StandinImage[]): Array<{ from: string; to: string }> {
  const src = d.database.image.source;
  if (src.kind !== "tarball") {
    throw new LabError(
      `database.image.source is '${src.kind}': lab hosts reach no image registry; use a tarball source with the stand-in image (examples/lab-docker.ts)`,
    );
  }
  const named = images.find((i) => i.sha256 === src.sha256);
  if (!named) {
    throw new LabError(
      `database.image.source.sha256 ${src.sha256} is not a stand-in image the lab built (${images.map((i) => `${i.ref}: ${i.sha256}`).join(", ")}); use examples/lab-docker.ts, which names the current one`,
    );
  }
  const wanted = d.topology === "upgrade-7-4-4" ? images : [named];
  const out = wanted.map((i) => ({ from: i.path, to: i.hostPath }));
  if (!out.some((o) => o.to === src.path)) out.push({ from: named.path, to: src.path });
  return out;
}

/** Copies the tarballs into the host's tree (before boot). */
export function placeTarballs(h: Pick<LabHost, "dir">, files: ReadonlyArray<{ from: string; to: string }>): void {
  const root = hostDirs(h).merged;
  for (const f of files) {
    const dest = join(root, f.to.replace(/^\/+/, ""));
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(f.from, dest);
  }
}

export interface LabLimits {
  /** Hosts about to boot. */
  readonly hosts: number;
  /** Docker hosts among them. */
  readonly dockerHosts: number;
  /** Directory holding the hosts' state (its disk is checked). */
  readonly stateRoot: string;
}

const INOTIFY = "/proc/sys/fs/inotify/max_user_instances";
/** Each booted host (systemd, journald, logind, dbus) takes several inotify instances; Docker more. */
export const INOTIFY_WANTED = 1024;

/** Bytes the lab wants free for its hosts: overlays, and per Docker host the image, its copy and data. */
export function diskWanted(l: Pick<LabLimits, "hosts" | "dockerHosts">): number {
  const GB = 1024 ** 3;
  return 0.5 * GB + l.hosts * 0.2 * GB + l.dockerHosts * 1.2 * GB;
}

/**
 * Checks (and where it can, fixes) this machine's limits before a lab boots: fs.inotify.
 * max_user_instances (many hosts exhaust the default 128: "Failed to allocate manager object:
 * Too many open files"), raised with sysctl when root; the free disk. Throws naming the limit.
 */
export function checkLabLimits(l: LabLimits, log: (m: string) => void = () => undefined): void {
  const problems: string[] = [];
  const current = Number(readFileSync(INOTIFY, "utf8").trim());
  if (current < INOTIFY_WANTED) {
    try {
      writeFileSync(INOTIFY, String(INOTIFY_WANTED));
      log(`raised fs.inotify.max_user_instances from ${current} to ${INOTIFY_WANTED} (booted hosts and Docker each take several)`);
    } catch (e) {
      const msg = `fs.inotify.max_user_instances is ${current} (wanted ${INOTIFY_WANTED}) and could not be raised: ${(e as Error).message}; run \`sysctl fs.inotify.max_user_instances=${INOTIFY_WANTED}\` as root`;
      if (l.hosts > 10 || l.dockerHosts > 0) problems.push(msg);
      else log(`warning: ${msg}`);
    }
  }
  mkdirSync(l.stateRoot, { recursive: true });
  const fs = statfsSync(l.stateRoot);
  const free = fs.bavail * fs.bsize;
  const wanted = diskWanted(l);
  if (free < wanted) {
    problems.push(
      `${l.stateRoot} has ${(free / 1024 ** 3).toFixed(1)} GB free; a lab of ${l.hosts} hosts (${l.dockerHosts} with Docker) wants ${(wanted / 1024 ** 3).toFixed(1)} GB`,
    );
  }
  if (problems.length > 0) throw new LabError(`this machine's limits do not allow the lab:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
}

/** Waits (bounded) until the Docker daemon on a booted host answers; returns an error or undefined. */
export function dockerReadyCommand(seconds: number): string {
  return `timeout ${seconds} sh -c 'until docker info >/dev/null 2>&1; do sleep 1; done' || { systemctl status --no-pager -n 15 ${CGROUP_UNIT} containerd docker 2>&1 | tail -n 40; exit 1; }`;
}

/**
 * Waits (bounded) until every witness's copy of repmgr's node list holds every DB node. A witness
 * copies the list from the primary every witness_sync_interval (repmgr's 15 s); a failover before
 * that leaves it unaware of the new primary, following the old one. Returns the seconds waited.
 */
export async function waitForWitnessViews(
  exec: (host: string, command: string) => Promise<{ code: number; stdout: string }>,
  d: Pick<Deployment, "database">,
  timeoutMs = 90_000,
): Promise<number> {
  const t0 = Date.now();
  const witnesses = d.database.nodes.filter((n) => n.role === "witness");
  const all = d.database.nodes.map((n) => n.name).sort();
  for (;;) {
    const views = await Promise.all(
      witnesses.map(async (w) => {
        const r = await exec(w.name, `docker exec ${w.name} psql -h /tmp -U postgres -d repmgr -XtAc 'select node_name from repmgr.nodes order by node_name'`);
        return r.code === 0 ? r.stdout.trim().split("\n").filter(Boolean) : [];
      }),
    );
    if (views.every((v) => JSON.stringify(v) === JSON.stringify(all))) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > timeoutMs) {
      throw new LabError(
        `witnesses still lack nodes after ${timeoutMs / 1000} s: ${witnesses.map((w, i) => `${w.name} has ${views[i]!.join(", ") || "none"}`).join("; ")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * One SQL statement's output (psql -tA) in database `db` of the DB container named `node`, as the
 * postgres user with the container's own password variable (nothing secret on the host's command
 * line); throws with psql's error when it fails.
 */
export async function containerPsql(
  exec: (host: string, command: string) => Promise<{ code: number; stdout: string; stderr: string }>,
  node: string,
  sql: string,
  db = "postgres",
): Promise<string> {
  const r = await exec(
    node,
    `docker exec ${shellQuote(node)} bash -c 'PGPASSWORD="$POSTGRESQL_PASSWORD" psql -X -h 127.0.0.1 -U postgres -d "$1" -tAc "$2"' _ ${shellQuote(db)} ${shellQuote(sql)}`,
  );
  if (r.code !== 0) throw new LabError(`${node}: ${sql}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}
