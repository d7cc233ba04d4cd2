/**
 * The state of a deployed cluster: each DB node's role and lag, repmgr's view,
 * each EMS node's services; `degraded` with the reasons.
 *
 * Degraded when: not exactly one writable primary among the data nodes, a data node
 * unreachable, a standby not streaming from the primary (not streaming, streaming from
 * another node, or on a timeline that forked from the primary's), a witness whose repmgr
 * metadata names another node than the primary as its upstream, repmgrd not running or
 * paused on a node, nobody to promote if the primary failed now (the repmgr failover model
 * of src/analysis/failover, run on the nodes that are fit to vote), synchronous replication
 * configured but no synchronous standby connected or the primary's list empty (sync-status.ts), a rewind whose record
 * no operator has acknowledged (native and Docker hosts), an EMS node unreachable or missing the services
 * every EMS node runs, or no EMS node runs the primary's full list.
 * Warnings (not degraded): an unreachable witness, repmgr metadata that disagrees with
 * what the nodes answer, repmgrd's state unknown, a promotion claim on a witness that still
 * holds for a node that is not the primary.
 *
 * EMS services are read with `systemctl --all --type=service` over SSH; the command can be
 * replaced with $EMS_HA_SYSTEMCTL (a test and diagnostic hook).
 */
import { clusterOf, failover, rankCandidates } from "../analysis/failover";
import type { DbNodeConfig, Deployment, EmsNodeConfig } from "../config/schema";
import { STANDALONE_TOPOLOGIES } from "../config/semantics";
import { electionRepairNote } from "./failover-afterwards";
import { nodeIdOf } from "../config/derive";
import { CLAIM_STANDBY_GRACE_SECONDS, CLAIM_TTL_SECONDS, PROMOTION_CLAIM_TABLE } from "../render/failover-validation";
import { expectedServices, missingServices, type EmsRole } from "../render/ems-services";
import {
  lsnToBigInt,
  maskSecrets,
  probeDatabase,
  secretsFromEnv,
  writableDataNodes,
  type DbProbe,
  type DbSecrets,
  type PgTimeouts,
  type PromotionClaimRow,
  type RepmgrdState,
  type RepmgrNodeRow,
} from "./pg";
import { diskVerdict, fmtKb, fmtSize, probeDisks, type DiskUsage } from "./disk";
import { textTable } from "./text-table";
import { slotVerdict, type SlotStatus } from "./slots";
import { findRewindMarkers, markersAsked, type FenceMarker, type KeptCopy, type RewindMarker } from "./rewind";
import { probeSshOptions, sshExec } from "./ssh";
import { synchronousVerdict, type SynchronousStatus } from "./sync-status";

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
  /** Standby: pg_stat_replication.sync_state on the primary (async, potential, sync, quorum). */
  readonly syncState?: string;
  readonly repmgrView?: RepmgrNodeRow[];
  readonly repmgrError?: string;
  /** Timeline the node writes (primary) or replayed (standby). */
  readonly timeline?: number;
  /** Primary: current WAL position; standby: replayed position. */
  readonly lsn?: string;
  /** repmgrd on this node (running, paused, pid). */
  readonly repmgrd?: RepmgrdState;
  /** Data nodes: whether repmgr.conf sets failover_validation_command; absent when it could not be read. */
  readonly failoverValidation?: boolean;
  /** Witnesses: the promotion claims recorded there; absent when they could not be read. */
  readonly promotionClaims?: PromotionClaim[];
}

/**
 * A claim on a witness to succeed a failed primary (docs/reliability.md, "The witnesses arbitrate"):
 * while it holds, the failover validation lets no other node succeed that primary.
 */
export interface PromotionClaim {
  /** The primary that failed. */
  readonly failed: string;
  /** Its repmgr node id (what the witness's table holds). */
  readonly failedNodeId: number;
  /** The node that claimed its succession. */
  readonly claimer: string;
  readonly ageSeconds: number;
  /**
   * Seconds it still holds: 0 when it no longer does (expired, or its node is the primary now);
   * a claimer answering as a standby holds it CLAIM_STANDBY_GRACE_SECONDS, else CLAIM_TTL_SECONDS.
   */
  readonly holdsForSeconds: number;
}

/** What repmgrd would do if the current primary failed now (src/analysis/failover, repmgr model). */
export interface NextFailover {
  readonly primary: string;
  /** The node that would be promoted, or null (manual promotion). */
  readonly newPrimary: string | null;
  /** Nodes the prediction counts as unable to take part (besides the failed primary), with why. */
  readonly unfit: Array<{ node: string; why: string }>;
  readonly reason: string;
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
  /** If the primary failed now. Absent without exactly one writable primary, and for a standalone server (nothing to fail over to). */
  readonly nextFailover?: NextFailover;
  /** Synchronous replication as the primary reports it; absent when off or without one primary. */
  readonly synchronous?: SynchronousStatus;
  /** Rewinds recorded by the reconciliation service and not yet acknowledged (native and Docker hosts). */
  readonly rewinds: RewindMarker[];
  /** Data nodes that stopped their PostgreSQL because they saw no majority (native). */
  readonly fenced: FenceMarker[];
  /** How full each DB node's data filesystem is (native and Docker topologies; nodes that could not be asked are absent). */
  readonly disks?: DiskUsage[];
  /** The primary's replication slots, with the node each belongs to (src/ops/slots.ts). */
  readonly slots?: SlotStatus[];
  /** What the reconciliation service kept on the data nodes' hosts until someone removes it: saved WAL of rewinds, data directories set aside. */
  readonly kept?: KeptCopy[];
  readonly degraded: boolean;
  readonly reasons: string[];
  readonly warnings: string[];
}

function sameHost(a: string | null | undefined, b: string): boolean {
  return !!a && a.toLowerCase() === b.toLowerCase();
}

/**
 * Whether a host as a standby reports it (its WAL receiver's sender) is this node: natively the
 * node's address, in the Docker topologies its name (the containers reach each other through
 * --add-host name:address, and repmgr's conninfo names the node).
 */
function isNode(host: string | null | undefined, node: Pick<DbNodeConfig, "name" | "address">): boolean {
  return sameHost(host, node.address) || sameHost(host, node.name);
}

/** One DB node's status from its probe (and the primary's, for the lag as the primary sees it). */
export function dbNodeStatus(node: DbNodeConfig, probe: DbProbe, primary?: DbProbe): DbNodeStatus {
  const base = {
    name: node.name,
    address: node.address,
    kind: node.role,
    repmgrView: probe.repmgrView,
    repmgrError: probe.repmgrError,
    timeline: probe.timeline,
    lsn: probe.lsn,
    repmgrd: probe.repmgrd,
    failoverValidation: probe.failoverValidation,
  };
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
    syncState: seen?.syncState,
  };
}

export interface DatabaseVerdict {
  readonly dbNodes: DbNodeStatus[];
  readonly writablePrimaries: string[];
  readonly nextFailover?: NextFailover;
  /** Synchronous replication as the primary reports it, when configured. */
  readonly synchronous?: SynchronousStatus;
  /** The primary's replication slots (src/ops/slots.ts); absent without one primary or when they could not be read. */
  readonly slots?: SlotStatus[];
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

function lsnAfter(a: string, b: string): boolean {
  try {
    return lsnToBigInt(a) > lsnToBigInt(b);
  } catch {
    return false;
  }
}

/**
 * Why a standby that does not stream from the primary cannot simply follow it, from the
 * timelines: on an older timeline and past the point where the primary left it = forked.
 */
export function forkVerdict(name: string, standby: DbProbe, primaryName: string, primary: DbProbe): string | undefined {
  if (standby.timeline === undefined || primary.timeline === undefined || standby.timeline >= primary.timeline) return undefined;
  const sw = primary.history?.find((h) => h.tli === standby.timeline);
  const where = `timeline ${standby.timeline}${standby.lsn ? ` at ${standby.lsn}` : ""}`;
  if (sw && standby.lsn && lsnAfter(standby.lsn, sw.switchpoint)) {
    return `standby ${name} has forked: it is on ${where}, past ${sw.switchpoint} where the primary ${primaryName} left timeline ${standby.timeline} (now on ${primary.timeline}); it needs repmgr node rejoin --force-rewind, which discards its WAL after the fork`;
  }
  if (sw)
    return `standby ${name} is on ${where}, behind the primary ${primaryName}'s switch to a newer timeline at ${sw.switchpoint}: it can follow ${primaryName} (repmgr standby follow)`;
  return `standby ${name} is on ${where}, older than the primary ${primaryName}'s timeline ${primary.timeline}, and does not stream: forked or behind (the primary's timeline history could not be read)`;
}

/** A witness whose own repmgr metadata does not point at the current primary; undefined when it does. */
export function staleWitness(name: string, probe: DbProbe, primaryName: string, primaryView: ReadonlyArray<RepmgrNodeRow> | undefined): string | undefined {
  const view = probe.repmgrView;
  if (!view) return undefined;
  const own = view.find((r) => r.nodeName === name);
  const primaryId = (primaryView ?? view).find((r) => r.nodeName === primaryName)?.nodeId ?? view.find((r) => r.nodeName === primaryName)?.nodeId;
  const fix = `(repmgr witness register --force -h <${primaryName}'s address> on ${name})`;
  if (!own) return `witness ${name} has no record of itself in its repmgr.nodes ${fix}`;
  if (primaryId !== undefined && own.upstreamNodeId !== primaryId) {
    const upstream = own.upstreamNodeId === null ? "no node" : idNamer(view)(own.upstreamNodeId);
    return `witness ${name} is registered with ${upstream}, not with the primary ${primaryName} ${fix}`;
  }
  const named = view.filter((r) => r.type === "primary" && r.active).map((r) => r.nodeName);
  if (named.length !== 1 || named[0] !== primaryName) {
    return `witness ${name}'s copy of repmgr.nodes names ${named.join(", ") || "no node"} as primary, not ${primaryName} ${fix}`;
  }
  return undefined;
}

export function evaluateDatabase(d: Deployment, probes: ReadonlyMap<string, DbProbe>): DatabaseVerdict {
  const unreachable: DbProbe = { reachable: false, error: "not probed" };
  const writable = writableDataNodes(d, probes).map((n) => n.name);
  const primaryName = writable.length === 1 ? writable[0]! : undefined;
  const primaryConfig = d.database.nodes.find((n) => n.name === primaryName);
  const primaryProbe = primaryName ? probes.get(primaryName) : undefined;
  const dbNodes = d.database.nodes.map((n) => dbNodeStatus(n, probes.get(n.name) ?? unreachable, primaryProbe));
  const reasons: string[] = [];
  const warnings: string[] = [];
  /** Nodes that could not take part in an election now, with why. */
  const unfit = new Map<string, string>();
  const addressName = (host: string | undefined) => d.database.nodes.find((x) => isNode(host, x))?.name ?? host ?? "an unknown host";
  const nameOf = nodeNamer(d, probes);
  for (const [i, n] of dbNodes.entries()) {
    const rows = probes.get(n.name)?.promotionClaims;
    if (n.kind !== "witness" || !rows) continue;
    const claims = rows.map((r) => promotionClaim(r, nameOf, primaryName, dbNodes));
    dbNodes[i] = { ...n, promotionClaims: claims };
    for (const c of claims.filter((x) => x.holdsForSeconds > 0)) warnings.push(claimWarning(n.name, c));
  }
  if (writable.length === 0) reasons.push("no writable primary answers");
  if (writable.length > 1) reasons.push(`${writable.length} writable primaries (split brain): ${writable.join(", ")}`);
  for (const n of dbNodes) {
    const probe = probes.get(n.name) ?? unreachable;
    if (!n.reachable) {
      unfit.set(n.name, "unreachable");
      if (n.kind === "data") reasons.push(`data node ${n.name} is unreachable: ${n.error ?? "no answer"}`);
      else warnings.push(`witness ${n.name} is unreachable (automatic failover may lack a majority): ${n.error ?? "no answer"}`);
      continue;
    }
    if (n.role === "standby") {
      if (!n.streaming) {
        unfit.set(n.name, "not streaming");
        reasons.push(`standby ${n.name} is not streaming from a primary`);
        const fork = primaryName && primaryProbe ? forkVerdict(n.name, probe, primaryName, primaryProbe) : undefined;
        if (fork) reasons.push(fork);
      } else if (primaryConfig && !isNode(n.upstream, primaryConfig)) {
        unfit.set(n.name, `streams from ${addressName(n.upstream)}`);
        reasons.push(
          `standby ${n.name} streams from ${addressName(n.upstream)}, not from the primary ${primaryConfig.name} (repmgr standby follow --upstream-node-id of ${primaryConfig.name})`,
        );
      }
    }
    if (n.role === "witness" && primaryName) {
      const stale = staleWitness(n.name, probe, primaryName, primaryProbe?.repmgrView);
      if (stale) {
        unfit.set(n.name, `registered with another node than ${primaryName}`);
        reasons.push(stale);
      }
    }
    const r = n.repmgrd;
    if (r?.running === false) {
      if (!unfit.has(n.name)) unfit.set(n.name, "repmgrd not running");
      reasons.push(`repmgrd is not running on ${n.name} (systemctl start repmgrd)`);
    } else if (r?.paused === true) {
      if (!unfit.has(n.name)) unfit.set(n.name, "repmgrd paused");
      reasons.push(`repmgrd is paused on ${n.name}: automatic failover is off until \`ems-ha resume\``);
    } else if (r && r.running === null) {
      warnings.push(`repmgrd's state on ${n.name} is unknown: ${r.error ?? "repmgr is not in shared_preload_libraries"}`);
    }
    if (probe.failoverValidation === false) warnings.push(noValidationWarning(d, n.name));
  }
  warnings.push(...repmgrWarnings(dbNodes, writable));
  const sync = synchronousVerdict(d, primaryName, primaryProbe);
  reasons.push(...sync.reasons);
  const slots = primaryName && primaryProbe?.slots ? slotVerdict(d, primaryName, primaryProbe.slots, primaryProbe.maxSlotWalKeepSize, nameOf) : undefined;
  warnings.push(...(slots?.warnings ?? []));
  // one standalone server has nothing to fail over to, by design: not a finding
  const nextFailover = primaryName && !STANDALONE_TOPOLOGIES.has(d.topology) ? predictFailover(d, primaryName, probes, unfit) : undefined;
  if (nextFailover && nextFailover.newPrimary === null) reasons.push(`if the primary ${primaryName} fails now, ${nextFailover.reason}`);
  return { dbNodes, writablePrimaries: writable, nextFailover, synchronous: sync.status, slots: slots?.slots, reasons, warnings };
}

/** repmgr node id → node name from rows of repmgr.nodes, later rows winning over `known`; "node id N" for an id none names. */
function idNamer(rows: Iterable<RepmgrNodeRow>, known: ReadonlyMap<number, string> = new Map()): (id: number) => string {
  const names = new Map(known);
  for (const r of rows) names.set(r.nodeId, r.nodeName);
  return (id) => names.get(id) ?? `node id ${id}`;
}

/** repmgr node id → node name: from repmgr.nodes as read anywhere, else as the deployment derives it. */
function nodeNamer(d: Deployment, probes: ReadonlyMap<string, DbProbe>): (id: number) => string {
  const derived = new Map<number, string>();
  d.database.nodes.forEach((n, i) => {
    const id = nodeIdOf(d, n, i);
    if (id !== undefined) derived.set(id, n.name);
  });
  return idNamer(
    [...probes.values()].flatMap((p) => p.repmgrView ?? []),
    derived,
  );
}

/** A witness's claim row with names, and how long it still holds given who answers what now. */
export function promotionClaim(
  r: PromotionClaimRow,
  nameOf: (id: number) => string,
  primary: string | undefined,
  nodes: ReadonlyArray<Pick<DbNodeStatus, "name" | "role">>,
): PromotionClaim {
  const claimer = nameOf(r.claimerId);
  const asStandby = nodes.some((n) => n.name === claimer && n.role === "standby");
  const limit = asStandby ? CLAIM_STANDBY_GRACE_SECONDS : CLAIM_TTL_SECONDS;
  const holdsForSeconds = claimer === primary ? 0 : Math.max(0, limit - r.ageSeconds);
  return { failed: nameOf(r.failedNodeId), failedNodeId: r.failedNodeId, claimer, ageSeconds: r.ageSeconds, holdsForSeconds };
}

/** A claim that still holds: what it blocks and until when. */
export function claimWarning(witness: string, c: PromotionClaim): string {
  return (
    `witness ${witness} holds ${c.claimer}'s claim to succeed ${c.failed} (made ${c.ageSeconds} s ago): for ${c.holdsForSeconds} s more the failover validation lets no other node succeed ${c.failed} ` +
    `(docs/reliability.md, "The witnesses arbitrate"; to release it: psql -d repmgr -c 'delete from ${PROMOTION_CLAIM_TABLE} where failed_node = ${c.failedNodeId}' on ${witness})`
  );
}

/** A data node whose repmgr.conf has no failover_validation_command, and what to do. */
export function noValidationWarning(d: Pick<Deployment, "topology">, node: string): string {
  const fix =
    d.topology === "native-single-region"
      ? "re-apply the deployment (the setup script writes it into /etc/repmgr.conf), then restart repmgrd"
      : "the image did not merge the mounted /bitnami/repmgr/conf/repmgr.conf into its own: check that database.repmgrConfDir on the host holds repmgr.conf and that the image honours REPMGR_MOUNTED_CONF_DIR";
  return `${node}'s repmgr.conf sets no failover_validation_command: two standbys that miss each other in an election can both promote (docs/reliability.md#two-standbys-promoted-at-once); ${fix}`;
}

/** Why a fenced node makes the cluster degraded, and what ends it. */
export function fenceReason(f: FenceMarker): string {
  return f.containerStopped
    ? `${f.node} fenced itself at ${f.since} (it saw no majority of the nodes) and its container has stopped since (a host or Docker restart while fenced): the reconciliation service looks at it from a probe container and starts it once the others answer (docs/reliability.md, "A fenced container that stopped")`
    : `${f.node} fenced itself at ${f.since} (it saw no majority of the nodes): the reconciliation service rejoins or restarts it once the others answer`;
}

/** The repmgr failover model on the nodes as they are: unfit nodes count as down. */
export function predictFailover(d: Deployment, primary: string, probes: ReadonlyMap<string, DbProbe>, unfit: ReadonlyMap<string, string>): NextFailover {
  const nodes = clusterOf(d);
  const lsn: Record<string, bigint> = {};
  for (const n of nodes) {
    const p = probes.get(n.name);
    const at = p?.receiveLsn ?? p?.lsn;
    if (n.name !== primary && at) {
      try {
        lsn[n.name] = lsnToBigInt(at);
      } catch {
        /* unknown position counts as equal */
      }
    }
  }
  const down = [primary, ...nodes.filter((n) => n.name !== primary && unfit.has(n.name)).map((n) => n.name)];
  const o = failover("repmgr", { nodes, primary, down, lsn });
  const unfitList = [...unfit].filter(([n]) => n !== primary).map(([node, why]) => ({ node, why }));
  let reason = o.reason;
  if (o.newPrimary === null && o.manualCandidate === null) {
    // Standbys that stream but whose repmgrd cannot act: nobody automatically, but one can be promoted by hand.
    const idle = nodes.filter((n) => n.role === "data" && n.name !== primary && /^repmgrd /.test(unfit.get(n.name) ?? ""));
    const best = rankCandidates(idle, lsn)[0];
    if (best) {
      reason = `nobody is promoted: ${idle.map((n) => `${unfit.get(n.name)} on ${n.name}`).join(", ")}; needs manual promotion (\`ems-ha promote ${best.name}\`)`;
    }
  }
  const afterwards = electionRepairNote(d, o);
  if (afterwards) reason += `; ${afterwards}`;
  return { primary, newPrimary: o.newPrimary, unfit: unfitList, reason };
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
  const ssh = probeSshOptions(opts.env, opts.sshTimeoutMs);
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
  const [probes, emsNodes, markers, otherDisks] = await Promise.all([
    // a standalone server runs no repmgr: nothing of it to read
    probeDatabase(d, { ...opts, secrets, repmgr: !STANDALONE_TOPOLOGIES.has(d.topology) }),
    appliances ? Promise.resolve([] as EmsNodeStatus[]) : Promise.all(d.emsNodes.map((n) => probeEms(n, opts, secrets))),
    // one SSH connection per data node for its rewind records and its data filesystem; the others' filesystems apart
    findRewindMarkers(d, { env: opts.env, timeoutMs: opts.sshTimeoutMs ?? 20_000, disks: true, kept: true }),
    probeDisks(d, { env: opts.env, timeoutMs: opts.sshTimeoutMs ?? 20_000 }, (n) => !markersAsked(d, n)),
  ]);
  const read = new Map([...markers.disks, ...otherDisks].map((u) => [u.node, u]));
  const disks = d.database.nodes.flatMap((n) => read.get(n.name) ?? []);
  const disk = diskVerdict(disks);
  const db = evaluateDatabase(d, probes);
  const ems = appliances ? { reasons: [] } : evaluateEms(emsNodes);
  const rewindReasons = markers.markers.map(
    (m) =>
      `${m.node} was rewound by the reconciliation service (${m.file}): what it had written after the fork was discarded; review the record, then \`ems-ha ack-rewind ${m.node}\``,
  );
  const fenceReasons = markers.fenced.map(fenceReason);
  const reasons = [...db.reasons, ...fenceReasons, ...rewindReasons, ...disk.reasons, ...ems.reasons];
  return {
    name: d.name,
    topology: d.topology,
    dbNodes: db.dbNodes,
    writablePrimaries: db.writablePrimaries,
    emsNodes,
    emsNotChecked: appliances ? "EMS VM appliances have no shell: their services are not checked" : undefined,
    nextFailover: db.nextFailover,
    synchronous: db.synchronous,
    slots: db.slots,
    rewinds: markers.markers,
    fenced: markers.fenced,
    disks,
    kept: markers.kept,
    degraded: reasons.length > 0,
    reasons,
    warnings: [...db.warnings, ...markers.warnings, ...disk.warnings],
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

function fmtRepmgrd(r: RepmgrdState | undefined): string {
  if (!r) return "-";
  if (r.running === null) return "unknown";
  if (!r.running) return "not running";
  return r.paused ? "PAUSED" : "running";
}

/** Human-readable rendering of a status. */
export function renderStatusTable(s: ClusterStatus): string {
  const out: string[] = [`Deployment ${s.name} (${s.topology}): ${s.degraded ? "DEGRADED" : "healthy"}`, "", "Database nodes:"];
  // The SYNC column (pg_stat_replication.sync_state) only when synchronous replication is configured.
  const sync = s.synchronous !== undefined;
  out.push(
    ...textTable(
      ["NODE", "ADDRESS", "KIND", "REACHABLE", "ROLE", "STREAMING", ...(sync ? ["SYNC"] : []), "LAG", "LAG TIME", "TL", "REPMGRD"],
      s.dbNodes.map((n) => [
        n.name,
        n.address,
        n.kind,
        n.reachable ? "yes" : "no",
        n.role,
        n.role === "standby" ? (n.streaming ? "yes" : "no") : "-",
        ...(sync ? [n.role === "standby" ? (n.syncState ?? "-") : "-"] : []),
        n.role === "standby" ? fmtBytes(n.lagBytes) : "-",
        n.role === "standby" ? fmtSeconds(n.lagSeconds) : "-",
        n.timeline === undefined ? "-" : String(n.timeline),
        fmtRepmgrd(n.repmgrd),
      ]),
    ).map((l) => `  ${l}`),
  );
  if (s.synchronous) {
    const y = s.synchronous;
    out.push(
      "",
      `Synchronous replication (${y.mode}): synchronous_standby_names = ${y.standbyNames === undefined ? "(not read)" : `'${y.standbyNames}'`}; ` +
        `standbys confirming commits now: ${y.synchronousStandbys.join(", ") || "none (commits block)"}`,
    );
  }
  const viewFrom = s.dbNodes.find((n) => s.writablePrimaries.includes(n.name) && n.repmgrView) ?? s.dbNodes.find((n) => n.repmgrView);
  if (viewFrom?.repmgrView) {
    out.push("", `repmgr.nodes (as read on ${viewFrom.name}):`);
    const byId = new Map(viewFrom.repmgrView.map((r) => [r.nodeId, r.nodeName]));
    out.push(
      ...textTable(
        ["ID", "NAME", "TYPE", "ACTIVE", "UPSTREAM", "LOCATION", "PRIORITY"],
        viewFrom.repmgrView.map((r) => [
          String(r.nodeId),
          r.nodeName,
          r.type,
          r.active ? "yes" : "no",
          r.upstreamNodeId === null ? "-" : (byId.get(r.upstreamNodeId) ?? String(r.upstreamNodeId)),
          r.location,
          String(r.priority),
        ]),
      ).map((l) => `  ${l}`),
    );
  }
  if (s.nextFailover) {
    const f = s.nextFailover;
    out.push(
      "",
      f.newPrimary
        ? `If the primary ${f.primary} fails now: ${f.newPrimary} is promoted (${f.reason})`
        : `If the primary ${f.primary} fails now: nobody is promoted; ${f.reason}`,
    );
  } else if (STANDALONE_TOPOLOGIES.has(s.topology) && s.writablePrimaries.length === 1) {
    out.push("", `One standalone server (${s.topology}): no standby, no failover; EMS reaches the database only while ${s.writablePrimaries[0]} answers`);
  }
  const claims = s.dbNodes.flatMap((n) => (n.promotionClaims ?? []).map((c) => ({ witness: n.name, ...c })));
  if (claims.length > 0) {
    out.push("", "Promotion claims on the witnesses:");
    for (const c of claims) {
      const state =
        c.holdsForSeconds > 0
          ? `holds ${c.holdsForSeconds} s more`
          : s.writablePrimaries.includes(c.claimer)
            ? `settled: ${c.claimer} is the primary`
            : "expired";
      out.push(`  ${c.witness}: ${c.claimer} claimed the succession of ${c.failed} ${c.ageSeconds} s ago (${state})`);
    }
  }
  if (s.slots && s.slots.length > 0) {
    out.push("", `Replication slots on the primary ${s.writablePrimaries[0] ?? ""}:`);
    out.push(
      ...textTable(
        ["SLOT", "NODE", "ACTIVE", "HOLDS", "WAL"],
        s.slots.map((x) => [x.name, x.node ?? "-", x.active ? "yes" : "no", x.retainedBytes === null ? "-" : fmtSize(x.retainedBytes), x.walStatus ?? "-"]),
      ).map((l) => `  ${l}`),
    );
  }
  if (s.disks && s.disks.length > 0) {
    out.push("", "Data filesystems:");
    out.push(
      ...textTable(
        ["NODE", "USED", "FREE", "SIZE", "MOUNT"],
        s.disks.map((u) => [u.node, `${u.usedPercent}%`, fmtKb(u.availableKb), fmtKb(u.sizeKb), u.mount]),
      ).map((l) => `  ${l}`),
    );
  }
  if (s.kept && s.kept.length > 0) {
    out.push("", 'Kept by self-healing (remove once reviewed; docs/operations.md, "What self-healing keeps"):');
    out.push(
      ...textTable(
        ["NODE", "WHAT", "SIZE", "PATH"],
        s.kept.map((k) => [
          k.node,
          k.kind === "old-data-dir" ? "data directory set aside" : k.acknowledged ? "saved WAL, acknowledged" : "saved WAL",
          k.kb === null ? "?" : fmtKb(k.kb),
          k.path,
        ]),
      ).map((l) => `  ${l}`),
    );
  }
  if (s.fenced.length > 0) out.push("", ...s.fenced.map((f) => `Fenced: ${f.node} since ${f.since} (no majority seen)`));
  if (s.rewinds.length > 0) {
    out.push("", "Unacknowledged rewinds (review, then ems-ha ack-rewind NODE):");
    for (const m of s.rewinds) out.push(`  ${m.node}: ${m.file}`, ...m.summary.map((l) => `    ${l}`));
  }
  out.push("", "EMS nodes:");
  if (s.emsNotChecked) out.push(`  ${s.emsNotChecked}`);
  else {
    out.push(
      ...textTable(
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
