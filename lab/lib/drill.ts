/**
 * `lab drill`: a failover drill on the deployed lab. A writer inserts rows continuously; the
 * primary's PostgreSQL is killed (SIGKILL, no clean shutdown); we measure the seconds until a
 * standby accepts writes, check that every row acknowledged before the kill is on the new
 * primary, start the old primary again and let the toolkit's reconciliation service rejoin it
 * as a standby, then check that exactly one writable primary remains (and `repmgr cluster show`).
 *
 * Docker topologies: the primary's container is stopped instead (PostgreSQL stopped immediately
 * inside it, or `docker kill`), started again with `docker start`, and the image's entrypoint
 * rejoins it; `cluster show` runs inside the container.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client, type QueryResultRow } from "pg";
import { parseDeployment } from "../../src/config/parse";
import { failoverTiming } from "../../src/config/derive";
import { PROMOTION_SECONDS, rtoBudget } from "../../src/analysis/rto";
import { DOCKER_TOPOLOGIES } from "../../src/config/semantics";
import { DATA_MOUNT } from "../../src/render/bitnami";
import type { DbNodeConfig, Deployment } from "../../src/config/schema";
import { labSecrets, masker, type Log } from "./deploy";
import { LabError, sleep } from "./exec";
import { labExec } from "./lab";
import type { LabState } from "./state";

export interface DrillResult {
  readonly oldPrimary: string;
  readonly newPrimary: string | null;
  /** Seconds from the kill until a standby answered as writable; null when none did in time. */
  readonly failoverSeconds: number | null;
  readonly rowsAcknowledged: number;
  /** Acknowledged rows absent from the new primary. */
  readonly rowsMissing: number;
  readonly missingIds: number[];
  /**
   * How long before the kill the earliest missing row was acknowledged, in ms; null when none is
   * missing. Asynchronous replication may lose what the primary acknowledged in its last instant
   * (docs/reliability.md#synchronous-replication), never an older row.
   */
  readonly missingAckedBeforeKillMs: number | null;
  /** Every missing row is newer than every row the new primary has: a lost tail, not a hole. */
  readonly missingAreTail: boolean;
  readonly lastAcknowledgedId: number | null;
  readonly stopMode: StopMode;
  /** Writer errors while no primary was writable. */
  readonly writeErrors: number;
  readonly rejoined: boolean;
  readonly rejoinSeconds: number | null;
  /** Data nodes answering as writable after the rejoin. */
  readonly writablePrimaries: number;
  /** Primaries that `repmgr cluster show` lists as running after the rejoin. */
  readonly clusterShowPrimaries: number;
  readonly clusterShow: string;
  readonly reconnect: { readonly attempts: number; readonly intervalSeconds: number };
}

export interface DrillOptions {
  readonly log?: Log;
  /** Longest wait for a new primary. @default 180 s */
  readonly failoverTimeoutSeconds?: number;
  /** Longest wait for the old primary to rejoin. @default 180 s */
  readonly rejoinTimeoutSeconds?: number;
  /** Seconds of writes before the kill. @default 3 */
  readonly warmupSeconds?: number;
  /**
   * How the primary stops: "immediate" (pg_ctl stop -m immediate: no shutdown checkpoint, the
   * way docs/background.md#native-postgresql-and-repmgr measured) or "kill" (SIGKILL to every PostgreSQL process: a crash).
   * @default "immediate"
   */
  readonly stop?: StopMode;
}

export type StopMode = "immediate" | "kill";

/**
 * Printed by a stop command the moment PostgreSQL is down, with the lab host's clock (the
 * machine's: lab hosts share its kernel). The drill's kill time is this, not when the whole
 * command returned: under load `docker stop` and `systemctl stop` after the kill take a second
 * or more, which would count as replication lag.
 */
const KILLED_AT = "EMS_HA_DRILL_KILLED_AT=";
const markKilled = `echo ${KILLED_AT}$(date +%s%3N)`;

/** The kill time a stop command printed (epoch ms); `fallback` when it printed none. */
export function killedAt(stdout: string, fallback: number): number {
  const m = new RegExp(`^${KILLED_AT}(\\d{13})$`, "m").exec(stdout);
  return m ? Number(m[1]) : fallback;
}

function stopCommand(mode: StopMode, service: string): string {
  return mode === "kill"
    ? `systemctl kill --signal=SIGKILL ${service} && ${markKilled} && systemctl stop ${service}; systemctl is-active ${service} || true`
    : `pg_ctlcluster --skip-systemctl-redirect 15 main stop -m immediate; ${markKilled}; systemctl stop ${service}; systemctl is-active ${service} || true`;
}

/** How the drill stops, starts and asks a DB node: natively (systemd) or in its container. */
interface NodeControl {
  stop(mode: StopMode, node: string): string;
  start(node: string): string;
  clusterShow(node: string): string;
}

const NATIVE: NodeControl = {
  stop: (mode) => stopCommand(mode, "postgresql@15-main"),
  start: () => "systemctl start postgresql@15-main",
  clusterShow: () => "cd /tmp && sudo -u postgres repmgr -f /etc/repmgr.conf cluster show 2>&1",
};

/** The image's repmgr, as the guide runs it (docker exec ... entrypoint.sh repmgr -f ...). */
const IMAGE_REPMGR = "/opt/bitnami/scripts/postgresql-repmgr/entrypoint.sh repmgr -f /opt/bitnami/repmgr/conf/repmgr.conf";

const DOCKER: NodeControl = {
  stop: (mode, node) =>
    mode === "kill"
      ? `docker kill ${node} >/dev/null && ${markKilled} && docker inspect -f '{{.State.Running}}' ${node}`
      : `docker exec ${node} pg_ctl -D ${DATA_MOUNT}/data -m immediate stop >/dev/null 2>&1; ${markKilled}; docker stop --time 10 ${node} >/dev/null && docker inspect -f '{{.State.Running}}' ${node}`,
  start: (node) => `docker start ${node}`,
  clusterShow: (node) => `docker exec ${node} ${IMAGE_REPMGR} cluster show 2>&1`,
};

export function nodeControl(d: Pick<Deployment, "topology">): NodeControl {
  return DOCKER_TOPOLOGIES.has(d.topology) ? DOCKER : NATIVE;
}

export const TABLE = "ems_ha_drill";

function connect(node: DbNodeConfig, d: Deployment, password: string): Client {
  return new Client({
    host: node.address,
    port: d.database.port,
    user: d.database.user,
    password,
    database: "postgres",
    connectionTimeoutMillis: 1500,
    statement_timeout: 3000,
    query_timeout: 4000,
  });
}

/** An open connection and whether the node is a writable primary; undefined when it does not answer. */
async function connectWithRole(node: DbNodeConfig, d: Deployment, password: string): Promise<{ client: Client; writable: boolean } | undefined> {
  const c = connect(node, d, password);
  c.on("error", () => undefined);
  try {
    await c.connect();
    const r = await c.query<{ r: boolean }>("select pg_is_in_recovery() as r");
    return { client: c, writable: !r.rows[0]!.r };
  } catch {
    await c.end().catch(() => undefined);
    return undefined;
  }
}

/** true: writable primary; false: in recovery; undefined: no answer. */
async function writable(node: DbNodeConfig, d: Deployment, password: string): Promise<boolean | undefined> {
  const s = await connectWithRole(node, d, password);
  await s?.client.end().catch(() => undefined);
  return s?.writable;
}

/**
 * How long a drill's failover may take by the toolkit's own model (src/analysis/rto.ts), in seconds.
 * `firstElection`: the report's "DB primary lost" line (detection, reconnect attempts, their connect
 * timeouts, promotion). `oneRerun`: that, plus the one election repmgrd runs again after
 * `election_rerun_interval` when its first one does not promote (a witness or peer that did not
 * answer within connect_timeout on a loaded host, or a refusal by the failover validation), plus its
 * window before the promotion again (that line's note; docs/reliability.md#two-standbys-promoted-at-once).
 */
export function failoverBound(d: Deployment): { readonly firstElection: number; readonly oneRerun: number } {
  const db = rtoBudget(d).classes.find((l) => l.id === "db-primary-lost");
  if (!db) throw new LabError("the RTO model has no db-primary-lost line");
  const rerun = failoverTiming(d).electionRerunIntervalSeconds + (db.seconds - PROMOTION_SECONDS);
  return { firstElection: db.seconds, oneRerun: db.seconds + rerun };
}

export function deployedDeployment(state: LabState): Deployment {
  const file = join(state.stateDir, "deployment.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new LabError("the lab has no deployment yet: run `npm run lab -- deploy` first");
  }
  return parseDeployment(JSON.parse(text), file);
}

/** The writer: inserts ids 1, 2, ... into whichever data node is writable, recording acknowledged ids (and when). */
export class Writer {
  readonly acknowledged: number[] = [];
  /** Date.now() of each acknowledgement, in order. */
  readonly ackTimes: number[] = [];
  errors = 0;
  private stopped = false;
  private next = 1;
  private done?: Promise<void>;

  constructor(
    private readonly d: Deployment,
    private readonly dataNodes: DbNodeConfig[],
    private readonly password: string,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async loop(): Promise<void> {
    let client: Client | undefined;
    const deadline = Date.now() + 900_000;
    while (!this.stopped && Date.now() < deadline) {
      try {
        if (!client) {
          client = await this.connectWritable();
          if (!client) {
            this.errors++;
            await sleep(200);
            continue;
          }
        }
        const id = this.next;
        await client.query(`insert into ${TABLE} (id) values ($1)`, [id]);
        this.acknowledged.push(id);
        this.ackTimes.push(Date.now());
        this.next++;
        await sleep(20);
      } catch {
        this.errors++;
        this.next++; // an unacknowledged id is never reused
        await client?.end().catch(() => undefined);
        client = undefined;
        await sleep(200);
      }
    }
    await client?.end().catch(() => undefined);
  }

  private async connectWritable(): Promise<Client | undefined> {
    for (const n of this.dataNodes) {
      const s = await connectWithRole(n, this.d, this.password);
      if (s?.writable) return s.client;
      await s?.client.end().catch(() => undefined);
    }
    return undefined;
  }
}

/**
 * The one writable data node. Looked at again (1 s apart, for up to 30 s) while the count is not
 * one: a login can take longer than the 1.5 s connect timeout on a loaded lab machine (a drill
 * once found "none" and failed before it began).
 */
async function findPrimary(d: Deployment, data: DbNodeConfig[], password: string): Promise<DbNodeConfig> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const roles = await Promise.all(data.map((n) => writable(n, d, password)));
    const primaries = data.filter((_, i) => roles[i] === true);
    if (primaries.length === 1) return primaries[0]!;
    if (Date.now() > deadline) {
      throw new LabError(
        `the drill needs exactly one writable primary before it starts; found ${primaries.map((p) => p.name).join(", ") || "none"} for 30 s (run \`ems-ha status\`)`,
      );
    }
    await sleep(1000);
  }
}

/**
 * Runs the statements on `node` and returns the rows of the last (a new connection each try; up to
 * 3 tries, 2 s apart, for the same reason as findPrimary).
 */
async function queryRetrying<T extends QueryResultRow>(
  node: DbNodeConfig,
  d: Deployment,
  password: string,
  sql: ReadonlyArray<readonly [string, unknown[]?]>,
): Promise<T[]> {
  for (let attempt = 1; ; attempt++) {
    const c = connect(node, d, password);
    c.on("error", () => undefined);
    try {
      await c.connect();
      let rows: T[] = [];
      for (const [q, params] of sql) rows = (await c.query<T>(q, params)).rows;
      return rows;
    } catch (e) {
      if (attempt >= 3) throw e;
      await sleep(2000);
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

/**
 * The shape of a loss: how long before the kill (ms) the earliest missing row was acknowledged
 * (null when none is missing), and whether the missing rows are all newer than every row kept.
 * `acknowledged` and `ackTimes` are the writer's ids and Date.now() of each acknowledgement.
 */
export function lossShape(
  acknowledged: ReadonlyArray<number>,
  ackTimes: ReadonlyArray<number>,
  missingIds: ReadonlyArray<number>,
  tKill: number,
): { missingAckedBeforeKillMs: number | null; missingAreTail: boolean } {
  if (missingIds.length === 0) return { missingAckedBeforeKillMs: null, missingAreTail: true };
  const ackedAt = new Map(acknowledged.map((id, i) => [id, ackTimes[i] ?? tKill] as const));
  const missing = new Set(missingIds);
  const newestKept = Math.max(0, ...acknowledged.filter((id) => !missing.has(id) && (ackedAt.get(id) ?? 0) <= tKill));
  return {
    missingAckedBeforeKillMs: Math.max(...missingIds.map((id) => tKill - (ackedAt.get(id) ?? tKill))),
    missingAreTail: missingIds.every((id) => id > newestKept),
  };
}

export async function labDrill(state: LabState, opts: DrillOptions = {}): Promise<DrillResult> {
  const log = opts.log ?? (() => undefined);
  const d = deployedDeployment(state);
  const secrets = labSecrets(state);
  const mask = masker(secrets);
  const pw = secrets.db_password;
  const data = d.database.nodes.filter((n) => n.role === "data");
  const old = await findPrimary(d, data, pw);
  const control = nodeControl(d);
  log(`primary is ${old.name} (${old.address})`);

  await queryRetrying(old, d, pw, [
    [`drop table if exists ${TABLE}`],
    [`create table ${TABLE} (id bigint primary key, at timestamptz not null default clock_timestamp())`],
  ]);

  const writer = new Writer(d, data, pw);
  writer.start();
  await sleep((opts.warmupSeconds ?? 3) * 1000);
  const ackBeforeKill = writer.acknowledged.length;
  log(`writer running (${ackBeforeKill} rows so far); stopping PostgreSQL on ${old.name} (${opts.stop ?? "immediate"})`);

  const mode = opts.stop ?? "immediate";
  const kill = await labExec(state, old.name, control.stop(mode, old.name), { timeoutMs: 30_000 });
  const tKill = killedAt(kill.stdout, Date.now());
  if (kill.code !== 0) throw new LabError(`could not stop PostgreSQL on ${old.name}: ${mask(kill.stderr)}`);
  // Rows acknowledged until the kill: the writer may have been mid-insert; count what it had.
  const acknowledgedAtKill = writer.acknowledged.slice();

  let newPrimary: DbNodeConfig | undefined;
  const others = data.filter((n) => n.name !== old.name);
  const failoverDeadline = tKill + (opts.failoverTimeoutSeconds ?? 180) * 1000;
  while (!newPrimary && Date.now() < failoverDeadline) {
    for (const n of others) {
      if ((await writable(n, d, pw)) === true) {
        newPrimary = n;
        break;
      }
    }
    if (!newPrimary) await sleep(200);
  }
  const failoverSeconds = newPrimary ? Math.round((Date.now() - tKill) / 100) / 10 : null;
  log(
    newPrimary ? `${newPrimary.name} accepts writes after ${failoverSeconds} s` : `no standby became writable within ${opts.failoverTimeoutSeconds ?? 180} s`,
  );

  await sleep(1500); // let the writer reach the new primary
  await writer.stop();

  let missingIds = acknowledgedAtKill.slice();
  if (newPrimary) {
    const rows = await queryRetrying<{ id: string }>(newPrimary, d, pw, [[`select id from ${TABLE} where id = any($1::bigint[])`, [acknowledgedAtKill]]]);
    const found = new Set(rows.map((x) => Number(x.id)));
    missingIds = acknowledgedAtKill.filter((id) => !found.has(id));
  }
  const rowsMissing = missingIds.length;
  const { missingAckedBeforeKillMs, missingAreTail } = lossShape(writer.acknowledged, writer.ackTimes, missingIds, tKill);
  log(
    `${acknowledgedAtKill.length} rows acknowledged before the kill, ${rowsMissing} missing on the new primary; ${writer.errors} write errors during the failover`,
  );

  // Bring the old primary back; the reconciliation service must turn it into a standby.
  let rejoined = false;
  let rejoinSeconds: number | null = null;
  if (newPrimary) {
    log(`starting PostgreSQL on ${old.name} again; waiting for the reconciliation service to rejoin it`);
    const tStart = Date.now();
    await labExec(state, old.name, control.start(old.name), { timeoutMs: 60_000 });
    const deadline = tStart + (opts.rejoinTimeoutSeconds ?? 180) * 1000;
    while (Date.now() < deadline) {
      if ((await writable(old, d, pw)) === false) {
        rejoined = true;
        break;
      }
      await sleep(1000);
    }
    rejoinSeconds = rejoined ? Math.round((Date.now() - tStart) / 100) / 10 : null;
    log(rejoined ? `${old.name} is a standby again after ${rejoinSeconds} s` : `${old.name} did not rejoin within ${opts.rejoinTimeoutSeconds ?? 180} s`);
  }

  const after = await Promise.all(data.map((n) => writable(n, d, pw)));
  const writablePrimaries = after.filter((x) => x === true).length;
  const showHost = newPrimary ?? old;
  // repmgrd updates the rejoined node's record a moment after the rejoin: wait (bounded) for a clean view.
  let clusterShow = "";
  for (let i = 0; i < 30; i++) {
    const show = await labExec(state, showHost.name, control.clusterShow(showHost.name), { timeoutMs: 30_000 });
    clusterShow = mask(show.stdout.trim());
    const oldLine = clusterShow.split("\n").find((l) => l.includes(`| ${old.name} `)) ?? "";
    const attached = newPrimary !== undefined && new RegExp(`\\|\\s*standby\\s*\\|\\s*running\\s*\\|\\s*${newPrimary.name}\\s*\\|`).test(oldLine);
    if (!rejoined || (show.code === 0 && attached)) break;
    await sleep(1000);
  }
  const clusterShowPrimaries = clusterShow.split("\n").filter((l) => /\|\s*primary\s*\|\s*\*\s*running/.test(l)).length;
  const t = failoverTiming(d);
  return {
    oldPrimary: old.name,
    newPrimary: newPrimary?.name ?? null,
    failoverSeconds,
    rowsAcknowledged: acknowledgedAtKill.length,
    rowsMissing,
    missingIds,
    missingAckedBeforeKillMs,
    missingAreTail,
    lastAcknowledgedId: acknowledgedAtKill[acknowledgedAtKill.length - 1] ?? null,
    stopMode: mode,
    writeErrors: writer.errors,
    rejoined,
    rejoinSeconds,
    writablePrimaries,
    clusterShowPrimaries,
    clusterShow,
    reconnect: { attempts: t.reconnectAttempts, intervalSeconds: t.reconnectIntervalSeconds },
  };
}

export function formatDrill(r: DrillResult): string {
  const rows: Array<[string, string]> = [
    ["old primary", `${r.oldPrimary} (stopped: ${r.stopMode})`],
    ["new primary", r.newPrimary ?? "none"],
    ["failover seconds (kill -> writable)", r.failoverSeconds === null ? "timed out" : String(r.failoverSeconds)],
    ["repmgr reconnect", `${r.reconnect.attempts} x ${r.reconnect.intervalSeconds} s`],
    ["rows acknowledged before the kill", String(r.rowsAcknowledged)],
    [
      "rows missing on the new primary",
      r.rowsMissing === 0
        ? "0"
        : `${r.rowsMissing} (ids ${r.missingIds.join(", ")}; last acknowledged ${r.lastAcknowledgedId}; the earliest of them ${r.missingAckedBeforeKillMs} ms before the kill${r.missingAreTail ? "" : "; NOT only the newest rows"})`,
    ],
    ["write errors during failover", String(r.writeErrors)],
    ["old primary rejoined as standby", r.rejoined ? `yes (${r.rejoinSeconds} s)` : "no"],
    ["writable primaries after rejoin", String(r.writablePrimaries)],
    ["primaries in repmgr cluster show", String(r.clusterShowPrimaries)],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return [...rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`), "", r.clusterShow].join("\n");
}
