/**
 * `ems-ha backup` and `ems-ha set-passwords` against real parts on loopback (a PostgreSQL 15
 * primary, a streaming standby and a witness registered with repmgr 5.3, a real sshd;
 * test/ops/lib/three-node-fixture.ts): dumps over SSH, the documented restore, failures that leave
 * nothing behind; a password rotation as verifiers, kept out of audit logs. Apart from
 * test/ops/status-keeps.test.ts so that neither file carries the other's calls under CI load. These
 * tests ask PostgreSQL directly rather than `ems-ha status`, whose SSH questions are bounded at 20 s
 * (a loaded CI machine has exceeded that).
 */
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveName } from "../../src/ops/backup";
import { scramVerifier } from "../../src/ops/passwords";
import { loopbackPlan, PG_BIN, type LoopbackCluster, type PgNode } from "./lib/loopback-cluster";
import { startThreeNode, type ThreeNodeDeployment } from "./lib/three-node-fixture";
import type { CliRun } from "../helpers/cli";

const PASSWORD = `Backup!Test-${randomBytes(6).toString("hex")}`;

let fixture: ThreeNodeDeployment | undefined;
let tmp = "";
let cluster: LoopbackCluster | undefined;
let pg1: PgNode;
let pg2: PgNode;
let pgw: PgNode;
let configPath = "";
/** The first backup's directory (fcm with 500 rows, the odd-named database, postgres). */
let firstBackup = "";
const cli = (argv: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> => fixture!.cli(argv, extraEnv);

beforeAll(async () => {
  fixture = await startThreeNode("backup-test", PASSWORD);
  ({ tmp, cluster, pg1, pg2, pgw, configPath } = fixture);
}, 300_000);

afterAll(async () => {
  await fixture?.stop();
}, 60_000);

describe("ems-ha backup (real loopback cluster, pg_dump over the real sshd)", () => {
  const out = () => join(tmp, "backups");
  // a quote, a backslash, a command substitution, and "=" (which pg_dump would read as connection parameters)
  // (a short marker path: a database name has at most 63 bytes)
  const marker = `/tmp/pwned-${randomBytes(3).toString("hex")}`;
  const oddDb = () => `it's "odd" host=x \\ $(touch ${marker})`;
  const sums = (dir: string) =>
    readFileSync(join(dir, "SHA256SUMS"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+/));

  it("dumps every EMS database of the primary with a manifest and checksums; the documented restore brings a dropped table back on the primary and its standby", async () => {
    cluster!.psql(pg1, "create database fcm");
    // a database whose name a shell would take apart
    cluster!.psql(pg1, `create database "${oddDb().split('"').join('""')}"`);
    cluster!.psql(pg1, "create table endpoints (id int primary key, name text)", "fcm");
    cluster!.psql(pg1, "insert into endpoints select g, 'host ' || g || ' ''q''' from generate_series(1, 500) g", "fcm");
    await cluster!.waitReplay(pg2, cluster!.psql(pg1, "select pg_current_wal_lsn()"));
    const r = await cli(["backup", "--config", configPath, "--out", out(), "--json"]);
    expect(r.err).toMatch(/backup of backup-test from pg-1 \(primary, PostgreSQL 15\.\d+/);
    expect(r.code).toBe(0);
    const m = JSON.parse(r.out) as {
      dir: string;
      node: string;
      role: string;
      files: Array<{ file: string; database?: string; bytes: number; sha256: string }>;
    };
    expect([m.node, m.role]).toEqual(["pg-1", "primary"]);
    firstBackup = m.dir;
    // fcm and postgres, never repmgr's metadata or a template
    expect(m.files.map((f) => [f.file, f.database])).toEqual([
      ["globals.sql", undefined],
      ["fcm.dump", "fcm"],
      [archiveName(oddDb()), oddDb()],
      ["postgres.dump", "postgres"],
    ]);
    expect(oddDb().length).toBeLessThanOrEqual(63);
    expect(existsSync(marker)).toBe(false);
    expect(m.dir).toMatch(/\/backup-test-\d{8}T\d{6}Z$/);
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
    await cluster!.waitReplay(pg2, cluster!.psql(pg1, "select pg_current_wal_lsn()"));
    expect(cluster!.psql(pg2, "select count(*) from endpoints", "fcm")).toBe("500");
  }, 180_000);

  it("dumps a standby when named (--node), and refuses a witness or an unknown node with exit 2; --keep 1 then removes this deployment's older backup only", async () => {
    // in a directory of its own: an older backup of this deployment and one of another
    const keepOut = join(tmp, "backups-keep");
    const older = join(keepOut, "backup-test-20250101T000000Z");
    const other = join(keepOut, "backup-test-eu-20250101T000000Z");
    for (const [dir, deployment] of [
      [older, "backup-test"],
      [other, "backup-test-eu"],
    ] as const) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "manifest.json"), JSON.stringify({ format: "ems-ha-backup/1", deployment, startedAt: "2025-01-01T00:00:00.000Z", files: [] }));
    }
    const r = await cli(["backup", "--config", configPath, "--out", keepOut, "--node", "pg-2", "--keep", "1"]);
    expect(r.err).toMatch(/pg-2: dumping database "fcm"/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^backup complete: .*backup-test-\d{8}T\d{6}Z \(4 file\(s\), .*, from pg-2, standby\); removed 1 older backup\(s\) \(--keep 1\): .*backup-test-20250101T000000Z$/m,
    );
    const dir = /backup complete: (\S+)/.exec(r.out)![1]!;
    expect((JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { role: string }).role).toBe("standby");
    expect(readdirSync(keepOut).sort()).toEqual([basename(dir), "backup-test-eu-20250101T000000Z"].sort());
    // check-backups reads the real backup's archives against its manifest
    const checked = await cli(["check-backups", "--config", configPath, "--dir", keepOut, "--max-age", "1"]);
    expect(checked.code, checked.err).toBe(0);
    expect(checked.out).toMatch(new RegExp(`^${basename(dir)}\\s+\\S+ \\S+\\s+\\d+ min\\s+pg-2 \\(standby\\)\\s+.+\\s+match$`, "m"));
    expect(checked.out).toMatch(/^1 backup\(s\) of backup-test; the newest, \S+, is \d+ min old \(at most 1 h\); its 4 file\(s\) match their checksums$/m);
    expect(checked.out).toContain(`the newest, ${dir}, is`);
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
    // --keep: a failed backup removes none of the earlier ones
    const r = await cli(["backup", "--config", file, "--out", out(), "--keep", "1"]);
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

describe("ems-ha restore (real loopback cluster, pg_restore over the real sshd)", () => {
  const oddDb = () => JSON.parse(readFileSync(join(firstBackup, "manifest.json"), "utf8")).files[2].database as string;
  const marker = () => /\$\(touch (\S+)\)/.exec(oddDb())![1]!;
  const databases = () => cluster!.psql(pg1, "select string_agg(datname, ',' order by datname) from pg_database where not datistemplate").split(",");

  it("refuses, changing nothing: a session on a database it would replace, a damaged archive, a database or directory not in the backup, another deployment's backup", async () => {
    cluster!.psql(pg1, "insert into endpoints values (9001, 'written after the backup')", "fcm");
    const before = databases();
    // EMS still connected
    const held = spawnSync(
      "bash",
      [
        "-c",
        `(PGPASSWORD="$1" ${PG_BIN}/psql -X -h "$2" -p "$3" -U postgres -d fcm -c "select pg_sleep(25)" >/dev/null 2>&1 &)`,
        "_",
        PASSWORD,
        pg1.address,
        String(cluster!.port),
      ],
      { timeout: 10_000 },
    );
    expect(held.status).toBe(0);
    const seen = Date.now() + 10_000;
    while (Date.now() < seen && cluster!.psql(pg1, "select count(*) from pg_stat_activity where datname = 'fcm'") === "0")
      await new Promise((r) => setTimeout(r, 200));
    const busy = await cli(["restore", "--config", configPath, "--from", firstBackup]);
    expect(busy.err).toMatch(
      /nothing restored: 1 session\(s\) is connected to a database the backup would replace on pg-1: "fcm": postgres \(psql\) from 127\./,
    );
    expect(busy.err).toMatch(/Stop EMS on every EMS node first/);
    expect(busy.code).toBe(1);
    // a dry run makes the same check
    const busyDry = await cli(["restore", "--config", configPath, "--from", firstBackup, "--dry-run"]);
    expect(busyDry.err).toMatch(/nothing restored: 1 session\(s\) is connected to a database the backup would replace on pg-1/);
    expect(busyDry.code).toBe(1);
    cluster!.psql(pg1, "select pg_terminate_backend(pid) from pg_stat_activity where datname = 'fcm'");
    // a damaged archive: nothing is touched
    const damaged = join(tmp, "damaged");
    spawnSync("cp", ["-a", firstBackup, damaged], { timeout: 20_000 });
    const dump = join(damaged, "fcm.dump");
    const bytes = readFileSync(dump);
    bytes[bytes.length - 10] ^= 0xff;
    writeFileSync(dump, bytes);
    const bad = await cli(["restore", "--config", configPath, "--from", damaged]);
    expect(bad.err).toMatch(/nothing restored: .*fcm\.dump does not match its SHA-256 in manifest\.json/);
    expect(bad.code).toBe(1);
    const nosuch = await cli(["restore", "--config", configPath, "--from", firstBackup, "--database", "nosuch"]);
    expect(nosuch.code).toBe(2);
    expect(nosuch.err).toMatch(/--database: is not in this backup \(got "nosuch"\)\. Fix: name one of: "fcm", .*"postgres"/);
    const nodir = await cli(["restore", "--config", configPath, "--from", join(tmp, "no-such-backup")]);
    expect(nodir.code).toBe(2);
    expect(nodir.err).toMatch(/--from: is not a directory/);
    const other = join(tmp, "other-deployment");
    spawnSync("cp", ["-a", firstBackup, other], { timeout: 20_000 });
    const m = JSON.parse(readFileSync(join(other, "manifest.json"), "utf8")) as { deployment: string };
    writeFileSync(join(other, "manifest.json"), JSON.stringify({ ...m, deployment: "another" }));
    const foreign = await cli(["restore", "--config", configPath, "--from", other]);
    expect(foreign.code).toBe(2);
    expect(foreign.err).toMatch(/--from: is a backup of the deployment "another", not of "backup-test"/);
    // more than the primary's data filesystem holds (the manifest counts fcm at 1 PB): refused before
    // anything changes, naming what an earlier restore kept
    const huge = join(tmp, "huge");
    spawnSync("cp", ["-a", firstBackup, huge], { timeout: 20_000 });
    const hm = JSON.parse(readFileSync(join(huge, "manifest.json"), "utf8")) as { files: Array<{ database?: string; databaseBytes?: number }> };
    expect(hm.files.find((f) => f.database === "fcm")!.databaseBytes).toBeGreaterThan(0);
    for (const f of hm.files) if (f.database === "fcm") f.databaseBytes = 1024 ** 5;
    writeFileSync(join(huge, "manifest.json"), JSON.stringify(hm));
    cluster!.psql(pg1, 'create database "fcm_pre_restore_20260101t000000z"');
    try {
      const full = await cli(["restore", "--config", configPath, "--from", huge]);
      expect(full.code).toBe(1);
      expect(full.err).toMatch(
        /nothing restored: pg-1's data filesystem \(.+\): the restore needs about [\d.]+ GB \([\d.]+ GB of databases, [\d.]+ [GMk]?B of WAL\), [\d.]+ GB is free of [\d.]+ GB: \d+% full afterwards, and PostgreSQL stops when it cannot write WAL/,
      );
      expect(full.err).toMatch(/Databases kept by earlier restores take [\d.]+ MB: "fcm_pre_restore_20260101t000000z" \([\d.]+ MB\)/);
      expect(full.err).toMatch(/--skip-space-check restores all the same/);
    } finally {
      cluster!.psql(pg1, 'drop database "fcm_pre_restore_20260101t000000z"');
    }
    expect(databases()).toEqual(before);
    expect(cluster!.psql(pg1, "select count(*) from endpoints", "fcm")).toBe("501");
  }, 120_000);

  it("puts fcm and the odd-named database back as the backup has them, keeps what they replace under another name, and the standby replays it", async () => {
    cluster!.psql(pg1, "create table later (x int)", "fcm");
    const r = await cli(["restore", "--config", configPath, "--from", firstBackup, "--json"]);
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out) as { node: string; restored: Array<{ database: string; keptAs?: string }>; notReplayed: string[] };
    expect(res.node).toBe("pg-1");
    expect(res.restored.map((x) => x.database)).toEqual(["fcm", oddDb()]);
    expect(res.notReplayed).toEqual([]);
    const kept = res.restored[0]!.keptAs!;
    expect(kept).toMatch(/^fcm_pre_restore_\d{8}t\d{6}z$/);
    expect(Buffer.byteLength(res.restored[1]!.keptAs!)).toBeLessThanOrEqual(63);
    expect(existsSync(marker())).toBe(false);
    // the backup's state: 500 rows, no row or table written after it
    expect(cluster!.psql(pg1, "select count(*) || ' ' || max(name) from endpoints", "fcm")).toBe("500 host 99 'q'");
    expect(cluster!.psql(pg1, "select count(*) from pg_tables where tablename = 'later'", "fcm")).toBe("0");
    // what it replaced, whole
    expect(cluster!.psql(pg1, "select count(*) from endpoints", kept)).toBe("501");
    expect(cluster!.psql(pg1, "select count(*) from pg_tables where tablename = 'later'", kept)).toBe("1");
    expect(databases()).toContain(res.restored[1]!.keptAs!);
    // the standby has the restored database (restore waited for its replay)
    expect(cluster!.psql(pg2, "select count(*) from endpoints", "fcm")).toBe("500");
    expect(r.err).toMatch(/pg-2: replayed the restore/);
    // the room was checked with the real df on the primary's host
    expect(r.err).toMatch(/pg-1's data filesystem \(.+\): the restore needs about [\d.]+ [GMk]?B .*, [\d.]+ GB is free of [\d.]+ GB: \d+% full afterwards\n/);
    expect(r.out + r.err).not.toContain(PASSWORD);
    for (const k of res.restored) cluster!.psql(pg1, `drop database "${k.keptAs!.split('"').join('""')}"`);
  }, 120_000);

  it("onto a cluster that lacks the backup's roles (a new cluster): a failing pg_restore drops the roles it created with the rest; a good one creates them, with their memberships, and restores", async () => {
    cluster!.psql(pg1, "create database rb");
    cluster!.psql(pg1, 'create role rb_owner nologin; create role "rb reader\'s" login in role rb_owner');
    cluster!.psql(pg1, "create table t (x int); alter table t owner to rb_owner; insert into t values (1)", "rb");
    const out = join(tmp, "backups-rb");
    const b = await cli(["backup", "--config", configPath, "--out", out, "--json"]);
    expect(b.code, b.err).toBe(0);
    const dir = (JSON.parse(b.out) as { dir: string }).dir;
    // since the backup: another owner and row, and the roles gone (as on a cluster built anew)
    cluster!.psql(pg1, "alter table t owner to postgres; insert into t values (2)", "rb");
    cluster!.psql(pg1, 'drop role "rb reader\'s"; drop role rb_owner');
    const roles = () => cluster!.psql(pg1, "select coalesce(string_agg(rolname, ',' order by rolname), '') from pg_roles where rolname like 'rb%'");
    try {
      const before = databases();
      // a dry run: the roles it would create and the name it would keep rb under; nothing changed
      const dry = await cli(["restore", "--config", configPath, "--from", dir, "--database", "rb", "--dry-run", "--json"]);
      expect(dry.code, dry.err).toBe(0);
      const plan = JSON.parse(dry.out) as {
        dryRun: boolean;
        node: string;
        createdRoles: string[];
        restored: Array<{ database: string; keptAs: string }>;
        message: string;
      };
      expect([plan.dryRun, plan.node, plan.createdRoles]).toEqual([true, "pg-1", ["rb reader's", "rb_owner"]]);
      expect(plan.restored.map((x) => x.database)).toEqual(["rb"]);
      expect(plan.restored[0]!.keptAs).toMatch(/^rb_pre_restore_\d{8}t\d{6}z$/);
      expect(plan.message).toMatch(
        /^dry run: every check passed, nothing was changed\. A restore from .* would, on pg-1:\n- create the role\(s\) "rb reader's", "rb_owner" \(without a password\)\n- keep "rb" as "rb_pre_restore_\d{8}t\d{6}z" \(.*\) and create "rb" from its archive \([\d.]+ [kM]?B\)$/,
      );
      expect(dry.err).toMatch(/pg-1's data filesystem \(.+\): the restore needs about/);
      expect(databases()).toEqual(before);
      expect(roles()).toBe("");
      // a copy whose archive ends half-way (its manifest rewritten to match): pg_restore fails after the roles are created;
      // counted larger than the filesystem, so --skip-space-check goes on all the same
      const cut = join(tmp, "rb-cut");
      spawnSync("cp", ["-a", dir, cut], { timeout: 20_000 });
      const archive = join(cut, archiveName("rb"));
      const whole = readFileSync(archive);
      writeFileSync(archive, whole.subarray(0, Math.floor(whole.length / 2)));
      const sum = spawnSync("sha256sum", [archive], { encoding: "utf8", timeout: 20_000 }).stdout.split(" ")[0]!;
      const cm = JSON.parse(readFileSync(join(cut, "manifest.json"), "utf8")) as {
        files: Array<{ database?: string; databaseBytes?: number; bytes: number; sha256: string }>;
      };
      for (const f of cm.files) if (f.database === "rb") Object.assign(f, { databaseBytes: 1024 ** 5, bytes: Math.floor(whole.length / 2), sha256: sum });
      writeFileSync(join(cut, "manifest.json"), JSON.stringify(cm));
      const r = await cli(["restore", "--config", configPath, "--from", cut, "--database", "rb", "--skip-space-check"]);
      expect(r.err).toMatch(/pg-1's data filesystem \(.+\): the restore needs about .*% full afterwards; restoring all the same \(--skip-space-check\)/);
      expect(r.err).toContain(`pg-1: created role(s) "rb reader's", "rb_owner" from globals.sql (without a password)`);
      expect(r.err).toMatch(/pg-1: database "rb" kept as "rb_pre_restore_/);
      expect(r.err).toMatch(
        /restore failed on pg-1, undone: pg_restore of "rb" failed: .*; every database is as it was before, and the roles it created are dropped again/s,
      );
      expect(r.code).toBe(1);
      expect(databases()).toEqual(before);
      expect(roles()).toBe("");
      expect(cluster!.psql(pg1, "select string_agg(x::text, ',' order by x) from t", "rb")).toBe("1,2");

      // the backup as written: the roles come back first, then the database as it was
      const good = await cli(["restore", "--config", configPath, "--from", dir, "--database", "rb", "--json"]);
      expect(good.code, good.err).toBe(0);
      const res = JSON.parse(good.out) as { createdRoles: string[]; restored: Array<{ keptAs: string }>; message: string };
      expect(res.createdRoles).toEqual(["rb reader's", "rb_owner"]);
      expect(res.message).toMatch(/Created the role\(s\) "rb reader's", "rb_owner" that the backup names and pg-1 lacked, without a password/);
      expect(roles()).toBe("rb reader's,rb_owner");
      expect(cluster!.psql(pg1, "select rolcanlogin::text from pg_roles where rolname = 'rb reader''s'")).toBe("true");
      expect(cluster!.psql(pg1, "select pg_has_role('rb reader''s', 'rb_owner', 'member')::text")).toBe("true");
      expect(cluster!.psql(pg1, "select tableowner || ' ' || (select string_agg(x::text, ',') from t) from pg_tables where tablename = 't'", "rb")).toBe(
        "rb_owner 1",
      );
      // replicated like any write
      expect(cluster!.psql(pg2, "select count(*) from pg_roles where rolname like 'rb%'")).toBe("2");
      cluster!.psql(pg1, `drop database "${res.restored[0]!.keptAs}"`);
    } finally {
      cluster!.psql(pg1, "drop database if exists rb");
      cluster!.psql(pg1, 'drop role if exists "rb reader\'s"; drop role if exists rb_owner');
    }
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
    // the cluster's own passwords work again on every node, repmgrd runs unpaused, pg-2 streams
    for (const n of [pg1, pg2]) expect(login(n, PASSWORD).status, n.name).toBe(0);
    for (const n of [pg1, pg2, pgw]) {
      expect(isVerifierOf(verifierOf(n, "postgres"), PASSWORD), n.name).toBe(true);
      expect(cluster!.psql(n, "select repmgr.repmgrd_is_paused()", "repmgr"), n.name).toBe("f");
    }
    expect(cluster!.psql(pg2, "select status from pg_stat_wal_receiver")).toBe("streaming");
  }, 240_000);
});

describe("output", () => {
  it("no command printed the DB password", () => {
    expect(fixture!.outputs.join("\n")).not.toContain(PASSWORD);
  });
});
