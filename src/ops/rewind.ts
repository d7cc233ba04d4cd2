/**
 * Rewind records of the reconciliation service (docs/reliability.md, "Self-healing"): natively on
 * each data node, in the Docker topologies on each data node's Docker host (the service runs on
 * the host and acts on the container, src/render/docker-reconcile.ts).
 *
 * Before `repmgr node rejoin --force-rewind` discards what a node wrote after the fork, the
 * service writes /var/lib/ems-ha/rewind-<node>-<timestamp>.txt on that host: its timeline and
 * last LSN, the new primary's fork point, and the WAL range that will be discarded. `ems-ha
 * status` lists these files (over SSH) until an operator reviews them and runs `ems-ha
 * ack-rewind NODE`, which prints and removes them.
 *
 * $EMS_HA_STATE_DIR replaces /var/lib/ems-ha (the service honours the same variable; tests).
 */
import { ConfigError } from "../config/errors";
import type { DbNodeConfig, Deployment } from "../config/schema";
import { STATE_DIR } from "../render/native/layout";
import { DISK_MARK, diskCommand, parseDisk, type DiskUsage } from "./disk";
import { probeSshOptions, shellQuote, sshExec } from "./ssh";

export const STATE_DIR_ENV = "EMS_HA_STATE_DIR";

export interface RewindMarker {
  readonly node: string;
  /** Path of the record on the node. */
  readonly file: string;
  /** Its first lines. */
  readonly summary: string[];
}

export interface MarkerOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Milliseconds per SSH call. @default 20000 */
  readonly timeoutMs?: number;
  /** Also read each data node's data filesystem (src/ops/disk.ts), over the same connection. @default false */
  readonly disks?: boolean;
}

export function stateDir(env: NodeJS.ProcessEnv): string {
  return env[STATE_DIR_ENV] || STATE_DIR;
}

const SUMMARY_LINES = 8;
const MARK = "==> ";
const FENCED = "==F ";
const CONTAINER = "==C ";

/**
 * The shell command that prints every record of one node (each preceded by "==> path"), and the
 * fence marker ("==F <time> <node>") when the node fenced itself; with `container` (Docker hosts),
 * also whether that container runs ("==C true|false").
 */
export function listMarkersCommand(dir: string, node: string, container?: string): string {
  const glob = `${shellQuote(dir)}/rewind-${shellQuote(node)}-*.txt`;
  const fence = `${shellQuote(dir)}/fenced`;
  const running =
    container === undefined
      ? ""
      : ` printf '${CONTAINER}%s\\n' "$(timeout 30 docker inspect -f '{{.State.Running}}' ${shellQuote(container)} 2>/dev/null || echo unknown)";`;
  return `for f in ${glob}; do if [ -f "$f" ]; then printf '${MARK}%s\\n' "$f"; head -n ${SUMMARY_LINES} "$f"; fi; done; if [ -f ${fence} ]; then printf '${FENCED}%s\\n' "$(head -n 1 ${fence})";${running} fi; true`;
}

/** A data node that stopped its PostgreSQL because it saw no majority (docs/reliability.md). */
export interface FenceMarker {
  readonly node: string;
  /** When (UTC), as the service wrote it. */
  readonly since: string;
  /** Docker hosts: the node's container is not running (a host or Docker restart while fenced), so the service cannot repair it. @default false */
  readonly containerStopped?: boolean;
}

/** The fence marker in the output of listMarkersCommand, when it names this node. */
export function parseFence(node: string, output: string): FenceMarker | undefined {
  const lines = output.split("\n");
  for (const line of lines) {
    if (!line.startsWith(FENCED)) continue;
    const text = line.slice(FENCED.length).trim();
    if (!text.endsWith(` ${node}`)) continue;
    const stopped = lines.some((l) => l.startsWith(CONTAINER) && l.slice(CONTAINER.length).trim() === "false");
    return { node, since: text.slice(0, -node.length - 1), ...(stopped ? { containerStopped: true } : {}) };
  }
  return undefined;
}

/** Parses the output of listMarkersCommand. */
export function parseMarkers(node: string, output: string): RewindMarker[] {
  const out: Array<{ node: string; file: string; summary: string[] }> = [];
  for (const line of output.split("\n")) {
    if (line.startsWith(MARK)) out.push({ node, file: line.slice(MARK.length).trim(), summary: [] });
    else if (line.startsWith(FENCED) || line.startsWith(CONTAINER) || line.startsWith(DISK_MARK)) continue;
    else if (out.length > 0 && line.trim() !== "") out[out.length - 1]!.summary.push(line);
  }
  return out;
}

/** Topologies whose DB hosts run the reconciliation service (the stacks install it). */
export const RECONCILED_TOPOLOGIES: ReadonlySet<string> = new Set(["native-single-region", "single-region", "geo-redundant"]);

/** Data nodes of a deployment whose hosts run the reconciliation service (the only ones it rewinds). */
function reconciledDataNodes(d: Deployment): DbNodeConfig[] {
  return d.database.nodes.filter((n) => markersAsked(d, n));
}

/** Reads the records of every such data node (and with `disks`, its data filesystem); a node that cannot be asked is a warning. */
export async function findRewindMarkers(
  d: Deployment,
  opts: MarkerOptions,
): Promise<{ markers: RewindMarker[]; fenced: FenceMarker[]; warnings: string[]; disks: DiskUsage[] }> {
  const dir = stateDir(opts.env);
  const results = await Promise.all(
    reconciledDataNodes(d).map(async (n) => {
      const disk = opts.disks ? diskCommand(d, n) : undefined;
      try {
        // Docker topologies: the container is named after the node (render/bitnami)
        const listing = listMarkersCommand(dir, n.name, d.topology === "native-single-region" ? undefined : n.name);
        const r = await sshExec(n, disk ? `${listing}; ${disk.command}` : listing, probeSshOptions(opts.env, opts.timeoutMs));
        if (r.code !== 0) return { markers: [], fenced: undefined, warning: `could not list rewind records on ${n.name}: exit ${r.code}`, disk: undefined };
        return {
          markers: parseMarkers(n.name, r.stdout),
          fenced: parseFence(n.name, r.stdout),
          warning: undefined,
          disk: disk ? parseDisk(n.name, disk.path, r.stdout) : undefined,
        };
      } catch (e) {
        return { markers: [], fenced: undefined, warning: `could not look for rewind records on ${n.name}: ${(e as Error).message}`, disk: undefined };
      }
    }),
  );
  return {
    markers: results.flatMap((r) => r.markers),
    fenced: results.flatMap((r) => (r.fenced ? [r.fenced] : [])),
    warnings: results.flatMap((r) => (r.warning ? [r.warning] : [])),
    disks: results.flatMap((r) => (r.disk ? [r.disk] : [])),
  };
}

/** Whether findRewindMarkers asks this node (a data node of a topology whose hosts run the reconciliation service). */
export function markersAsked(d: Deployment, n: DbNodeConfig): boolean {
  return RECONCILED_TOPOLOGIES.has(d.topology) && n.role === "data";
}

/** Prints and removes a node's records. */
export async function ackRewind(d: Deployment, name: string, opts: MarkerOptions): Promise<{ ok: boolean; message: string; records: string }> {
  if (!RECONCILED_TOPOLOGIES.has(d.topology)) {
    throw new ConfigError([
      {
        path: "topology",
        value: d.topology,
        message: "rewind records are kept by the reconciliation service, which this topology's hosts do not run",
        fix: `use ack-rewind with a deployment of topology ${[...RECONCILED_TOPOLOGIES].join(", ")}`,
      },
    ]);
  }
  const node = d.database.nodes.find((n) => n.name === name && n.role === "data");
  if (!node) {
    throw new ConfigError([
      {
        path: "NODE",
        value: name,
        message: "no data node has this name",
        fix: `name a data node: ${reconciledDataNodes(d)
          .map((n) => n.name)
          .join(", ")}`,
      },
    ]);
  }
  const dir = stateDir(opts.env);
  const glob = `${shellQuote(dir)}/rewind-${shellQuote(node.name)}-*.txt`;
  const command = `found=0; for f in ${glob}; do if [ -f "$f" ]; then found=1; printf '${MARK}%s\\n' "$f"; cat "$f"; rm -f "$f" || exit 1; fi; done; [ "$found" = 1 ] || echo 'no rewind records'`;
  const r = await sshExec(node, command, { env: opts.env, timeoutMs: opts.timeoutMs ?? 20_000 });
  if (r.code !== 0) return { ok: false, message: `removing the records on ${name} failed (exit ${r.code}): ${r.stderr.trim()}`, records: r.stdout };
  const count = parseMarkers(name, r.stdout).length;
  return {
    ok: true,
    message: count > 0 ? `${count} rewind record(s) of ${name} acknowledged and removed` : `${name} has no rewind records`,
    records: r.stdout,
  };
}
