/**
 * Synchronous replication (database.synchronousReplication: any-1) on the native lab: 3 data nodes
 * and 2 witnesses (the guide's 5-node size), the native-single-region stack applied with real
 * Terraform. Measures and asserts (figures in docs/reliability.md#synchronous-replication):
 * (a) every commit with synchronous_commit = on is flushed on a standby when it returns, and its
 *     COMMIT takes longer than a local one (pairs taken back to back on the same session);
 * (b) one standby stopped: commits still return (ANY 1 met by the other);
 * (c) both standbys stopped: a commit blocks (not done in 5 s, `ems-ha status` says why), and
 *     returns once one standby is back, its row on that standby;
 * (d) failover (primary stopped) under a writer: no acknowledged row lost, the old primary rejoins.
 * Needs what lab-e2e.test.ts needs; fails naming what is missing.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDeployment } from "../../examples/lab";
import { defineDeployment } from "../../src/config/parse";
import type { DbNodeConfig, Deployment, DeploymentInput } from "../../src/config/schema";
import type { ClusterStatus } from "../../src/ops/status";
import { labCliEnv, labDeploy, labSecrets } from "../../lab/lib/deploy";
import { deployedDeployment, TABLE, Writer } from "../../lab/lib/drill";
import { sleep } from "../../lab/lib/exec";
import { bootFreshLab, chooseFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labExec } from "../../lab/lib/lab";
import { REPO_ROOT } from "../../lab/lib/paths";
import type { LabState } from "../../lab/lib/state";
import { runCliCaptured, type CliRun } from "../helpers/cli";

// Apart from the other lab tests: 10.235.10-19.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.235.${10 + i}`);
const SERVICE = "postgresql@15-main";
const LATENCY_TABLE = "ems_ha_sync_latency";
/** Commit pairs (one synchronous, one local) for (a). */
const PAIRS = 500;

/** The lab deployment with a third data node, a second witness and one EMS node; synchronous replication any-1. */
function syncDeployment(prefix: string): DeploymentInput {
  const base = labDeployment(prefix);
  const ssh = base.database.nodes[0]!.ssh;
  return defineDeployment({
    ...base,
    name: "ems-lab-sync",
    emsNodes: [base.emsNodes[0]!],
    database: {
      ...base.database,
      synchronousReplication: { mode: "any-1" },
      nodes: [
        ...base.database.nodes.filter((n) => n.role === "data"),
        { name: "dbnode-3", address: `${prefix}.14`, role: "data", priority: 100, ramGb: 2, cpus: 2, storage: "ssd", ssh },
        ...base.database.nodes.filter((n) => n.role === "witness"),
        { name: "witness-2", address: `${prefix}.15`, role: "witness", ramGb: 1, cpus: 1, storage: "ssd", ssh },
      ],
    },
  });
}

let state: LabState | undefined;
let stateDir = "";
let env: NodeJS.ProcessEnv = {};
let config = "";
let d: Deployment;
let pw = "";
const log = (m: string): void => console.log(`[sync-replication] ${m}`);

function cli(argv: string[]): Promise<CliRun> {
  return runCliCaptured(argv, REPO_ROOT, env);
}

async function status(): Promise<{ code: number; s: ClusterStatus }> {
  const r = await cli(["status", "--config", config, "--json"]);
  if (!r.out.trim()) throw new Error(`ems-ha status printed nothing (exit ${r.code}): ${r.err}`);
  return { code: r.code, s: JSON.parse(r.out) as ClusterStatus };
}

/** Asks `ems-ha status` every `intervalMs` until `done` holds or `timeoutMs` has passed; the last answer either way. */
async function statusUntil(done: (s: ClusterStatus) => boolean, timeoutMs: number, intervalMs: number): Promise<ClusterStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = (await status()).s;
    if (done(s) || Date.now() >= deadline) return s;
    await sleep(intervalMs);
  }
}

/** true when the node answers as a writable primary. */
async function isWritable(name: string): Promise<boolean> {
  const n = node(name);
  const c = new Client({
    host: n.address,
    port: d.database.port,
    user: d.database.user,
    password: pw,
    database: "postgres",
    connectionTimeoutMillis: 1000,
    query_timeout: 2000,
  });
  c.on("error", () => undefined);
  try {
    await c.connect();
    return (await c.query<{ r: boolean }>("select pg_is_in_recovery() as r")).rows[0]!.r === false;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

function node(name: string): DbNodeConfig {
  return d.database.nodes.find((n) => n.name === name)!;
}

async function connect(name: string, timeouts = true): Promise<Client> {
  const n = node(name);
  const c = new Client({
    host: n.address,
    port: d.database.port,
    user: d.database.user,
    password: pw,
    database: "postgres",
    connectionTimeoutMillis: 5000,
    ...(timeouts ? { query_timeout: 30_000 } : {}),
  });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

async function pg(name: string, action: "stop" | "start"): Promise<void> {
  const r = await labExec(state!, name, `systemctl ${action} ${SERVICE}`, { timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`systemctl ${action} ${SERVICE} on ${name} failed: ${r.stderr}`);
}

/** Waits (bounded) until the primary's pg_stat_replication shows exactly `want` (application name -> sync_state). */
async function waitReplication(primary: Client, want: Record<string, string>, seconds = 90): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  let seen = "";
  while (Date.now() < deadline) {
    const r = await primary.query<{ application_name: string; sync_state: string }>(
      "select application_name, sync_state from pg_stat_replication where state = 'streaming' order by 1",
    );
    const got = Object.fromEntries(r.rows.map((x) => [x.application_name, x.sync_state]));
    seen = JSON.stringify(got);
    if (seen === JSON.stringify(want)) return;
    await sleep(500);
  }
  throw new Error(`pg_stat_replication did not reach ${JSON.stringify(want)} in ${seconds} s; last seen ${seen}`);
}

async function commitLatencies(c: Client, firstId: number, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await c.query(`insert into ${LATENCY_TABLE} (id) values ($1)`, [firstId + i]);
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

interface PairedCommits {
  /** Milliseconds of each COMMIT with synchronous_commit = on, and with local, pair by pair. */
  readonly on: number[];
  readonly local: number[];
  /** Commits that returned while no synchronous standby's flush position had reached them. */
  readonly onNotFlushed: number;
  readonly localNotFlushed: number;
}

/**
 * `pairs` pairs of one-row transactions, one with synchronous_commit = on and one with local (the
 * local flush only: what a commit waits for without synchronous replication), back to back in
 * alternating order. Times the COMMIT alone. Before it, the WAL insert position after the row; after
 * it returns, whether a synchronous standby's flush position (as the primary records it, the value
 * its commits wait on) is already past that position.
 */
async function pairedCommits(c: Client, firstId: number, pairs: number): Promise<PairedCommits> {
  const on: number[] = [];
  const local: number[] = [];
  let onNotFlushed = 0;
  let localNotFlushed = 0;
  let id = firstId;
  for (let i = 0; i < pairs; i++) {
    for (const mode of i % 2 === 0 ? (["on", "local"] as const) : (["local", "on"] as const)) {
      await c.query("begin");
      await c.query(`set local synchronous_commit = ${mode}`);
      await c.query(`insert into ${LATENCY_TABLE} (id) values ($1)`, [id++]);
      const lsn = (await c.query<{ l: string }>("select pg_current_wal_insert_lsn()::text as l")).rows[0]!.l;
      const t = process.hrtime.bigint();
      await c.query("commit");
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      const flushed = (
        await c.query<{ ok: boolean }>("select coalesce(bool_or(flush_lsn >= $1::pg_lsn), false) as ok from pg_stat_replication where sync_state = 'quorum'", [
          lsn,
        ])
      ).rows[0]!.ok;
      if (mode === "on") {
        on.push(ms);
        if (!flushed) onNotFlushed++;
      } else {
        local.push(ms);
        if (!flushed) localNotFlushed++;
      }
    }
  }
  return { on, local, onNotFlushed, localNotFlushed };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const fmt = (xs: number[]) => `median ${pct(xs, 50).toFixed(2)} ms, p95 ${pct(xs, 95).toFixed(2)} ms (n=${xs.length})`;

beforeAll(async () => {
  const options = { what: "the synchronous replication lab test", candidates: CANDIDATES, deployment: syncDeployment, needTerraform: true, log };
  const chosen = chooseFreshLab(options);
  stateDir = chosen.stateDir;
  state = (await bootFreshLab(options, chosen)).state;
  await labDeploy(state, { log, deployment: syncDeployment(state.prefix) });
  const secrets = labSecrets(state);
  pw = secrets.db_password;
  env = labCliEnv(secrets);
  config = join(state.stateDir, "deployment.json");
  d = deployedDeployment(state);
}, 1_200_000);

afterAll(async () => {
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("synchronous replication (ANY 1) on the native lab", () => {
  it("is configured on every data node and reported by status: both standbys are quorum candidates", async () => {
    for (const [name, peers] of [
      ["dbnode-1", '"dbnode-2", "dbnode-3"'],
      ["dbnode-2", '"dbnode-1", "dbnode-3"'],
      ["dbnode-3", '"dbnode-1", "dbnode-2"'],
    ] as const) {
      const c = await connect(name);
      const r = await c.query<{ s: string; c: string }>("select current_setting('synchronous_standby_names') as s, current_setting('synchronous_commit') as c");
      await c.end();
      expect(r.rows[0]).toEqual({ s: `ANY 1 (${peers})`, c: "on" });
    }
    // repmgr names each standby's walreceiver after the node (application_name), which is what the list matches.
    const p = await connect("dbnode-1");
    await waitReplication(p, { "dbnode-2": "quorum", "dbnode-3": "quorum" });
    await p.end();
    const st = await status();
    expect(st.s.reasons).toEqual([]);
    expect(st.s.synchronous).toMatchObject({ mode: "any-1", synchronousStandbys: ["dbnode-2", "dbnode-3"] });
    expect(st.s.dbNodes.filter((n) => n.role === "standby").map((n) => n.syncState)).toEqual(["quorum", "quorum"]);
  }, 180_000);

  it("(a) every synchronous commit is on a standby's disk when it returns; it costs more than a local one", async () => {
    const c = await connect("dbnode-1");
    await c.query(`drop table if exists ${LATENCY_TABLE}`);
    await c.query(`create table ${LATENCY_TABLE} (id bigint primary key, at timestamptz not null default clock_timestamp())`);
    await waitReplication(c, { "dbnode-2": "quorum", "dbnode-3": "quorum" }, 30);
    const m = await pairedCommits(c, 1, PAIRS);
    expect((await c.query("select current_setting('synchronous_standby_names') as s")).rows[0].s).toBe('ANY 1 ("dbnode-2", "dbnode-3")');
    await c.end();
    const diffs = m.on.map((x, i) => x - m.local[i]!);
    log(`(a) commit latency, synchronous_commit = local (what an asynchronous cluster waits for): ${fmt(m.local)}`);
    log(`(a) commit latency, synchronous_commit = on (ANY 1): ${fmt(m.on)}`);
    log(
      `(a) paired (on - local): median ${pct(diffs, 50).toFixed(3)} ms; on slower in ${diffs.filter((x) => x > 0).length} of ${PAIRS} pairs; ` +
        `standby flush already past the commit at return: on ${PAIRS - m.onNotFlushed} of ${PAIRS}, local ${PAIRS - m.localNotFlushed} of ${PAIRS}`,
    );
    expect(m.on).toHaveLength(PAIRS);
    // What synchronous replication guarantees: when the commit returns, a standby has flushed it
    // (the primary's own record of the standbys' flush positions, which it waits on, says so).
    expect(m.onNotFlushed, "synchronous commits that returned before any standby had flushed them").toBe(0);
    // The wait costs at least a round trip to a standby and its flush: measured in pairs taken back
    // to back, so that the load of the shared machine falls on both sides of each pair alike.
    expect(pct(diffs, 50)).toBeGreaterThan(0);
  }, 300_000);

  it("(b) one standby stopped: commits still return (the other standby confirms them)", async () => {
    await pg("dbnode-2", "stop");
    const c = await connect("dbnode-1");
    await waitReplication(c, { "dbnode-3": "quorum" }, 60);
    const lat = await commitLatencies(c, 100_001, 50);
    await c.end();
    log(`(b) dbnode-2 stopped: 50 commits, ${fmt(lat)}`);
    expect(Math.max(...lat)).toBeLessThan(5000);
    const st = await status();
    expect(st.s.synchronous?.synchronousStandbys).toEqual(["dbnode-3"]);
    expect(st.s.reasons.filter((r) => /synchronous/.test(r))).toEqual([]);
    expect(st.s.reasons.some((r) => /data node dbnode-2 is unreachable/.test(r))).toBe(true);
  }, 180_000);

  it("(c) both standbys stopped: a commit blocks, status says so, and it returns once a standby is back", async () => {
    await pg("dbnode-3", "stop");
    const c = await connect("dbnode-1", false);
    await waitReplication(c, {}, 60);
    const id = 200_001;
    const t0 = Date.now();
    let doneAt = 0;
    const pending = c.query(`insert into ${LATENCY_TABLE} (id) values ($1)`, [id]).then(() => (doneAt = Date.now()));
    pending.catch(() => undefined);
    await sleep(5000);
    expect(doneAt, "the commit returned although no standby could confirm it").toBe(0);
    const st = await status();
    expect(st.code).toBe(1);
    expect(st.s.reasons).toContain(
      "no synchronous standby is connected to the primary dbnode-1: every commit waits (writes block) until one of dbnode-2, dbnode-3 streams again",
    );
    expect(doneAt).toBe(0);
    const tStart = Date.now();
    await pg("dbnode-3", "start");
    await Promise.race([pending, sleep(120_000).then(() => Promise.reject(new Error("the blocked commit did not return within 120 s of dbnode-3's start")))]);
    log(
      `(c) both standbys stopped: the commit blocked for ${((doneAt - t0) / 1000).toFixed(1)} s in all; it returned ${((doneAt - tStart) / 1000).toFixed(1)} s after dbnode-3 was started`,
    );
    await c.end();
    const s3 = await connect("dbnode-3");
    const r = await s3.query(`select count(*)::int as n from ${LATENCY_TABLE} where id = $1`, [id]);
    await s3.end();
    expect(r.rows[0].n).toBe(1);
    await pg("dbnode-2", "start");
    const p = await connect("dbnode-1");
    await waitReplication(p, { "dbnode-2": "quorum", "dbnode-3": "quorum" }, 90);
    await p.end();
  }, 300_000);

  it("(d) failover under a writer: no acknowledged row lost, the old primary rejoins, synchronous again", async () => {
    const setup = await connect("dbnode-1");
    await setup.query(`drop table if exists ${TABLE}`);
    await setup.query(`create table ${TABLE} (id bigint primary key, at timestamptz not null default clock_timestamp())`);
    await setup.end();
    const data = d.database.nodes.filter((n) => n.role === "data");
    const writer = new Writer(d, data, pw);
    writer.start();
    await sleep(3000);
    const stop = await labExec(state!, "dbnode-1", `pg_ctlcluster --skip-systemctl-redirect 15 main stop -m immediate; systemctl stop ${SERVICE}`, {
      timeoutMs: 30_000,
    });
    const tKill = Date.now();
    expect(stop.code, stop.stderr).toBe(0);
    const acknowledgedAtKill = writer.acknowledged.slice();
    // Until a new primary has a synchronous standby, its commits wait: the writer's next ack marks the end of the outage.
    const deadline = tKill + 180_000;
    let writableAt: number | undefined;
    while (Date.now() < deadline && !writer.ackTimes.some((t) => t > tKill + 100)) {
      if (writableAt === undefined && ((await isWritable("dbnode-2")) || (await isWritable("dbnode-3")))) writableAt = Date.now();
      await sleep(200);
    }
    const firstAck = writer.ackTimes.find((t) => t > tKill + 100);
    await sleep(2000);
    await writer.stop();
    expect(firstAck, "no write was acknowledged within 180 s of the primary's stop").toBeDefined();
    const st = await status();
    expect(st.s.writablePrimaries).toHaveLength(1);
    const newPrimary = st.s.writablePrimaries[0]!;
    const c = await connect(newPrimary);
    const r = await c.query<{ id: string }>(`select id from ${TABLE} where id = any($1::bigint[])`, [acknowledgedAtKill]);
    const found = new Set(r.rows.map((x) => Number(x.id)));
    const lost = acknowledgedAtKill.filter((x) => !found.has(x));
    await c.end();
    log(
      `(d) failover: ${newPrimary} was writable ${writableAt === undefined ? "(not seen before the first ack)" : `${((writableAt - tKill) / 1000).toFixed(1)} s`} and acknowledged writes again ${((firstAck! - tKill) / 1000).toFixed(1)} s after the primary stopped; ${acknowledgedAtKill.length} rows acknowledged before, ${lost.length} lost; ${writer.errors} writer errors`,
    );
    expect(lost).toEqual([]);
    expect(acknowledgedAtKill.length).toBeGreaterThan(20);
    // The old primary comes back; the reconciliation service rejoins it as a standby.
    await pg("dbnode-1", "start");
    // A rewind (the old primary's WAL past the fork: commits no standby confirmed, so none was
    // acknowledged) leaves a record the operator acknowledges; anything else must be healthy.
    const rewound = (r: string) => /^dbnode-1 was rewound by the reconciliation service/.test(r);
    const tStart = Date.now();
    let last = await statusUntil((s) => s.reasons.every(rewound) && s.synchronous?.synchronousStandbys.length === 2, 180_000, 2000);
    log(
      `(d) dbnode-1 back as a synchronous candidate ${((Date.now() - tStart) / 1000).toFixed(1)} s after its start: ${JSON.stringify(last.synchronous)}; reasons ${JSON.stringify(last.reasons)}`,
    );
    expect(last.reasons.filter((r) => !rewound(r))).toEqual([]);
    if (last.reasons.some(rewound)) {
      const ack = await cli(["ack-rewind", "dbnode-1", "--config", config]);
      expect(ack.code, ack.err).toBe(0);
    }
    // The service restarts dbnode-1's repmgrd once it streams: status may catch that restart
    // ("repmgrd is not running on dbnode-1"), so it is asked until healthy, bounded.
    last = await statusUntil((s) => s.reasons.length === 0 && s.synchronous?.synchronousStandbys.length === 2, 60_000, 1000);
    expect(last.reasons).toEqual([]);
    expect(last.synchronous?.synchronousStandbys).toHaveLength(2);
    expect(last.synchronous?.standbyNames).toBe(
      `ANY 1 (${data
        .filter((n) => n.name !== newPrimary)
        .map((n) => `"${n.name}"`)
        .join(", ")})`,
    );
  }, 420_000);
});
