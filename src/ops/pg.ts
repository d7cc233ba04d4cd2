/**
 * Asking each PostgreSQL node of a deployment what it is: reachable, in recovery or
 * writable, replication lag, and repmgr's metadata (repmgr.nodes).
 *
 * Secrets come from the environment only: the DB user's password from
 * EMS_HA_DB_PASSWORD (else TF_VAR_db_password), the repmgr user's from
 * EMS_HA_REPMGR_PASSWORD (else TF_VAR_repmgr_password). Without them libpq's
 * ~/.pgpass is used. Error texts are masked before they leave this module.
 */
import { Client } from "pg";
import type { DbNodeConfig, Deployment } from "../config/schema";
import { DOCKER_TOPOLOGIES } from "../config/semantics";
import { BITNAMI_REPMGR_CONF } from "../render/bitnami";
import { sqlLiteral } from "../render/escape";
import { PROMOTION_CLAIM_TABLE } from "../render/failover-validation";
import { nativeLayout } from "../render/native/layout";
import { CONTROL_FILE_TIMELINE_SQL, REPLAY_TIMELINE_SQL } from "../render/replay-timeline";
import { SLOTS_SQL, type SlotRow } from "./slots";

export const DB_PASSWORD_ENVS = ["EMS_HA_DB_PASSWORD", "TF_VAR_db_password"] as const;
export const REPMGR_PASSWORD_ENVS = ["EMS_HA_REPMGR_PASSWORD", "TF_VAR_repmgr_password"] as const;

function firstSet(env: NodeJS.ProcessEnv, names: ReadonlyArray<string>): string | undefined {
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== "") return v;
  }
  return undefined;
}

export interface DbSecrets {
  readonly dbPassword?: string;
  readonly repmgrPassword?: string;
}

export function secretsFromEnv(env: NodeJS.ProcessEnv): DbSecrets {
  return { dbPassword: firstSet(env, DB_PASSWORD_ENVS), repmgrPassword: firstSet(env, REPMGR_PASSWORD_ENVS) };
}

/** Replaces every occurrence of each secret (and its URI-encoded form) with ***. */
export function maskSecrets(text: string, secrets: DbSecrets): string {
  let out = text;
  for (const s of [secrets.dbPassword, secrets.repmgrPassword]) {
    if (!s) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join("***");
  }
  return out;
}

export interface PgTimeouts {
  /** Milliseconds to connect. @default 4000 */
  readonly connectMs?: number;
  /** Milliseconds per statement. @default 5000 */
  readonly statementMs?: number;
}

export interface Login {
  readonly user: string;
  readonly password?: string;
  readonly database: string;
}

async function query<T>(host: string, port: number, login: Login, t: PgTimeouts, sql: string): Promise<T[]> {
  const all = await queryEach<T>(host, port, login, t, [sql]);
  return all[0]!;
}

/**
 * Each statement sent on its own, in order, on one connection: a setting one of them makes (such as
 * `set local log_statement`) is in force when the server receives the next, which it would not be
 * within one multi-statement string (logged as a whole on arrival).
 */
async function queryEach<T>(host: string, port: number, login: Login, t: PgTimeouts, statements: ReadonlyArray<string>): Promise<T[][]> {
  const statementMs = t.statementMs ?? 5000;
  const client = new Client({
    host,
    port,
    user: login.user,
    password: login.password,
    database: login.database,
    connectionTimeoutMillis: t.connectMs ?? 4000,
    statement_timeout: statementMs,
    query_timeout: statementMs + 1000,
    application_name: "ems-ha",
  });
  // A broken connection after connect emits 'error' on the client; the query rejects anyway.
  client.on("error", () => undefined);
  try {
    await client.connect();
    const out: T[][] = [];
    for (const sql of statements) out.push((await client.query(sql)).rows as T[]);
    return out;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Tries the logins in order; returns the first result, or throws the last error. */
async function queryFirst<T>(host: string, port: number, logins: ReadonlyArray<Login>, t: PgTimeouts, sql: string): Promise<T[]> {
  let last: unknown = new Error("no login to try");
  for (const login of logins) {
    try {
      return await query<T>(host, port, login, t, sql);
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

/** One row of repmgr.nodes. */
export interface RepmgrNodeRow {
  readonly nodeId: number;
  readonly nodeName: string;
  readonly type: string;
  readonly active: boolean;
  readonly upstreamNodeId: number | null;
  readonly location: string;
  readonly priority: number;
}

/** A standby as the primary sees it in pg_stat_replication. */
export interface ReplicaRow {
  readonly applicationName: string;
  readonly clientAddr: string | null;
  readonly state: string;
  readonly lagBytes: number | null;
  readonly writeLagSeconds: number | null;
  readonly replayLagSeconds: number | null;
  /** pg_stat_replication.sync_state: async, potential, sync or quorum (a candidate of `ANY n (...)`). */
  readonly syncState?: string;
}

/** What one DB node answered. */
export interface DbProbe {
  readonly reachable: boolean;
  readonly error?: string;
  /** pg_is_in_recovery(). */
  readonly inRecovery?: boolean;
  /** pg_stat_wal_receiver.status on a standby (streaming, stopping, ...), null when no receiver runs. */
  readonly walReceiver?: string | null;
  /** sender_host of the WAL receiver. */
  readonly upstreamHost?: string | null;
  /** Received but not yet replayed WAL, in bytes (standby side). */
  readonly lagBytes?: number;
  /** now() − last replayed transaction's commit time; 0 when everything received is replayed. */
  readonly lagSeconds?: number;
  /** On a primary: its standbys. */
  readonly replicas?: ReplicaRow[];
  /** current_setting('synchronous_standby_names'): empty when commits wait for no standby. */
  readonly synchronousStandbyNames?: string;
  readonly repmgrView?: RepmgrNodeRow[];
  readonly repmgrError?: string;
  /** The timeline the node writes (primary) or has replayed up to (standby); undefined when it could not be read. */
  readonly timeline?: number;
  /** Primary: pg_current_wal_lsn(); standby: pg_last_wal_replay_lsn(). Text form (X/Y). */
  readonly lsn?: string;
  /** Standby: pg_last_wal_receive_lsn() (null before anything was received since start). */
  readonly receiveLsn?: string | null;
  /** Primary: its timeline history (where each earlier timeline ended), when readable. */
  readonly history?: TimelineSwitch[];
  /** repmgrd's state as the node's repmgr extension reports it (what `repmgr service status` shows). */
  readonly repmgrd?: RepmgrdState;
  /**
   * Data nodes: whether the node's repmgr.conf sets failover_validation_command
   * (docs/reliability.md#two-standbys-promoted-at-once); undefined when it was not or could not be read.
   */
  readonly failoverValidation?: boolean;
  /**
   * Witnesses: the promotion claims recorded there ([] when none, or before the first failover
   * created the table); undefined when they could not be read.
   */
  readonly promotionClaims?: PromotionClaimRow[];
  /** A primary data node: its replication slots (src/ops/slots.ts); undefined when not read. */
  readonly slots?: SlotRow[];
  /** A primary data node: current_setting('max_slot_wal_keep_size'), "-1" when WAL kept for slots has no cap. */
  readonly maxSlotWalKeepSize?: string;
}

/**
 * A witness's record that a node claimed to succeed a failed primary (the failover validation's
 * arbitration, docs/reliability.md, "The witnesses arbitrate").
 */
export interface PromotionClaimRow {
  /** repmgr node id of the primary that failed. */
  readonly failedNodeId: number;
  /** repmgr node id of the node that claimed its succession. */
  readonly claimerId: number;
  /** Seconds since the claim was made, by the witness's clock. */
  readonly ageSeconds: number;
}

/** One line of a timeline history file: timeline `tli` ended at `switchpoint`. */
export interface TimelineSwitch {
  readonly tli: number;
  readonly switchpoint: string;
}

/**
 * repmgr.repmgrd_is_running() / repmgrd_is_paused() / get_repmgrd_pid(), the functions `repmgr
 * service status` reads. null: unknown (repmgr is not in shared_preload_libraries, or the
 * functions could not be called).
 */
export interface RepmgrdState {
  readonly running: boolean | null;
  readonly paused: boolean | null;
  readonly pid: number | null;
  readonly error?: string;
}

/** An LSN "X/Y" as a number of bytes. */
export function lsnToBigInt(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]+)\/([0-9A-Fa-f]+)$/.exec(lsn.trim());
  if (!m) throw new Error(`not an LSN: ${lsn}`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/** Parses a timeline history file ("1\t0/3000148\tno recovery target specified" per line). */
export function parseTimelineHistory(text: string): TimelineSwitch[] {
  const out: TimelineSwitch[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(line);
    if (m) out.push({ tli: Number(m[1]), switchpoint: m[2]!.toUpperCase() });
  }
  return out;
}

/** A node's timeline and position; a standby's timeline as `standbyTimeline` gives it, or the WAL receiver's. */
const positionSql = (standbyTimeline: string) => `
select case when pg_is_in_recovery()
    then greatest(${standbyTimeline}, coalesce((select received_tli from pg_stat_wal_receiver limit 1), 0))
    else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end as timeline,
  case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end::text as lsn,
  case when pg_is_in_recovery() then pg_last_wal_receive_lsn() end::text as receive_lsn`;
/** The control file's timeline: a primary's question, and a standby's for a login that may not list the WAL files. */
const POSITION_SQL = positionSql(CONTROL_FILE_TIMELINE_SQL);
/** A standby's: the control file lags behind a timeline switch, its WAL files do not (src/render/replay-timeline.ts). */
const STANDBY_POSITION_SQL = positionSql(REPLAY_TIMELINE_SQL);

const HISTORY_SQL = (tli: number) => `select pg_read_file('pg_wal/${tli.toString(16).toUpperCase().padStart(8, "0")}.history') as history`;

const REPMGRD_SQL = `select repmgr.repmgrd_is_running() as running, repmgr.repmgrd_is_paused() as paused, repmgr.get_repmgrd_pid() as pid`;

const ROLE_SQL = `
select pg_is_in_recovery() as in_recovery,
  case when pg_is_in_recovery() then pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) end::float8 as lag_bytes,
  case when not pg_is_in_recovery() then null
       when pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0
       else extract(epoch from now() - pg_last_xact_replay_timestamp()) end::float8 as lag_seconds,
  (select status from pg_stat_wal_receiver limit 1) as receiver_status,
  (select sender_host from pg_stat_wal_receiver limit 1) as sender_host,
  current_setting('synchronous_standby_names') as sync_names`;

const REPLICAS_SQL = `
select application_name, host(client_addr) as client_addr, state, sync_state,
  pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 as lag_bytes,
  extract(epoch from write_lag)::float8 as write_lag, extract(epoch from replay_lag)::float8 as replay_lag
from pg_stat_replication order by application_name`;

const REPMGR_SQL = `
select node_id, node_name, type, active, upstream_node_id, location, priority from repmgr.nodes order by node_id`;

interface RoleRow {
  in_recovery: boolean;
  lag_bytes: number | null;
  lag_seconds: number | null;
  receiver_status: string | null;
  sender_host: string | null;
  sync_names?: string | null;
}

export interface ProbeTarget {
  readonly node: Pick<DbNodeConfig, "name" | "address" | "role">;
  readonly port: number;
  readonly dbUser: string;
  /** Where repmgrd's repmgr.conf is on the node (read with pg_read_file); absent: not read. */
  readonly repmgrConfPath?: string;
}

/** repmgr.conf on a data node of each topology with repmgrd: /etc natively, the image's generated file in Docker. */
export function repmgrConfPathOf(d: Pick<Deployment, "topology">): string | undefined {
  if (d.topology === "native-single-region") return nativeLayout().repmgrConf;
  if (DOCKER_TOPOLOGIES.has(d.topology)) return BITNAMI_REPMGR_CONF;
  return undefined;
}

/** Whether a repmgr.conf's text sets failover_validation_command to something. */
export function setsFailoverValidation(conf: string): boolean {
  return /^\s*failover_validation_command\s*=\s*'?[^'\s]/m.test(conf);
}

// PostgreSQL 15 has pg_read_file(path), (path, offset, length) and (path, offset, length, missing_ok): no (path, missing_ok).
async function failoverValidationOf(target: ProbeTarget, login: Login, opts: ProbeOptions): Promise<boolean | undefined> {
  if (!target.repmgrConfPath || target.node.role !== "data") return undefined;
  try {
    const rows = await query<{ conf: string | null }>(
      target.node.address,
      target.port,
      login,
      opts,
      `select pg_read_file(${sqlLiteral(target.repmgrConfPath)}, 0, 1048576, true) as conf`,
    );
    const conf = rows[0]?.conf;
    return conf === null || conf === undefined ? undefined : setsFailoverValidation(conf);
  } catch {
    return undefined;
  }
}

const CLAIMS_SQL = `select failed_node, claimer, extract(epoch from now() - claimed_at)::float8 as age from ${PROMOTION_CLAIM_TABLE} order by failed_node`;

async function promotionClaimsOf(target: ProbeTarget, opts: ProbeOptions): Promise<PromotionClaimRow[] | undefined> {
  if (target.node.role !== "witness") return undefined;
  try {
    const rows = await queryFirst<{ failed_node: number; claimer: number; age: number }>(
      target.node.address,
      target.port,
      logins(target, opts.secrets, "repmgr"),
      opts,
      CLAIMS_SQL,
    );
    return rows.map((r) => ({ failedNodeId: Number(r.failed_node), claimerId: Number(r.claimer), ageSeconds: Math.max(0, Math.round(Number(r.age))) }));
  } catch (e) {
    // 42P01 undefined_table: no failover has claimed anything on this witness yet
    return (e as { code?: string }).code === "42P01" ? [] : undefined;
  }
}

export interface ProbeOptions extends PgTimeouts {
  readonly secrets: DbSecrets;
  /** Also read repmgr.nodes. @default true */
  readonly repmgr?: boolean;
}

function logins(target: ProbeTarget, s: DbSecrets, database: string): Login[] {
  const list: Login[] = [{ user: target.dbUser, password: s.dbPassword, database }];
  if (s.repmgrPassword !== undefined && target.dbUser !== "repmgr") list.push({ user: "repmgr", password: s.repmgrPassword, database: "repmgr" });
  return list;
}

function message(e: unknown, s: DbSecrets): string {
  const err = e as Error & { code?: string };
  const text = err.message || String(e);
  return maskSecrets(err.code && !text.includes(err.code) ? `${text} (${err.code})` : text, s);
}

async function repmgrView(target: ProbeTarget, opts: ProbeOptions): Promise<Pick<DbProbe, "repmgrView" | "repmgrError">> {
  try {
    const rows = await queryFirst<Record<string, unknown>>(target.node.address, target.port, logins(target, opts.secrets, "repmgr"), opts, REPMGR_SQL);
    return {
      repmgrView: rows.map((r) => ({
        nodeId: Number(r.node_id),
        nodeName: String(r.node_name),
        type: String(r.type),
        active: r.active === true,
        upstreamNodeId: r.upstream_node_id === null ? null : Number(r.upstream_node_id),
        location: String(r.location),
        priority: Number(r.priority),
      })),
    };
  } catch (e) {
    return { repmgrError: message(e, opts.secrets) };
  }
}

async function positionOf(
  target: ProbeTarget,
  roleLogins: Login[],
  inRecovery: boolean,
  opts: ProbeOptions,
): Promise<Pick<DbProbe, "timeline" | "lsn" | "receiveLsn" | "history">> {
  const { address } = target.node;
  let timeline: number | undefined;
  let lsn: string | undefined;
  let receiveLsn: string | null | undefined;
  type PositionRow = { timeline: number | null; lsn: string | null; receive_lsn: string | null };
  const ask = (sql: string) => queryFirst<PositionRow>(address, target.port, roleLogins, opts, sql);
  try {
    const rows = await (inRecovery
      ? ask(STANDBY_POSITION_SQL).catch((e: unknown) => {
          // 42501 insufficient_privilege: a login that may not list the WAL files gets the control file's answer
          if ((e as { code?: string }).code === "42501") return ask(POSITION_SQL);
          throw e;
        })
      : ask(POSITION_SQL));
    const r = rows[0];
    timeline = r?.timeline ? Number(r.timeline) : undefined;
    lsn = r?.lsn ?? undefined;
    receiveLsn = inRecovery ? (r?.receive_lsn ?? null) : undefined;
  } catch {
    return {};
  }
  let history: TimelineSwitch[] | undefined;
  if (!inRecovery && target.node.role === "data" && timeline !== undefined && timeline > 1) {
    const loginsForHistory = [...roleLogins, ...logins(target, opts.secrets, "repmgr").filter((l) => l.user === "repmgr")];
    try {
      const rows = await queryFirst<{ history: string }>(address, target.port, loginsForHistory, opts, HISTORY_SQL(timeline));
      history = parseTimelineHistory(rows[0]?.history ?? "");
    } catch {
      history = undefined;
    }
  }
  return { timeline, lsn, receiveLsn, history };
}

async function slotsOf(target: ProbeTarget, login: Login, opts: ProbeOptions): Promise<Pick<DbProbe, "slots" | "maxSlotWalKeepSize">> {
  try {
    const rows = await query<{ max_keep: string; slots: Array<Record<string, unknown>> }>(target.node.address, target.port, login, opts, SLOTS_SQL);
    const r = rows[0];
    if (!r) return {};
    return {
      slots: r.slots.map((x) => ({
        name: String(x.slot_name),
        type: String(x.slot_type),
        active: x.active === true,
        walStatus: x.wal_status === null || x.wal_status === undefined ? null : String(x.wal_status),
        retainedBytes: x.retained_bytes === null || x.retained_bytes === undefined ? null : Number(x.retained_bytes),
      })),
      maxSlotWalKeepSize: r.max_keep,
    };
  } catch {
    return {};
  }
}

async function repmgrdState(target: ProbeTarget, opts: ProbeOptions): Promise<RepmgrdState> {
  try {
    const rows = await queryFirst<{ running: boolean | null; paused: boolean | null; pid: number | null }>(
      target.node.address,
      target.port,
      logins(target, opts.secrets, "repmgr"),
      opts,
      REPMGRD_SQL,
    );
    const r = rows[0];
    const pid = r?.pid === null || r?.pid === undefined ? null : Number(r.pid);
    return { running: r?.running ?? null, paused: r?.paused ?? null, pid: pid !== null && pid > 0 ? pid : null };
  } catch (e) {
    return { running: null, paused: null, pid: null, error: message(e, opts.secrets) };
  }
}

/**
 * Asks one node. A data node is asked as the DB user in database postgres; a witness
 * (which holds no EMS data and, natively, only admits the repmgr user) in database repmgr,
 * as the DB user or else as repmgr. Never throws: an unreachable node is a result.
 */
export async function probeDbNode(target: ProbeTarget, opts: ProbeOptions): Promise<DbProbe> {
  const { address } = target.node;
  const roleLogins =
    target.node.role === "witness"
      ? logins(target, opts.secrets, "repmgr")
      : [{ user: target.dbUser, password: opts.secrets.dbPassword, database: "postgres" }];
  let role: RoleRow;
  try {
    const rows = await queryFirst<RoleRow>(address, target.port, roleLogins, opts, ROLE_SQL);
    role = rows[0]!;
  } catch (e) {
    return { reachable: false, error: message(e, opts.secrets) };
  }
  const base: DbProbe = {
    reachable: true,
    inRecovery: role.in_recovery,
    walReceiver: role.in_recovery ? role.receiver_status : undefined,
    upstreamHost: role.in_recovery ? role.sender_host : undefined,
    lagBytes: role.lag_bytes ?? undefined,
    lagSeconds: role.lag_seconds ?? undefined,
    synchronousStandbyNames: role.sync_names ?? undefined,
  };
  let replicas: ReplicaRow[] | undefined;
  if (!role.in_recovery && target.node.role === "data") {
    try {
      const rows = await query<Record<string, unknown>>(address, target.port, roleLogins[0]!, opts, REPLICAS_SQL);
      const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
      replicas = rows.map((r) => ({
        applicationName: String(r.application_name ?? ""),
        clientAddr: (r.client_addr as string | null) ?? null,
        state: String(r.state ?? ""),
        lagBytes: num(r.lag_bytes),
        writeLagSeconds: num(r.write_lag),
        replayLagSeconds: num(r.replay_lag),
        syncState: r.sync_state === null || r.sync_state === undefined ? undefined : String(r.sync_state),
      }));
    } catch {
      replicas = undefined;
    }
  }
  const slots = !role.in_recovery && target.node.role === "data" ? await slotsOf(target, roleLogins[0]!, opts) : {};
  const position = await positionOf(target, roleLogins, role.in_recovery, opts);
  const view = opts.repmgr === false ? {} : await repmgrView(target, opts);
  const repmgrd = opts.repmgr === false ? undefined : await repmgrdState(target, opts);
  const failoverValidation = opts.repmgr === false ? undefined : await failoverValidationOf(target, roleLogins[0]!, opts);
  const promotionClaims = opts.repmgr === false ? undefined : await promotionClaimsOf(target, opts);
  return { ...base, replicas, ...slots, ...position, ...view, repmgrd, failoverValidation, promotionClaims };
}

/** The data nodes that answer as writable primaries. */
export function writableDataNodes(d: Deployment, probes: ReadonlyMap<string, Pick<DbProbe, "reachable" | "inRecovery">>): DbNodeConfig[] {
  return d.database.nodes.filter((n) => n.role === "data" && probes.get(n.name)?.reachable && probes.get(n.name)?.inRecovery === false);
}

/**
 * The one data node that answers as a writable primary, or why there is none: `several` tells a
 * split brain from no primary at all; `reason` names what each data node answered, or the primaries.
 */
export function oneWritablePrimary(
  d: Deployment,
  probes: ReadonlyMap<string, Pick<DbProbe, "reachable" | "inRecovery" | "error">>,
): { readonly node: DbNodeConfig } | { readonly reason: string; readonly several: boolean } {
  const writable = writableDataNodes(d, probes);
  if (writable.length === 1) return { node: writable[0]! };
  if (writable.length === 0) return { reason: `no data node answers as a writable primary (${dataNodeStates(d, probes).join("; ")})`, several: false };
  return {
    reason: `${writable.map((n) => n.name).join(", ")} all answer as writable primaries (split brain): resolve that first (\`ems-ha status\`)`,
    several: true,
  };
}

/** Each data node as the probes saw it, for a message: `pg-1: primary`, `pg-2: standby`, `pg-3: <its error>`. */
export function dataNodeStates(d: Deployment, probes: ReadonlyMap<string, Pick<DbProbe, "reachable" | "inRecovery" | "error">>): string[] {
  return d.database.nodes
    .filter((n) => n.role === "data")
    .map((n) => {
      const p = probes.get(n.name);
      return `${n.name}: ${p?.reachable ? (p.inRecovery ? "standby" : "primary") : (p?.error ?? "no answer")}`;
    });
}

/** Runs `statements` in one transaction on a node as the first login that connects. Throws the last error, masked. */
export async function execAs(
  address: string,
  port: number,
  loginsToTry: ReadonlyArray<Login>,
  statements: ReadonlyArray<string>,
  secrets: DbSecrets,
  t: PgTimeouts = {},
): Promise<void> {
  let last: unknown = new Error("no login to try");
  for (const login of loginsToTry) {
    try {
      await queryEach(address, port, login, t, ["begin", ...statements, "commit"]);
      return;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(message(last, secrets));
}

/** The rows of one query as the first login that connects; throws the last error, masked. */
export async function queryAs<T>(
  address: string,
  port: number,
  loginsToTry: ReadonlyArray<Login>,
  sql: string,
  secrets: DbSecrets,
  t: PgTimeouts = {},
): Promise<T[]> {
  try {
    return await queryFirst<T>(address, port, loginsToTry, t, sql);
  } catch (e) {
    throw new Error(message(e, secrets));
  }
}

/** What a backup records about the server it dumps (src/ops/backup.ts). */
export interface DumpSource {
  readonly serverVersion: string;
  readonly inRecovery: boolean;
  /** The primary's current WAL position, or the standby's last replayed one, when the dump began. */
  readonly lsn: string;
  /** Every database that accepts connections, but templates and repmgr's metadata. */
  readonly databases: ReadonlyArray<{ readonly name: string; readonly bytes: number }>;
}

const DUMP_SOURCE_SQL = [
  "select current_setting('server_version') as version, pg_is_in_recovery() as in_recovery,",
  " (case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end)::text as lsn,",
  " (select coalesce(json_agg(json_build_object('name', datname, 'bytes', pg_database_size(datname)) order by datname), '[]'::json)",
  "  from pg_database where datallowconn and not datistemplate and datname <> 'repmgr') as dbs",
].join("");

/** The databases a backup of the node dumps, with the server's version and position; throws a masked error. */
export async function dumpSourceOf(d: Deployment, node: Pick<DbNodeConfig, "address">, secrets: DbSecrets, t: PgTimeouts = {}): Promise<DumpSource> {
  const rows = await queryAs<{ version: string; in_recovery: boolean; lsn: string | null; dbs: Array<{ name: string; bytes: number | string }> }>(
    node.address,
    d.database.port,
    [{ user: d.database.user, password: secrets.dbPassword, database: "postgres" }],
    DUMP_SOURCE_SQL,
    secrets,
    t,
  );
  const r = rows[0]!;
  return { serverVersion: r.version, inRecovery: r.in_recovery, lsn: r.lsn ?? "", databases: r.dbs.map((x) => ({ name: x.name, bytes: Number(x.bytes) })) };
}

/** Probes every DB node of the deployment in parallel, keyed by node name. */
export async function probeDatabase(d: Deployment, opts: ProbeOptions): Promise<Map<string, DbProbe>> {
  const results = await Promise.all(
    d.database.nodes.map(
      async (node) =>
        [node.name, await probeDbNode({ node, port: d.database.port, dbUser: d.database.user, repmgrConfPath: repmgrConfPathOf(d) }, opts)] as const,
    ),
  );
  return new Map(results);
}
