/**
 * What `ems-ha status` reads besides roles, against real parts on loopback (a PostgreSQL 15 primary,
 * a streaming standby and a witness registered with repmgr 5.3, a real sshd; the EMS hosts' service
 * list is the stand-in test/standins/ems-systemctl): what the reconciliation service kept on the
 * hosts and `ack-rewind --remove-wal`, the primary's replication slots (a capped one losing its WAL
 * on the real server), and a standalone server's status. Apart from test/ops/cluster.test.ts and
 * test/ops/backup-passwords.test.ts so that no file carries another's SSH and CLI calls under CI
 * load (vitest runs the largest files first, side by side).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterStatus } from "../../src/ops/status";
import type { LoopbackCluster, PgNode } from "./lib/loopback-cluster";
import { startThreeNode, type ThreeNodeDeployment } from "./lib/three-node-fixture";
import type { CliRun } from "../helpers/cli";

const PASSWORD = `Keeps!Test-${randomBytes(6).toString("hex")}`;

let fixture: ThreeNodeDeployment | undefined;
let tmp = "";
let cluster: LoopbackCluster | undefined;
let pg1: PgNode;
let pg2: PgNode;
let configPath = "";
const cli = (argv: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> => fixture!.cli(argv, extraEnv);

async function statusJson(extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; status: ClusterStatus }> {
  const r = await cli(["status", "--config", configPath, "--json"], extraEnv);
  return { code: r.code, status: JSON.parse(r.out) as ClusterStatus };
}

function inRecovery(n: PgNode): string {
  return cluster!.psql(n, "select pg_is_in_recovery()");
}

beforeAll(async () => {
  fixture = await startThreeNode("keeps-test", PASSWORD);
  ({ tmp, cluster, pg1, pg2, configPath } = fixture);
}, 300_000);

afterAll(async () => {
  await fixture?.stop();
}, 60_000);

describe("ems-ha status: kept WAL, replication slots, a standalone server (real loopback cluster)", () => {
  it("is healthy to begin with", async () => {
    const { code, status } = await statusJson();
    expect(status.reasons).toEqual([]);
    expect(code).toBe(0);
  });

  it("status lists the saved WAL of rewinds with its size until ack-rewind --remove-wal removes it; a plain ack-rewind keeps it", async () => {
    // what the reconciliation service leaves after two rewinds of pg-2 (src/render/native/reconcile.ts,
    // save_discarded), one of them acknowledged already; and a record of another node whose name starts alike
    const state = join(tmp, "state");
    mkdirSync(state, { recursive: true });
    const rec = (node: string, ts: string) => join(state, `rewind-${node}-${ts}`);
    writeFileSync(`${rec("pg-2", "20261101T101010Z")}.txt`, "node: pg-2\ndiscarded: WAL of timeline 1 from 0/3000000 to 0/3000100 (256 bytes)\n");
    for (const [ts, mb] of [
      ["20261101T101010Z", 2],
      ["20261001T090909Z", 1],
    ] as const) {
      mkdirSync(`${rec("pg-2", ts)}.wal`);
      writeFileSync(join(`${rec("pg-2", ts)}.wal`, "000000010000000000000003"), randomBytes(mb * 1024 * 1024));
    }
    mkdirSync(`${rec("pg-2-b", "20261101T101010Z")}.wal`);
    writeFileSync(`${rec("pg-2-b", "20261101T101010Z")}.txt`, "node: pg-2-b\n");
    try {
      const { code, status } = await statusJson();
      expect(code).toBe(1);
      expect(status.rewinds.map((m) => m.file)).toEqual([`${rec("pg-2", "20261101T101010Z")}.txt`]);
      expect(status.kept!.map((k) => [k.node, k.kind, k.path, k.acknowledged])).toEqual([
        ["pg-2", "rewind-wal", `${rec("pg-2", "20261001T090909Z")}.wal`, true],
        ["pg-2", "rewind-wal", `${rec("pg-2", "20261101T101010Z")}.wal`, false],
      ]);
      // du's size: the segment and the directory
      expect(status.kept!.map((k) => Math.round(k.kb! / 1024))).toEqual([1, 2]);
      const table = await cli(["status", "--config", configPath]);
      expect(table.out).toMatch(/Kept by self-healing/);
      expect(table.out).toMatch(/pg-2\s+saved WAL, acknowledged\s+1 MB\s+\S+20261001T090909Z\.wal/);

      const keep = await cli(["ack-rewind", "pg-2", "--config", configPath]);
      expect(keep.code).toBe(0);
      expect(keep.out).toMatch(
        /1 rewind record\(s\) of pg-2 acknowledged and removed; 2 saved WAL directories \(3 MB\) kept for inspection \(remove with --remove-wal\)/,
      );
      expect(keep.err).toMatch(/discarded: WAL of timeline 1/);
      expect(keep.err).not.toMatch(/==K/);
      const after = await statusJson();
      expect(after.status.rewinds).toEqual([]);
      expect(after.status.kept!.map((k) => k.acknowledged)).toEqual([true, true]);

      const removed = await cli(["ack-rewind", "pg-2", "--remove-wal", "--config", configPath]);
      expect(removed.code).toBe(0);
      expect(removed.out).toMatch(/pg-2 has no rewind records; 2 saved WAL directories \(3 MB\) removed/);
      expect(existsSync(`${rec("pg-2", "20261101T101010Z")}.wal`)).toBe(false);
      expect(existsSync(`${rec("pg-2", "20261001T090909Z")}.wal`)).toBe(false);
      // pg-2-b's files are another node's
      expect(existsSync(`${rec("pg-2-b", "20261101T101010Z")}.wal`)).toBe(true);
      expect(existsSync(`${rec("pg-2-b", "20261101T101010Z")}.txt`)).toBe(true);
      const clean = await statusJson();
      expect(clean.status.kept).toEqual([]);
      expect(clean.code).toBe(0);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 240_000);

  it("status reads the primary's replication slots: a repmgr slot is named after its node, an inactive one of no node is a warning", async () => {
    // the loopback cluster's repmgr uses no slots: these two stand for pg-2's and for a node removed by hand
    cluster!.psql(pg1, "select pg_create_physical_replication_slot('repmgr_slot_2', true)");
    cluster!.psql(pg1, "select pg_create_physical_replication_slot('repmgr_slot_99', true)");
    try {
      const { code, status } = await statusJson();
      expect(status.slots!.map((x) => [x.name, x.node, x.active, x.walStatus])).toEqual([
        ["repmgr_slot_2", "pg-2", false, "reserved"],
        ["repmgr_slot_99", undefined, false, "reserved"],
      ]);
      expect(status.slots![0]!.retainedBytes).toBeGreaterThanOrEqual(0);
      expect(status.warnings.filter((w) => /replication slot/.test(w))).toEqual([
        expect.stringMatching(
          /^replication slot repmgr_slot_99 on the primary pg-1 \(it holds \d+ [kM]B of WAL\) belongs to no node of the deployment .*pg_drop_replication_slot\('repmgr_slot_99'\)$/,
        ),
      ]);
      // a warning, not a degraded cluster
      expect(code).toBe(0);
      const table = await cli(["status", "--config", configPath]);
      expect(table.out).toMatch(/Replication slots on the primary pg-1:/);
      expect(table.out).toMatch(/repmgr_slot_2\s+pg-2\s+no\s+\d+ [kM]B\s+reserved/);
    } finally {
      cluster!.psql(pg1, "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name in ('repmgr_slot_2', 'repmgr_slot_99')");
    }
    expect((await statusJson()).status.slots).toEqual([]);
  }, 120_000);

  it("a capped slot whose standby stays away loses its WAL on a real primary, and status says that node needs a new clone", async () => {
    // what database.maxSlotWalKeepSize renders, here with a small cap: 32 MB, below the cluster's wal_keep_size (64 MB)
    cluster!.psql(pg1, "alter system set max_slot_wal_keep_size = '32MB'");
    cluster!.psql(pg1, "select pg_reload_conf()");
    cluster!.psql(pg1, "select pg_create_physical_replication_slot('repmgr_slot_2', true)");
    try {
      cluster!.psql(pg1, "create table slot_fill (x int)");
      // 8 segments of 16 MB past the slot's restart_lsn, then a checkpoint removes what nothing else keeps
      for (let i = 0; i < 8; i++) cluster!.psql(pg1, "insert into slot_fill values (1); select pg_switch_wal()");
      cluster!.psql(pg1, "checkpoint");
      expect(cluster!.psql(pg1, "select wal_status from pg_replication_slots where slot_name = 'repmgr_slot_2'")).toBe("lost");
      const { status } = await statusJson();
      expect(status.slots!.map((x) => [x.name, x.node, x.walStatus])).toEqual([["repmgr_slot_2", "pg-2", "lost"]]);
      expect(status.warnings).toContain(
        "replication slot repmgr_slot_2 (pg-2) on the primary pg-1 has lost WAL its standby needs (max_slot_wal_keep_size = 32MB was reached): pg-2 cannot stream from it again and needs a new clone",
      );
      // the standby itself streams without a slot here (the loopback cluster's repmgr uses none): untouched
      expect(inRecovery(pg2)).toBe("t");
    } finally {
      cluster!.psql(pg1, "select pg_drop_replication_slot('repmgr_slot_2')");
      cluster!.psql(pg1, "drop table if exists slot_fill");
      cluster!.psql(pg1, "alter system reset max_slot_wal_keep_size");
      cluster!.psql(pg1, "select pg_reload_conf()");
    }
  }, 120_000);

  it("status of a standalone-db deployment on a real server: healthy (exit 0), no repmgr asked, no failover to predict", async () => {
    const base = JSON.parse(readFileSync(configPath, "utf8")) as { database: { nodes: unknown[] } };
    const file = join(tmp, "standalone.json");
    writeFileSync(
      file,
      JSON.stringify({
        ...base,
        topology: "standalone-db",
        name: "ops-standalone",
        database: { ...base.database, nodes: [base.database.nodes[0]] },
        standalone: { mode: "existing" },
      }),
    );
    const r = await cli(["status", "--config", file, "--json"]);
    const s = JSON.parse(r.out) as ClusterStatus;
    expect(s.reasons).toEqual([]);
    expect(r.code).toBe(0);
    expect(s.writablePrimaries).toEqual(["pg-1"]);
    expect(s.warnings.filter((w) => /repmgr/.test(w))).toEqual([]);
    expect(s.dbNodes[0]!.repmgrd).toBeUndefined();
    expect(s.nextFailover).toBeUndefined();
    const table = await cli(["status", "--config", file]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/One standalone server \(standalone-db\): no standby, no failover; EMS reaches the database only while pg-1 answers/);
  }, 120_000);
});

describe("output", () => {
  it("no command printed the DB password", () => {
    expect(fixture!.outputs.join("\n")).not.toContain(PASSWORD);
  });
});
