/**
 * What `ems-ha status` reads besides roles, against real parts on loopback (a PostgreSQL 15 primary,
 * a streaming standby and a witness registered with repmgr 5.3, a real sshd; the EMS hosts' service
 * list is the stand-in test/standins/ems-systemctl): what the reconciliation service kept on the
 * hosts and `ack-rewind --remove-wal`, the primary's replication slots (a capped one losing its WAL
 * on the real server), and a standalone server's status. Apart from test/ops/cluster.test.ts so
 * that neither file carries the other's SSH and CLI calls under CI load.
 */
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedServices } from "../../src/render/ems-services";
import { archiveName } from "../../src/ops/backup";
import { scramVerifier } from "../../src/ops/passwords";
import type { ClusterStatus } from "../../src/ops/status";
import { LoopbackCluster, loopbackPlan, PG_BIN, requireTools, type PgNode } from "./lib/loopback-cluster";
import { startSshd, type LoopbackSshd } from "./lib/loopback-sshd";
import { opsEnv } from "./lib/ops-fixture";
import { runCliCaptured, type CliRun } from "../helpers/cli";

const REPO = resolve(__dirname, "../..");
const PASSWORD = `Keeps!Test-${randomBytes(6).toString("hex")}`;

let tmp = "";
let cluster: LoopbackCluster | undefined;
let sshd: LoopbackSshd | undefined;
let pg1: PgNode;
let pg2: PgNode;
let pgw: PgNode;
let configPath = "";
let baseEnv: NodeJS.ProcessEnv = {};
const allOutput: string[] = [];

async function cli(argv: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const r = await runCliCaptured(argv, REPO, { ...baseEnv, ...extraEnv });
  allOutput.push(r.out, r.err);
  return r;
}

async function statusJson(extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; status: ClusterStatus }> {
  const r = await cli(["status", "--config", configPath, "--json"], extraEnv);
  return { code: r.code, status: JSON.parse(r.out) as ClusterStatus };
}

function unitLines(names: string[]): string {
  return names.map((n) => `${n}.service loaded active running stand-in ${n}`).join("\n") + "\n";
}

function inRecovery(n: PgNode): string {
  return cluster!.psql(n, "select pg_is_in_recovery()");
}

beforeAll(async () => {
  requireTools();
  const plan = await loopbackPlan(5);
  const addr = plan.addresses;
  tmp = mkdtempSync(join(tmpdir(), "ems-ha-keeps-"));
  chmodSync(tmp, 0o755); // the postgres user must reach its data directories below
  mkdirSync(join(tmp, "pg"));
  cluster = new LoopbackCluster(join(tmp, "pg"), plan.pgPort, PASSWORD);
  pg1 = await cluster.addPrimary("pg-1", 1, addr[0]!);
  pg2 = await cluster.addStandby("pg-2", 2, addr[1]!, pg1);
  pgw = await cluster.addWitness("pgw-1", 3, addr[2]!, pg1);
  for (const n of cluster.nodes) cluster.startRepmgrd(n);
  sshd = await startSshd(join(tmp, "ssh"), addr, plan.sshPort);
  const unitsDir = join(tmp, "units");
  mkdirSync(unitsDir);
  writeFileSync(join(unitsDir, `units-${addr[3]}`), unitLines([...expectedServices("primary").map((alts) => alts[0]!), "cron"]));
  writeFileSync(join(unitsDir, `units-${addr[4]}`), unitLines([...expectedServices("secondary").map((alts) => alts[0]!), "cron"]));
  const ssh = { user: "root", port: plan.sshPort, privateKeyPath: sshd.clientKey };
  configPath = join(tmp, "deployment.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      topology: "native-single-region",
      name: "keeps-test",
      emsNodes: [
        { name: "ems-1", address: addr[3], ssh },
        { name: "ems-2", address: addr[4], ssh },
      ],
      database: {
        port: plan.pgPort,
        user: "postgres",
        nodes: [
          { name: "pg-1", address: addr[0], role: "data", ssh },
          { name: "pg-2", address: addr[1], role: "data", ssh },
          { name: "pgw-1", address: addr[2], role: "witness", ssh },
        ],
      },
      installer: { version: "7.4.4.2034", source: { kind: "file", path: "/nonexistent/installer.bin", sha256: "0".repeat(64) } },
      ems: { fqdn: "ems.keeps-test.internal", vip: "192.0.2.51" },
    }),
  );
  baseEnv = opsEnv(tmp, unitsDir, PASSWORD, { EMS_HA_REPMGR_CONF: pg2.repmgrConf, EMS_HA_STATE_DIR: join(tmp, "state") });
  await cluster.waitRepmgrd(cluster.nodes);
}, 300_000);

afterAll(async () => {
  cluster?.stopAll();
  await sshd?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
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

describe("ems-ha backup (real loopback cluster, pg_dump over the real sshd)", () => {
  const out = () => join(tmp, "backups");
  // a quote, a backslash, a command substitution, and "=" (which pg_dump would read as connection parameters)
  const oddDb = () => `it's "odd" host=x \\ $(touch ${join(tmp, "pwned")})`;
  const sums = (dir: string) =>
    readFileSync(join(dir, "SHA256SUMS"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+/));
  async function replayed(lsn: string, what: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (cluster!.psql(pg2, `select pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`) !== "t") {
      if (Date.now() > deadline) throw new Error(`pg-2 did not replay ${what} in 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it("dumps every EMS database of the primary with a manifest and checksums; the documented restore brings a dropped table back on the primary and its standby", async () => {
    cluster!.psql(pg1, "create database fcm");
    // a database whose name a shell would take apart
    cluster!.psql(pg1, `create database "${oddDb().split('"').join('""')}"`);
    cluster!.psql(pg1, "create table endpoints (id int primary key, name text)", "fcm");
    cluster!.psql(pg1, "insert into endpoints select g, 'host ' || g || ' ''q''' from generate_series(1, 500) g", "fcm");
    await replayed(cluster!.psql(pg1, "select pg_current_wal_lsn()"), "the test data");
    const r = await cli(["backup", "--config", configPath, "--out", out(), "--json"]);
    expect(r.err).toMatch(/backup of keeps-test from pg-1 \(primary, PostgreSQL 15\.\d+/);
    expect(r.code).toBe(0);
    const m = JSON.parse(r.out) as {
      dir: string;
      node: string;
      role: string;
      files: Array<{ file: string; database?: string; bytes: number; sha256: string }>;
    };
    expect([m.node, m.role]).toEqual(["pg-1", "primary"]);
    // fcm and postgres, never repmgr's metadata or a template
    expect(m.files.map((f) => [f.file, f.database])).toEqual([
      ["globals.sql", undefined],
      ["fcm.dump", "fcm"],
      [archiveName(oddDb()), oddDb()],
      ["postgres.dump", "postgres"],
    ]);
    expect(existsSync(join(tmp, "pwned"))).toBe(false);
    expect(m.dir).toMatch(/\/keeps-test-\d{8}T\d{6}Z$/);
    expect(readdirSync(out())).toEqual([basename(m.dir)]);
    expect(statSync(out()).mode & 0o777).toBe(0o700);
    expect(statSync(m.dir).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(m.dir)) expect(statSync(join(m.dir, f)).mode & 0o777, f).toBe(0o600);
    // SHA256SUMS as sha256sum -c reads it, and the same sums in the manifest
    const check = spawnSync("sha256sum", ["-c", "SHA256SUMS"], { cwd: m.dir, encoding: "utf8", timeout: 10_000 });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(sums(m.dir)).toEqual(m.files.map((f) => [f.sha256, f.file]));
    // the globals carry the roles but no password hash, and no file carries the password
    const globals = readFileSync(join(m.dir, "globals.sql"), "utf8");
    expect(globals).toMatch(/CREATE ROLE repmgr/);
    expect(globals).not.toMatch(/SCRAM-SHA-256|md5[0-9a-f]{32}/);
    for (const f of readdirSync(m.dir)) expect(readFileSync(join(m.dir, f)).includes(PASSWORD), f).toBe(false);

    // a mistake that replication copies everywhere
    cluster!.psql(pg1, "drop table endpoints", "fcm");
    // the restore of docs/operations.md ("Restoring a database"), with the test's address, port and password
    const restore = spawnSync(
      `${PG_BIN}/pg_restore`,
      ["-h", pg1.address, "-p", String(cluster!.port), "-U", "postgres", "--clean", "--if-exists", "--create", "-d", "postgres", join(m.dir, "fcm.dump")],
      { encoding: "utf8", env: { ...process.env, PGPASSWORD: PASSWORD }, timeout: 30_000 },
    );
    expect(restore.status, restore.stderr).toBe(0);
    expect(cluster!.psql(pg1, "select count(*) || ' ' || max(name) from endpoints", "fcm")).toBe("500 host 99 'q'");
    await replayed(cluster!.psql(pg1, "select pg_current_wal_lsn()"), "the restore");
    expect(cluster!.psql(pg2, "select count(*) from endpoints", "fcm")).toBe("500");
  }, 180_000);

  it("dumps a standby when named (--node), and refuses a witness or an unknown node with exit 2", async () => {
    const r = await cli(["backup", "--config", configPath, "--out", out(), "--node", "pg-2"]);
    expect(r.err).toMatch(/pg-2: dumping database "fcm"/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^backup complete: .*keeps-test-\d{8}T\d{6}Z \(4 file\(s\), .*, from pg-2, standby\)/);
    const dir = /backup complete: (\S+)/.exec(r.out)![1]!;
    expect((JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { role: string }).role).toBe("standby");
    const witness = await cli(["backup", "--config", configPath, "--out", out(), "--node", "pgw-1"]);
    expect(witness.code).toBe(2);
    expect(witness.err).toMatch(/--node: a witness holds no EMS data \(got "pgw-1"\)\. Fix: name a data node: pg-1, pg-2/);
    const unknown = await cli(["backup", "--config", configPath, "--out", out(), "--node", "pg-9"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/no DB node has this name/);
    const noOut = await cli(["backup", "--config", configPath]);
    expect(noOut.code).toBe(2);
    expect(noOut.err).toMatch(/--out/);
  }, 120_000);

  it("a backup that fails (the host's SSH does not answer; pg_dump fails on the last database) leaves nothing behind; a wrong password stops it before anything is written", async () => {
    const before = readdirSync(out()).sort();
    const base = JSON.parse(readFileSync(configPath, "utf8")) as { database: { nodes: Array<{ ssh: { port: number } }> } };
    const file = join(tmp, "no-ssh.json");
    const closed = await loopbackPlan(1);
    writeFileSync(
      file,
      JSON.stringify({ ...base, database: { ...base.database, nodes: base.database.nodes.map((n) => ({ ...n, ssh: { ...n.ssh, port: closed.sshPort } })) } }),
    );
    const r = await cli(["backup", "--config", file, "--out", out()]);
    expect(r.err).toMatch(/backup failed, nothing kept: .*pg-1/);
    expect(r.code).toBe(1);
    expect(readdirSync(out()).sort()).toEqual(before);
    // pg_dump itself fails on the last database, after the others were written: its session there
    // runs as a role that may not read the table
    cluster!.psql(pg1, "create database zz_denied");
    cluster!.psql(pg1, "create table secret (x int)", "zz_denied");
    cluster!.psql(pg1, "create role bk_low nologin; alter role postgres in database zz_denied set role = 'bk_low'");
    try {
      const denied = await cli(["backup", "--config", configPath, "--out", out()]);
      expect(denied.err).toMatch(/dumping database "postgres"/);
      expect(denied.err).toMatch(
        /backup failed, nothing kept: pg-1: dumping database "zz_denied" failed: pg_dump: error: .*permission denied for table secret/,
      );
      expect(denied.code).toBe(1);
      expect(readdirSync(out()).sort()).toEqual(before);
    } finally {
      cluster!.psql(pg1, "drop database zz_denied");
      cluster!.psql(pg1, "drop role bk_low");
    }
    const wrong = `Wrong-${randomBytes(4).toString("hex")}`;
    const denied = await cli(["backup", "--config", configPath, "--out", out()], { EMS_HA_DB_PASSWORD: wrong });
    expect(denied.err).toMatch(
      /backup not taken: no data node answers as a writable primary \(pg-1: .*password authentication failed.*; pg-2: .*password authentication failed.*\)/,
    );
    expect(denied.code).toBe(1);
    expect(readdirSync(out()).sort()).toEqual(before);
    expect(denied.out + denied.err).not.toContain(wrong);
  }, 120_000);
});

describe("ems-ha set-passwords (real loopback cluster)", () => {
  const login = (n: PgNode, password: string) =>
    spawnSync(`${PG_BIN}/psql`, ["-X", "-tA", "-h", n.address, "-p", String(cluster!.port), "-U", "postgres", "-d", "postgres", "-c", "select 1"], {
      encoding: "utf8",
      env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "5" },
      timeout: 20_000,
    });
  const verifierOf = (n: PgNode, role: string) => cluster!.psql(n, `select rolpassword from pg_authid where rolname = '${role}'`);
  /** Whether a stored verifier is the one of `password` (recomputed with its own salt). */
  const isVerifierOf = (stored: string, password: string) => {
    const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored);
    return m !== null && scramVerifier(password, Buffer.from(m[2]!, "base64"), Number(m[1])) === stored;
  };

  it("refuses without a new password (exit 2) and while repmgrd runs (exit 1), changing nothing", async () => {
    const none = await cli(["set-passwords", "--config", configPath]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/EMS_HA_NEW_DB_PASSWORD \/ EMS_HA_NEW_REPMGR_PASSWORD: no new password is given/);
    const before = verifierOf(pg1, "postgres");
    const running = await cli(["set-passwords", "--config", configPath], { EMS_HA_NEW_DB_PASSWORD: "Never-Set-1" });
    expect(running.code).toBe(1);
    expect(running.err).toMatch(/passwords not changed: repmgrd is not paused on pg-1, pg-2, pgw-1\. Run `ems-ha pause` first/);
    expect(verifierOf(pg1, "postgres")).toBe(before);
  }, 120_000);

  it("with repmgrd paused: sets both on the primary (replicated to the standby) and on the witness, as verifiers only; the old DB password stops working; setting the old ones back and resuming is healthy again", async () => {
    const newDb = `Rotated-Db-${randomBytes(5).toString("hex")}`;
    const newRepmgr = `Rotated-Rm-${randomBytes(5).toString("hex")}`;
    expect((await cli(["pause", "--config", configPath])).code).toBe(0);
    // every statement logged, as an audit setting would have it: the change must stay out all the same
    for (const n of [pg1, pgw]) for (const sql of ["alter system set log_statement = 'all'", "select pg_reload_conf()"]) cluster!.psql(n, sql);
    const logBefore = new Map([pg1, pgw].map((n) => [n.name, readFileSync(n.logFile, "utf8").length]));
    try {
      const r = await cli(["set-passwords", "--config", configPath], { EMS_HA_NEW_DB_PASSWORD: newDb, EMS_HA_NEW_REPMGR_PASSWORD: newRepmgr });
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(
        /^new passwords set: postgres on pg-1, repmgr on pg-1, postgres on pgw-1, repmgr on pgw-1; every node that answers accepts them\. Next: /,
      );
      // the standby has the primary's roles by replication
      for (const n of [pg1, pg2]) {
        expect(isVerifierOf(verifierOf(n, "postgres"), newDb), n.name).toBe(true);
        expect(isVerifierOf(verifierOf(n, "repmgr"), newRepmgr), n.name).toBe(true);
      }
      expect(isVerifierOf(verifierOf(pgw, "repmgr"), newRepmgr)).toBe(true);
      expect(isVerifierOf(verifierOf(pgw, "postgres"), newDb)).toBe(true);
      expect(login(pg2, newDb).status).toBe(0);
      const old = login(pg1, PASSWORD);
      expect(old.status).not.toBe(0);
      expect(old.stderr).toMatch(/password authentication failed/);
      // the servers never saw the passwords; their logs hold neither them nor the verifiers
      for (const n of [pg1, pgw]) {
        const log = readFileSync(n.logFile, "utf8").slice(logBefore.get(n.name));
        for (const secret of [newDb, newRepmgr, "SCRAM-SHA-256$"]) expect(log, n.name).not.toContain(secret);
      }
      expect(r.out + r.err).not.toContain(newDb);
      expect(r.out + r.err).not.toContain(newRepmgr);
    } finally {
      for (const n of [pg1, pgw]) for (const sql of ["alter system reset log_statement", "select pg_reload_conf()"]) cluster!.psql(n, sql);
      // back to the cluster's own passwords, logging in with the new ones
      const back = await cli(["set-passwords", "--config", configPath], {
        EMS_HA_DB_PASSWORD: newDb,
        EMS_HA_REPMGR_PASSWORD: newRepmgr,
        EMS_HA_NEW_DB_PASSWORD: PASSWORD,
        EMS_HA_NEW_REPMGR_PASSWORD: PASSWORD,
      });
      expect(back.code, back.err).toBe(0);
      expect((await cli(["resume", "--config", configPath])).code).toBe(0);
    }
    expect(login(pg1, PASSWORD).status).toBe(0);
    const { code, status } = await statusJson();
    expect(status.reasons).toEqual([]);
    expect(code).toBe(0);
  }, 240_000);
});

describe("output", () => {
  it("no command printed the DB password", () => {
    expect(allOutput.join("\n")).not.toContain(PASSWORD);
  });
});
