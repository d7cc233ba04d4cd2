/**
 * How full each DB node's data filesystem is, for `ems-ha status` (docs/operations.md#a-filling-disk).
 * PostgreSQL stops when it cannot write WAL, and a cluster's data, WAL kept for standbys
 * (`wal_keep_size`), rewind records and logs grow over its life; this is read over SSH:
 *
 * - native-single-region: `df -Pk` of the cluster's data directory on the node's host;
 * - standalone-db, vm-appliances with a managed server: `df -Pk` of Debian's postgresql-15 data
 *   directory on the server (an `existing` server's is unknown: not read);
 * - single-region, geo-redundant, upgrade-7-4-4: `df -Pk` of the data volume's mount inside the node's container
 *   (`docker exec`; the volume's path on the host is under /var/lib/docker, which only root may
 *   enter, while the container sees the same filesystem).
 *
 * A node that cannot be asked (host down, container stopped) is left out: status reports those
 * through its other probes.
 */
import type { DbNodeConfig, Deployment } from "../config/schema";
import { DOCKER_TOPOLOGIES, STANDALONE_TOPOLOGIES } from "../config/semantics";
import { DATA_MOUNT } from "../render/bitnami";
import { nativeLayout, nativeSettings } from "../render/native/layout";
import { probeSshOptions, shellQuote, sshExec } from "./ssh";

/** At or above this share used: a warning. */
export const DISK_WARN_PERCENT = 85;
/** At or above this share used: the cluster counts as degraded (a full disk stops PostgreSQL). */
export const DISK_FULL_PERCENT = 95;

export interface DiskUsage {
  readonly node: string;
  /** The path asked about (in the container for the Docker topologies). */
  readonly path: string;
  /** Where that filesystem is mounted, as df says. */
  readonly mount: string;
  readonly sizeKb: number;
  readonly availableKb: number;
  /** df's Capacity: used / (used + available), rounded up. */
  readonly usedPercent: number;
}

/** Marks diskCommand's line in an output it shares with other commands (src/ops/rewind.ts). */
export const DISK_MARK = "==D ";

/** Prints the `df -Pk` line of `path`'s filesystem after DISK_MARK (an empty line when df fails); `container`: inside that container. */
export function dfCommand(path: string, container?: string): string {
  const df = `df -Pk ${shellQuote(path)} 2>/dev/null | tail -n 1`;
  const run = container === undefined ? `timeout 10 ${df}` : `timeout 30 docker exec ${shellQuote(container)} ${df}`;
  return `printf '${DISK_MARK}%s\\n' "$(${run})"`;
}

/** The command for a node's data filesystem; undefined for topologies without a known data path. */
export function diskCommand(d: Deployment, node: DbNodeConfig): { path: string; command: string } | undefined {
  if (d.topology === "native-single-region") {
    const path = nativeLayout(nativeSettings(d).pgVersion).dataDir;
    return { path, command: dfCommand(path) };
  }
  // a managed standalone server is Debian's postgresql-15 main cluster, as natively; an existing one's data directory is unknown
  if (STANDALONE_TOPOLOGIES.has(d.topology)) {
    if (d.standalone?.mode !== "managed") return undefined;
    const path = nativeLayout().dataDir;
    return { path, command: dfCommand(path) };
  }
  // the container is named after the node (render/bitnami)
  if (DOCKER_TOPOLOGIES.has(d.topology)) return { path: DATA_MOUNT, command: dfCommand(DATA_MOUNT, node.name) };
  return undefined;
}

/** The usage in diskCommand's output; undefined when it printed no df line. */
export function parseDisk(node: string, path: string, output: string): DiskUsage | undefined {
  const line = output.split("\n").find((l) => l.startsWith(DISK_MARK));
  if (!line) return undefined;
  // Filesystem 1024-blocks Used Available Capacity Mounted-on; the name or mount may hold spaces
  const m = /^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)%\s+(.+)$/.exec(line.slice(DISK_MARK.length).trim());
  if (!m) return undefined;
  const [size, used, avail] = [Number(m[2]), Number(m[3]), Number(m[4])];
  const usedPercent = used + avail === 0 ? 100 : Math.ceil((used * 100) / (used + avail));
  return { node, path, mount: printable(m[6]!), sizeKb: size, availableKb: avail, usedPercent };
}

/** A host's text (a mount point, a file name) as shown in a terminal: control characters become "?". */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, "?");
}

/**
 * Reads the data filesystem of each DB node that `only` accepts, in parallel (status asks the data
 * nodes over the connection that lists their rewind records, and the others here).
 */
export async function probeDisks(
  d: Deployment,
  opts: { env: NodeJS.ProcessEnv; timeoutMs?: number },
  only: (n: DbNodeConfig) => boolean = () => true,
): Promise<DiskUsage[]> {
  const results = await Promise.all(
    d.database.nodes.filter(only).map(async (n) => {
      const c = diskCommand(d, n);
      if (!c) return undefined;
      try {
        const r = await sshExec(n, c.command, probeSshOptions(opts.env, opts.timeoutMs));
        return r.code === 0 ? parseDisk(n.name, c.path, r.stdout) : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return results.filter((x): x is DiskUsage => x !== undefined);
}

/** "12.3 GB" */
export function fmtKb(kb: number): string {
  if (kb >= 1024 * 1024) return `${(kb / 1024 / 1024).toFixed(1)} GB`;
  if (kb >= 1024) return `${(kb / 1024).toFixed(0)} MB`;
  return `${kb} kB`;
}

/** A size in bytes, as fmtKb shows it (bytes below 1 kB). */
export function fmtSize(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : fmtKb(Math.round(bytes / 1024));
}

/** A full data filesystem as a reason, a filling one as a warning. */
export function diskVerdict(disks: ReadonlyArray<DiskUsage>): { reasons: string[]; warnings: string[] } {
  const reasons: string[] = [];
  const warnings: string[] = [];
  for (const u of disks) {
    const what = `${u.node}'s data filesystem (${u.mount}) is ${u.usedPercent}% full, ${fmtKb(u.availableKb)} free of ${fmtKb(u.sizeKb)}`;
    if (u.usedPercent >= DISK_FULL_PERCENT) reasons.push(`${what}: PostgreSQL stops when it cannot write WAL; free space or grow the filesystem now`);
    else if (u.usedPercent >= DISK_WARN_PERCENT)
      warnings.push(
        `${what}: plan more space (what grows: the database, WAL kept for standbys, rewind records and logs; docs/operations.md, "A filling disk")`,
      );
  }
  return { reasons, warnings };
}
