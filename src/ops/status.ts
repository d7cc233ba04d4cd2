/**
 * The state of a deployed cluster: each DB node's role and lag, repmgr's view,
 * each EMS node's services; `degraded` with the reasons.
 *
 * Degraded when: not exactly one writable primary among the data nodes, a data node
 * unreachable, a standby not streaming, an EMS node unreachable or missing the services
 * every EMS node runs, or no EMS node runs the primary's full list.
 * Warnings (not degraded): an unreachable witness, repmgr metadata that disagrees with
 * what the nodes answer.
 *
 * EMS services are read with `systemctl --all --type=service` over SSH; the command can be
 * replaced with $EMS_HA_SYSTEMCTL (a test and diagnostic hook).
 */
import type { DbNodeConfig, Deployment, EmsNodeConfig } from "../config/schema";
import { expectedServices, missingServices, type EmsRole } from "../render/ems-services";
import { maskSecrets, probeDatabase, secretsFromEnv, type DbProbe, type DbSecrets, type PgTimeouts, type RepmgrNodeRow } from "./pg";
import { sshExec, type SshExecOptions } from "./ssh";

export const SYSTEMCTL_ENV = "EMS_HA_SYSTEMCTL";

export type DbRole = "primary" | "standby" | "witness" | "unknown";

export interface DbNodeStatus {
  readonly name: string;
  readonly address: string;
  /** The configured role: data or witness. */
  readonly kind: "data" | "witness";
  readonly reachable: boolean;
  readonly role: DbRole;
  readonly error?: string;
  /** Standby: WAL bytes not yet replayed (from the primary's pg_stat_replication when it lists the standby, else the standby's own receive − replay). */
  readonly lagBytes?: number;
  /** Standby: seconds behind (replay_lag on the primary, else now() − last replayed commit; 0 when fully replayed). */
  readonly lagSeconds?: number;
  /** Standby: its WAL receiver streams. */
  readonly streaming?: boolean;
  /** Standby: the host it streams from. */
  readonly upstream?: string;
  readonly repmgrView?: RepmgrNodeRow[];
  readonly repmgrError?: string;
}

export interface EmsNodeStatus {
  readonly name: string;
  readonly address: string;
  readonly reachable: boolean;
  /** primary: runs the primary's full list; secondary: runs what every EMS node runs; unknown otherwise. */
  readonly role: EmsRole | "unknown";
  /** Services every EMS node runs (the secondary's list) that are not running; empty for a primary or secondary. */
  readonly missing: string[];
  readonly error?: string;
}

export interface ClusterStatus {
  readonly name: string;
  readonly topology: string;
  readonly dbNodes: DbNodeStatus[];
  /** Data nodes that answer and are not in recovery. */
  readonly writablePrimaries: string[];
  readonly emsNodes: EmsNodeStatus[];
  /** When the EMS nodes were not checked (appliances), why. */
  readonly emsNotChecked?: string;
  readonly degraded: boolean;
  readonly reasons: string[];
  readonly warnings: string[];
}

function sameHost(a: string | null | undefined, b: string): boolean {
  return !!a && a.toLowerCase() === b.toLowerCase();
}

/** One DB node's status from its probe (and the primary's, for the lag as the primary sees it). */
export function dbNodeStatus(node: DbNodeConfig, probe: DbProbe, primary?: DbProbe): DbNodeStatus {
  const base = { name: node.name, address: node.address, kind: node.role, repmgrView: probe.repmgrView, repmgrError: probe.repmgrError };
  if (!probe.reachable) return { ...base, reachable: false, role: "unknown", error: probe.error };
  if (node.role === "witness") return { ...base, reachable: true, role: "witness" };
  if (!probe.inRecovery) return { ...base, reachable: true, role: "primary" };
  const seen = primary?.replicas?.find((r) => r.applicationName === node.name || sameHost(r.clientAddr, node.address));
  return {
    ...base,
    reachable: true,
    role: "standby",
    streaming: probe.walReceiver === "streaming",
    upstream: probe.upstreamHost ?? undefined,
    lagBytes: seen?.lagBytes ?? probe.lagBytes,
    lagSeconds: seen?.replayLagSeconds ?? probe.lagSeconds,
  };
}

export interface DatabaseVerdict {
  readonly dbNodes: DbNodeStatus[];
  readonly writablePrimaries: string[];
  readonly reasons: string[];
  readonly warnings: string[];
}

/** The repmgr metadata disagrees with what the nodes answer. */
function repmgrWarnings(nodes: ReadonlyArray<DbNodeStatus>, writable: ReadonlyArray<string>): string[] {
  const source = nodes.find((n) => writable.includes(n.name) && n.repmgrView) ?? nodes.find((n) => n.repmgrView);
  if (!source?.repmgrView) {
    const failed = nodes.find((n) => n.reachable && n.repmgrError);
    return failed ? [`repmgr metadata could not be read on ${failed.name}: ${failed.repmgrError}`] : [];
  }
  const view = source.repmgrView;
  const out: string[] = [];
  for (const n of nodes) {
    const row = view.find((r) => r.nodeName === n.name);
    if (!row) out.push(`${n.name} is not registered in repmgr.nodes (as read on ${source.name})`);
    else if (!row.active) out.push(`${n.name} is marked inactive in repmgr.nodes (as read on ${source.name})`);
  }
  for (const r of view) {
    if (r.type === "primary" && r.active && writable.length === 1 && r.nodeName !== writable[0]) {
      out.push(`repmgr.nodes (as read on ${source.name}) names ${r.nodeName} as primary, but ${writable[0]} is the writable one`);
    }
  }
  return out;
}

export function evaluateDatabase(d: Deployment, probes: ReadonlyMap<string, DbProbe>): DatabaseVerdict {
  const unreachable: DbProbe = { reachable: false, error: "not probed" };
  const writable = d.database.nodes.filter((n) => n.role === "data" && probes.get(n.name)?.reachable && probes.get(n.name)?.inRecovery === false).map((n) => n.name);
  const primaryProbe = writable.length === 1 ? probes.get(writable[0]!) : undefined;
  const dbNodes = d.database.nodes.map((n) => dbNodeStatus(n, probes.get(n.name) ?? unreachable, primaryProbe));
  const reasons: string[] = [];
  const warnings: string[] = [];
  if (writable.length === 0) reasons.push("no writable primary answers");
  if (writable.length > 1) reasons.push(`${writable.length} writable primaries (split brain): ${writable.join(", ")}`);
  for (const n of dbNodes) {
    if (!n.reachable && n.kind === "data") reasons.push(`data node ${n.name} is unreachable: ${n.error ?? "no answer"}`);
    if (!n.reachable && n.kind === "witness") warnings.push(`witness ${n.name} is unreachable (automatic failover may lack a majority): ${n.error ?? "no answer"}`);
    if (n.role === "standby" && !n.streaming) reasons.push(`standby ${n.name} is not streaming from a primary`);
  }
  warnings.push(...repmgrWarnings(dbNodes, writable));
  return { dbNodes, writablePrimaries: writable, reasons, warnings };
}

/** Unit names that are loaded and active in `systemctl --all --type=service --no-legend --plain` output. */
export function runningUnits(systemctlOutput: string): string[] {
  const units: string[] = [];
  for (const raw of systemctlOutput.split("\n")) {
    const cols = raw.replace(/^[\s●*]+/, "").split(/\s+/);
    if (cols.length < 3 || !cols[0]) continue;
    const [unit, load, active] = cols;
    if (load === "loaded" && active === "active") units.push(unit!.replace(/\.service$/, ""));
  }
  return units;
}

/** An EMS node's role and missing services from the units it runs. */
export function emsNodeStatus(node: Pick<EmsNodeConfig, "name" | "address">, running: ReadonlyArray<string> | { error: string }): EmsNodeStatus {
  const base = { name: node.name, address: node.address };
  if (!Array.isArray(running)) return { ...base, reachable: false, role: "unknown", missing: [], error: (running as { error: string }).error };
  if (missingServices("primary", running).length === 0) return { ...base, reachable: true, role: "primary", missing: [] };
  const missing = missingServices("secondary", running);
  return { ...base, reachable: true, role: missing.length === 0 ? "secondary" : "unknown", missing };
}

export function evaluateEms(nodes: ReadonlyArray<EmsNodeStatus>): { reasons: string[] } {
  const reasons: string[] = [];
  for (const n of nodes) {
    if (!n.reachable) reasons.push(`EMS node ${n.name} is unreachable: ${n.error ?? "no answer"}`);
    else if (n.missing.length > 0) reasons.push(`EMS node ${n.name} is missing services: ${n.missing.join(", ")}`);
  }
  if (!nodes.some((n) => n.role === "primary")) {
    reasons.push(`no EMS node runs the primary's ${expectedServices("primary").length} services`);
  }
  return { reasons };
}

export function systemctlCommand(env: NodeJS.ProcessEnv): string {
  return `${env[SYSTEMCTL_ENV] || "systemctl"} --all --type=service --no-legend --plain --no-pager`;
}

export interface StatusOptions extends PgTimeouts {
  readonly env: NodeJS.ProcessEnv;
  /** Milliseconds per SSH call. @default 20000 */
  readonly sshTimeoutMs?: number;
}

async function probeEms(node: EmsNodeConfig, opts: StatusOptions, secrets: DbSecrets): Promise<EmsNodeStatus> {
  const ssh: SshExecOptions = { env: opts.env, connectTimeoutMs: Math.min(opts.sshTimeoutMs ?? 20_000, 10_000), timeoutMs: opts.sshTimeoutMs ?? 20_000 };
  try {
    const r = await sshExec(node, systemctlCommand(opts.env), ssh);
    if (r.code !== 0) return emsNodeStatus(node, { error: maskSecrets(`systemctl exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`, secrets) });
    return emsNodeStatus(node, runningUnits(r.stdout));
  } catch (e) {
    return emsNodeStatus(node, { error: maskSecrets((e as Error).message, secrets) });
  }
}

/** Asks every DB node (PostgreSQL) and every EMS node (SSH), in parallel. */
export async function gatherStatus(d: Deployment, opts: StatusOptions): Promise<ClusterStatus> {
  const secrets = secretsFromEnv(opts.env);
  const appliances = d.topology === "vm-appliances";
  const [probes, emsNodes] = await Promise.all([
    probeDatabase(d, { ...opts, secrets }),
    appliances ? Promise.resolve([] as EmsNodeStatus[]) : Promise.all(d.emsNodes.map((n) => probeEms(n, opts, secrets))),
  ]);
  const db = evaluateDatabase(d, probes);
  const ems = appliances ? { reasons: [] } : evaluateEms(emsNodes);
  const reasons = [...db.reasons, ...ems.reasons];
  return {
    name: d.name,
    topology: d.topology,
    dbNodes: db.dbNodes,
    writablePrimaries: db.writablePrimaries,
    emsNodes,
    emsNotChecked: appliances ? "EMS VM appliances have no shell: their services are not checked" : undefined,
    degraded: reasons.length > 0,
    reasons,
    warnings: db.warnings,
  };
}

function fmtBytes(n: number | undefined): string {
  if (n === undefined) return "-";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function fmtSeconds(n: number | undefined): string {
  return n === undefined ? "-" : `${n.toFixed(1)} s`;
}

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(head), ...rows.map(line)];
}

/** Human-readable rendering of a status. */
export function renderStatusTable(s: ClusterStatus): string {
  const out: string[] = [`Deployment ${s.name} (${s.topology}): ${s.degraded ? "DEGRADED" : "healthy"}`, "", "Database nodes:"];
  out.push(
    ...table(
      ["NODE", "ADDRESS", "KIND", "REACHABLE", "ROLE", "STREAMING", "LAG", "LAG TIME"],
      s.dbNodes.map((n) => [
        n.name,
        n.address,
        n.kind,
        n.reachable ? "yes" : "no",
        n.role,
        n.role === "standby" ? (n.streaming ? "yes" : "no") : "-",
        n.role === "standby" ? fmtBytes(n.lagBytes) : "-",
        n.role === "standby" ? fmtSeconds(n.lagSeconds) : "-",
      ]),
    ).map((l) => `  ${l}`),
  );
  const viewFrom = s.dbNodes.find((n) => s.writablePrimaries.includes(n.name) && n.repmgrView) ?? s.dbNodes.find((n) => n.repmgrView);
  if (viewFrom?.repmgrView) {
    out.push("", `repmgr.nodes (as read on ${viewFrom.name}):`);
    const byId = new Map(viewFrom.repmgrView.map((r) => [r.nodeId, r.nodeName]));
    out.push(
      ...table(
        ["ID", "NAME", "TYPE", "ACTIVE", "UPSTREAM", "LOCATION", "PRIORITY"],
        viewFrom.repmgrView.map((r) => [String(r.nodeId), r.nodeName, r.type, r.active ? "yes" : "no", r.upstreamNodeId === null ? "-" : byId.get(r.upstreamNodeId) ?? String(r.upstreamNodeId), r.location, String(r.priority)]),
      ).map((l) => `  ${l}`),
    );
  }
  out.push("", "EMS nodes:");
  if (s.emsNotChecked) out.push(`  ${s.emsNotChecked}`);
  else {
    out.push(
      ...table(
        ["NODE", "ADDRESS", "REACHABLE", "ROLE", "MISSING"],
        s.emsNodes.map((n) => [n.name, n.address, n.reachable ? "yes" : "no", n.role, n.reachable ? n.missing.join(", ") || "-" : "-"]),
      ).map((l) => `  ${l}`),
    );
  }
  const errors = [...s.dbNodes, ...s.emsNodes].filter((n) => n.error);
  if (errors.length > 0) out.push("", "Errors:", ...errors.map((n) => `  ${n.name}: ${n.error}`));
  if (s.reasons.length > 0) out.push("", "Degraded because:", ...s.reasons.map((r) => `  - ${r}`));
  if (s.warnings.length > 0) out.push("", "Warnings:", ...s.warnings.map((w) => `  - ${w}`));
  return out.join("\n");
}
