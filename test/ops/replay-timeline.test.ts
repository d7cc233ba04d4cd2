/**
 * The timeline a standby replays on (src/render/replay-timeline.ts), on real PostgreSQL 15 on
 * loopback: a standby that followed a promotion and replayed past the switchpoint before its next
 * restartpoint (its control file still names the old timeline), and a standby that really forked
 * (it replayed past the switchpoint on the old timeline, and holds the new timeline's history file).
 * Mistaking the first for the second made the reconciliation service rewind a standby that had not
 * forked (a heal.test run).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeDbNode } from "../../src/ops/pg";
import { CONTROL_FILE_TIMELINE_SQL, REPLAY_TIMELINE_SQL } from "../../src/render/replay-timeline";
import { LoopbackCluster, loopbackPlan, requireTools, type PgNode } from "./lib/loopback-cluster";

const PASSWORD = `Rt!Test-${randomBytes(6).toString("hex")}`;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let tmp = "";
let cluster: LoopbackCluster;
let pg1: PgNode;
let pg2: PgNode;
let pg3: PgNode;

const replayTimeline = (n: PgNode) => Number(cluster.psql(n, `select ${REPLAY_TIMELINE_SQL}`));
const controlTimeline = (n: PgNode) => Number(cluster.psql(n, "select timeline_id from pg_control_checkpoint()"));

/** A stopped node becomes a standby of `upstream` when it starts (no restartpoint for an hour). */
function pointAt(n: PgNode, upstream: PgNode): void {
  appendFileSync(
    join(n.dataDir, "postgresql.auto.conf"),
    `primary_conninfo = 'host=${upstream.address} port=${cluster.port} user=repmgr application_name=${n.name}'\ncheckpoint_timeout = '1h'\n`,
  );
  const signal = join(n.dataDir, "standby.signal");
  writeFileSync(signal, "");
  const owner = statSync(n.dataDir);
  chownSync(signal, owner.uid, owner.gid);
}

beforeAll(async () => {
  requireTools();
  const plan = await loopbackPlan(3);
  tmp = mkdtempSync(join(tmpdir(), "ems-ha-replay-tl-"));
  chmodSync(tmp, 0o755);
  mkdirSync(join(tmp, "pg"));
  cluster = new LoopbackCluster(join(tmp, "pg"), plan.pgPort, PASSWORD);
  pg1 = await cluster.addPrimary("pg-1", 1, plan.addresses[0]!);
  pg2 = await cluster.addStandby("pg-2", 2, plan.addresses[1]!, pg1);
  pg3 = await cluster.addStandby("pg-3", 3, plan.addresses[2]!, pg1);
}, 180_000);

afterAll(() => {
  cluster?.stopAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe("the timeline a standby replays on", () => {
  it("on a healthy standby: the primary's timeline", () => {
    expect(replayTimeline(pg2)).toBe(1);
    expect(replayTimeline(pg3)).toBe(1);
  });

  it("a standby that followed a promotion and replayed past its switchpoint: the new timeline, while its control file still names the old one", async () => {
    // pg-3 stops first; pg-2 receives what pg-1 writes next; pg-1 writes once more while pg-2 is down
    cluster.stopImmediate(pg3);
    cluster.psql(pg1, "create table a(x int); insert into a select generate_series(1, 1000)");
    await cluster.waitReplay(pg2, cluster.psql(pg1, "select pg_current_wal_lsn()"));
    cluster.stopImmediate(pg2);
    cluster.psql(pg1, "create table b(x int); insert into b select generate_series(1, 1000)");
    cluster.stopImmediate(pg1);
    // pg-2 is promoted: timeline 2 leaves timeline 1 where pg-2's replay ended
    await cluster.start(pg2);
    cluster.psql(pg2, "select pg_promote(true, 30)");
    const switchpoint = cluster.psql(pg2, "select pg_current_wal_lsn()");
    // pg-3, behind the switchpoint, follows pg-2 onto timeline 2 and replays past it
    pointAt(pg3, pg2);
    await cluster.start(pg3);
    cluster.psql(pg2, "create table c(x int); insert into c select generate_series(1, 1000)");
    const after = cluster.psql(pg2, "select pg_current_wal_lsn()");
    await cluster.waitReplay(pg3, after);
    expect(cluster.psql(pg3, `select pg_last_wal_replay_lsn() > '${switchpoint}'::pg_lsn`)).toBe("t");
    // the case that misled the reconciliation service: no restartpoint since the switch
    expect(controlTimeline(pg3)).toBe(1);
    expect(cluster.psql(pg3, "select min_recovery_end_timeline from pg_control_recovery()")).toBe("1");
    expect(replayTimeline(pg3)).toBe(2);
    // status reads it too, with the standby no longer streaming (its upstream gone)
    cluster.stopImmediate(pg2);
    const probe = await probeDbNode(
      { node: { name: pg3.name, address: pg3.address, role: "data" }, port: cluster.port, dbUser: "postgres" },
      { secrets: { dbPassword: PASSWORD } },
    );
    expect(probe.timeline).toBe(2);
    await cluster.start(pg2);
  }, 120_000);

  it("a standby that forked (past the switchpoint on the old timeline) stays on it, though it fetched the new timeline's history", async () => {
    // pg-1 wrote table b after pg-2 stopped: as a standby of pg-2 it cannot switch to timeline 2
    pointAt(pg1, pg2);
    await cluster.start(pg1);
    const history = () => cluster.psql(pg1, "select count(*) from pg_ls_waldir() where name = '00000002.history'");
    for (let i = 0; history() !== "1"; i++) {
      if (i > 100) throw new Error("pg-1 never fetched 00000002.history from pg-2 (20 s)");
      await sleep(200);
    }
    expect(cluster.psql(pg1, "select status from pg_stat_wal_receiver")).not.toBe("streaming");
    expect(replayTimeline(pg1)).toBe(1);
  }, 60_000);

  it("status, as a user who may not list the WAL files, keeps the control file's answer", async () => {
    cluster.psql(pg2, "create role reader login password 'reader-pw'");
    for (let i = 0; cluster.psql(pg3, "select count(*) from pg_roles where rolname = 'reader'") !== "1"; i++) {
      if (i > 100) throw new Error("pg-3 never replayed the role (20 s)");
      spawnSync("sleep", ["0.2"], { timeout: 5_000 });
    }
    expect(() => cluster.psql(pg3, `set role reader; select ${REPLAY_TIMELINE_SQL}`)).toThrow(/permission denied for function pg_ls_waldir/);
    // what the reader sees of the control file and the WAL receiver (psql prints SET, then the row)
    const controlFile = Number(
      cluster
        .psql(
          pg3,
          "set role reader; select greatest((select timeline_id from pg_control_checkpoint()), (select min_recovery_end_timeline from pg_control_recovery()), coalesce((select received_tli from pg_stat_wal_receiver), 0))",
        )
        .split("\n")
        .pop(),
    );
    const probe = await probeDbNode(
      { node: { name: pg3.name, address: pg3.address, role: "data" }, port: cluster.port, dbUser: "reader" },
      { secrets: { dbPassword: "reader-pw" } },
    );
    expect(probe.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(probe.timeline).toBe(controlFile);
  });

  it("fits in a double-quoted shell word as it is (the reconciliation script puts it there)", () => {
    for (const sql of [REPLAY_TIMELINE_SQL, CONTROL_FILE_TIMELINE_SQL]) expect(sql).not.toMatch(/["$`\\\n]/);
  });
});
