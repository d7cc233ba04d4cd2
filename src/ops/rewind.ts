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
 * What the service keeps besides (docs/operations.md, "What self-healing keeps"): the WAL segments a
 * rewind discards, copied next to the record (rewind-<node>-<timestamp>.wal/), and natively the
 * whole data directory set aside before a re-clone (<data directory>.pre-rejoin-<time>). Status
 * lists both with their sizes, since they stay until someone removes them; `ack-rewind
 * --remove-wal` removes the saved WAL. A set-aside data directory is the only copy of what the
 * node had written and is only ever removed by hand.
 *
 * $EMS_HA_STATE_DIR replaces /var/lib/ems-ha (the service honours the same variable; tests).
 */
import { ConfigError } from "../config/errors";
import type { DbNodeConfig, Deployment } from "../config/schema";
import { nativeLayout, nativeSettings, STATE_DIR } from "../render/native/layout";
import { DISK_MARK, diskCommand, fmtKb, parseDisk, printable, type DiskUsage } from "./disk";
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
  /** Also list what the service kept on each data node's host (keptCommand), over the same connection. @default false */
  readonly kept?: boolean;
}

export function stateDir(env: NodeJS.ProcessEnv): string {
  return env[STATE_DIR_ENV] || STATE_DIR;
}

const SUMMARY_LINES = 8;
const MARK = "==> ";
const FENCED = "==F ";
const CONTAINER = "==C ";
const KEPT = "==K ";

/** The UTC time in the service's file names (`date -u +%Y%m%dT%H%M%SZ`), as a shell pattern. */
const STAMP_GLOB = `${"[0-9]".repeat(8)}T${"[0-9]".repeat(6)}Z`;

/**
 * The shell pattern of one node's records (`txt`) or saved WAL (`wal`). The time is matched
 * digit by digit, so node pg-1's pattern does not take pg-1-b's files (names are lowercase: no
 * node name ends in such a time).
 */
export function recordGlob(dir: string, node: string, ext: "txt" | "wal"): string {
  return `${shellQuote(dir)}/rewind-${shellQuote(node)}-${STAMP_GLOB}.${ext}`;
}

/** Something the reconciliation service kept on a host that stays until it is removed. */
export interface KeptCopy {
  readonly node: string;
  /** `rewind-wal`: the WAL segments a rewind discarded; `old-data-dir`: a data directory set aside before a re-clone (native). */
  readonly kind: "rewind-wal" | "old-data-dir";
  readonly path: string;
  /** Its size (du -sk); null when it could not be measured (du must read it, which the SSH user may not, within 5 s). */
  readonly kb: number | null;
  /** rewind-wal: its record was acknowledged (removed), so only the WAL is left. */
  readonly acknowledged?: boolean;
}

/** Prints KEPT, the size in kB (or -: du could not read it, or took over 5 s, within the status probe's SSH time) and, after a tab, the path of `$k`. */
const PRINT_KEPT = `if s=$(timeout 5 du -sk -- "$k" 2>/dev/null); then s=\${s%%[[:space:]]*}; else s=-; fi; printf '${KEPT}%s\\t%s\\n' "$s" "$k"`;

/**
 * The shell command that prints one line per directory the service kept for this node: its saved
 * WAL and, given the node's data directory (native), the data directories set aside.
 */
export function keptCommand(dir: string, node: string, dataDir?: string): string {
  const globs = [recordGlob(dir, node, "wal"), ...(dataDir === undefined ? [] : [`${shellQuote(dataDir)}.pre-rejoin-*`])];
  return `for k in ${globs.join(" ")}; do if [ -d "$k" ]; then ${PRINT_KEPT}; fi; done; true`;
}

/** The kept directories in keptCommand's output; a saved WAL is `acknowledged` when no record of `records` names it. */
export function parseKept(node: string, output: string, records: ReadonlyArray<RewindMarker>): KeptCopy[] {
  const open = new Set(records.map((r) => r.file.replace(/\.txt$/, ".wal")));
  const out: KeptCopy[] = [];
  for (const line of output.split("\n")) {
    if (!line.startsWith(KEPT)) continue;
    const tab = line.indexOf("\t");
    if (tab < 0) continue;
    const size = line.slice(KEPT.length, tab).trim();
    const path = printable(line.slice(tab + 1));
    const kb = /^\d+$/.test(size) ? Number(size) : null;
    if (/\.wal$/.test(path)) out.push({ node, kind: "rewind-wal", path, kb, acknowledged: !open.has(path) });
    else out.push({ node, kind: "old-data-dir", path, kb });
  }
  return out;
}

/**
 * The shell command that prints every record of one node (each preceded by "==> path"), and the
 * fence marker ("==F <time> <node>") when the node fenced itself; with `container` (Docker hosts),
 * also whether that container runs ("==C true|false").
 */
export function listMarkersCommand(dir: string, node: string, container?: string): string {
  const glob = recordGlob(dir, node, "txt");
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
    else if (line.startsWith(FENCED) || line.startsWith(CONTAINER) || line.startsWith(DISK_MARK) || line.startsWith(KEPT)) continue;
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

/** Reads the records of every such data node (with `disks`, its data filesystem; with `kept`, what the service kept); a node that cannot be asked is a warning. */
export async function findRewindMarkers(
  d: Deployment,
  opts: MarkerOptions,
): Promise<{ markers: RewindMarker[]; fenced: FenceMarker[]; warnings: string[]; disks: DiskUsage[]; kept: KeptCopy[] }> {
  const dir = stateDir(opts.env);
  const native = d.topology === "native-single-region";
  const results = await Promise.all(
    reconciledDataNodes(d).map(async (n) => {
      const disk = opts.disks ? diskCommand(d, n) : undefined;
      // Docker topologies: the container is named after the node (render/bitnami)
      const commands = [listMarkersCommand(dir, n.name, native ? undefined : n.name)];
      if (disk) commands.push(disk.command);
      if (opts.kept) commands.push(keptCommand(dir, n.name, native ? nativeLayout(nativeSettings(d).pgVersion).dataDir : undefined));
      try {
        const r = await sshExec(n, commands.join("; "), probeSshOptions(opts.env, opts.timeoutMs));
        if (r.code !== 0) return { warning: `could not list rewind records on ${n.name}: exit ${r.code}` };
        const markers = parseMarkers(n.name, r.stdout);
        return {
          markers,
          fenced: parseFence(n.name, r.stdout),
          disk: disk ? parseDisk(n.name, disk.path, r.stdout) : undefined,
          kept: parseKept(n.name, r.stdout, markers),
        };
      } catch (e) {
        return { warning: `could not look for rewind records on ${n.name}: ${(e as Error).message}` };
      }
    }),
  );
  return {
    markers: results.flatMap((r) => r.markers ?? []),
    fenced: results.flatMap((r) => r.fenced ?? []),
    warnings: results.flatMap((r) => r.warning ?? []),
    disks: results.flatMap((r) => r.disk ?? []),
    kept: results.flatMap((r) => r.kept ?? []),
  };
}

/** Whether findRewindMarkers asks this node (a data node of a topology whose hosts run the reconciliation service). */
export function markersAsked(d: Deployment, n: DbNodeConfig): boolean {
  return RECONCILED_TOPOLOGIES.has(d.topology) && n.role === "data";
}

/** Prints and removes a node's records; with `removeWal`, also removes its saved WAL (of these records and of those acknowledged before). */
export async function ackRewind(
  d: Deployment,
  name: string,
  opts: MarkerOptions & { readonly removeWal?: boolean },
): Promise<{ ok: boolean; message: string; records: string; kept: KeptCopy[]; walRemoved: boolean }> {
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
  const records = `found=0; for f in ${recordGlob(dir, node.name, "txt")}; do if [ -f "$f" ]; then found=1; printf '${MARK}%s\\n' "$f"; cat "$f"; rm -f "$f" || exit 1; fi; done; [ "$found" = 1 ] || echo 'no rewind records'`;
  // the saved WAL is listed (with its size) before it is removed, so the message can say what went
  const wal = `for k in ${recordGlob(dir, node.name, "wal")}; do if [ -d "$k" ]; then ${PRINT_KEPT}; ${opts.removeWal ? `rm -rf -- "$k" || exit 1; ` : ""}fi; done`;
  const r = await sshExec(node, `${records}; ${wal}`, { env: opts.env, timeoutMs: opts.timeoutMs ?? 20_000 });
  // printed records are not kept lines, and kept lines are not part of a record
  const text = r.stdout
    .split("\n")
    .filter((l) => !l.startsWith(KEPT))
    .join("\n");
  const kept = parseKept(name, r.stdout, []);
  const walRemoved = !!opts.removeWal && r.code === 0;
  if (r.code !== 0)
    return { ok: false, message: `removing the records on ${name} failed (exit ${r.code}): ${r.stderr.trim()}`, records: text, kept, walRemoved: false };
  const count = parseMarkers(name, text).length;
  const saved = kept.length === 0 ? "" : `${kept.length} saved WAL director${kept.length === 1 ? "y" : "ies"}${keptSize(kept)}`;
  const walNote = saved === "" ? "" : opts.removeWal ? `; ${saved} removed` : `; ${saved} kept for inspection (remove with --remove-wal)`;
  return {
    ok: true,
    message: (count > 0 ? `${count} rewind record(s) of ${name} acknowledged and removed` : `${name} has no rewind records`) + walNote,
    records: text,
    kept,
    walRemoved,
  };
}

/** " (12 MB)", or "" when no size is known. */
function keptSize(kept: ReadonlyArray<KeptCopy>): string {
  const known = kept.filter((k) => k.kb !== null);
  if (known.length === 0) return "";
  const kb = known.reduce((a, k) => a + k.kb!, 0);
  return ` (${known.length < kept.length ? "at least " : ""}${fmtKb(kb)})`;
}
