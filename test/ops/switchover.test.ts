/**
 * Day-2 operations on a real loopback cluster (PostgreSQL 15 + repmgr 5.3, repmgrd running):
 * `ems-ha pause` / `resume` (repmgr service pause/unpause, shown by status), and
 * `ems-ha switchover --to NODE` (repmgr standby switchover --siblings-follow over SSH, with
 * SSH between the nodes as postgres as the native setup configures it), measured under a writer.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, appendFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterStatus } from "../../src/ops/status";
import { LoopbackCluster, loopbackPlan, requireTools, run, type PgNode } from "./lib/loopback-cluster";
import { startSshd, type LoopbackSshd } from "./lib/loopback-sshd";
import { opsEnv, writeOpsFixture } from "./lib/ops-fixture";
import { runCliCaptured, type CliRun } from "../helpers/cli";

const REPO = resolve(__dirname, "../..");
const PASSWORD = `Swo!Test-${randomBytes(6).toString("hex")}`;

let tmp = "";
let cluster: LoopbackCluster;
let sshd: LoopbackSshd | undefined;
let pg1: PgNode;
let pg2: PgNode;
let pg3: PgNode;
let configPath = "";
let baseEnv: NodeJS.ProcessEnv = {};
const figures: string[] = [];

function cli(argv: string[]): Promise<CliRun> {
  return runCliCaptured(argv, REPO, baseEnv);
}

async function status(): Promise<{ code: number; s: ClusterStatus }> {
  const r = await cli(["status", "--config", configPath, "--json"]);
  return { code: r.code, s: JSON.parse(r.out) as ClusterStatus };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  requireTools();
  const plan = await loopbackPlan(5);
  const addr = plan.addresses;
  // outside /tmp: the sshd (and what runs under it) gets a private /tmp
  tmp = mkdtempSync(join("/var/tmp", "ems-ha-switchover-"));
  chmodSync(tmp, 0o755);
  mkdirSync(join(tmp, "pg"));
  sshd = await startSshd(join(tmp, "ssh"), addr, plan.sshPort, { repmgrHops: true });
  // postgres's key for the hops repmgr makes between the nodes (ssh_options below)
  const pgKey = join(tmp, "pg", "postgres_ed25519");
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "ems-ha-switchover-postgres", "-f", pgKey]);
  const ids = run("id", ["postgres"]);
  chownSync(pgKey, Number(/uid=(\d+)/.exec(ids)![1]), Number(/gid=(\d+)/.exec(ids)![1]));
  appendFileSync(join(tmp, "ssh", "authorized_keys"), readFileSync(`${pgKey}.pub`));
  cluster = new LoopbackCluster(join(tmp, "pg"), plan.pgPort, PASSWORD);
  cluster.extraRepmgrConf = [`ssh_options='-q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p ${plan.sshPort} -i ${pgKey}'`];
  pg1 = await cluster.addPrimary("pg-1", 1, addr[0]!);
  pg2 = await cluster.addStandby("pg-2", 2, addr[1]!, pg1);
  pg3 = await cluster.addStandby("pg-3", 3, addr[2]!, pg1);
  await cluster.addWitness("pgw-1", 4, addr[3]!, pg1);
  for (const n of cluster.nodes) cluster.startRepmgrd(n);
  cluster.superviseRepmgrd = true;
  const fixture = writeOpsFixture({
    tmp,
    name: "switchover-test",
    pgPort: plan.pgPort,
    sshPort: plan.sshPort,
    addresses: addr,
    privateKeyPath: sshd.clientKey,
  });
  configPath = fixture.configPath;
  baseEnv = opsEnv(tmp, fixture.unitsDir, PASSWORD, { EMS_HA_STATE_DIR: join(tmp, "state"), EMS_HA_REPMGR_CONF: join(tmp, "pg", "{node}", "repmgr.conf") });
  await cluster.waitRepmgrd(cluster.nodes);
  cluster.psql(pg1, "create table w(id int primary key, at timestamptz default now())");
}, 300_000);

afterAll(async () => {
  if (figures.length > 0) console.log(`switchover figures:\n${figures.join("\n")}`);
  cluster?.stopAll();
  await sshd?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe("ems-ha pause / resume", () => {
  it("pause: every repmgrd paused, status flags it (exit 1) until resume", async () => {
    const p = await cli(["pause", "--config", configPath]);
    expect(p.err).toMatch(/sudo -n -u postgres repmgr -f \S+pg-1\/repmgr\.conf service pause/);
    expect(p.out).toMatch(/repmgrd paused on every reachable node/);
    expect(p.code).toBe(0);
    const paused = await status();
    expect(paused.code).toBe(1);
    expect(paused.s.dbNodes.map((n) => n.repmgrd?.paused)).toEqual([true, true, true, true]);
    expect(paused.s.reasons).toContain("repmgrd is paused on pg-1: automatic failover is off until `ems-ha resume`");
    const r = await cli(["resume", "--config", configPath]);
    expect(r.out).toMatch(/repmgrd resumed on every reachable node/);
    expect(r.code).toBe(0);
    const after = await status();
    expect(after.s.reasons).toEqual([]);
    expect(after.code).toBe(0);
  });
});

describe("ems-ha switchover", () => {
  it("bad targets: a witness or an unknown node is bad input (exit 2); the primary itself is refused", async () => {
    const w = await cli(["switchover", "--to", "pgw-1", "--config", configPath]);
    expect(w.code).toBe(2);
    expect(w.err).toMatch(/--to: a witness holds no data and cannot become primary/);
    expect((await cli(["switchover", "--to", "pg-9", "--config", configPath])).code).toBe(2);
    expect((await cli(["switchover", "--config", configPath])).code).toBe(2);
    const p = await cli(["switchover", "--to", "pg-1", "--config", configPath]);
    expect(p.code).toBe(1);
    expect(p.err).toMatch(/refused: pg-1 is already the primary/);
  });

  it("refused while the target lags beyond the limit, and while the cluster is not healthy", async () => {
    cluster.psql(pg3, "select pg_wal_replay_pause()");
    try {
      cluster.psql(pg1, "insert into w(id) select g from generate_series(-20000, -1) g");
      const lag = await cli(["switchover", "--to", "pg-3", "--config", configPath, "--max-lag-bytes", "1000"]);
      expect(lag.code).toBe(1);
      expect(lag.err).toMatch(/refused: pg-3 lags \d+ bytes behind the primary \(limit 1000\): wait until it catches up/);
    } finally {
      cluster.psql(pg3, "select pg_wal_replay_resume()");
    }
    cluster.stopRepmgrd(pg3);
    try {
      const unhealthy = await cli(["switchover", "--to", "pg-2", "--config", configPath]);
      expect(unhealthy.code).toBe(1);
      expect(unhealthy.err).toMatch(/refused: the cluster is not healthy \(ems-ha status\): .*repmgrd is not running on pg-3/);
      expect(cluster.psql(pg1, "select pg_is_in_recovery()")).toBe("f");
    } finally {
      cluster.startRepmgrd(pg3);
      await cluster.waitRepmgrd([pg3]);
    }
  });

  it("--dry-run checks with repmgr and changes nothing", async () => {
    const r = await cli(["switchover", "--to", "pg-2", "--config", configPath, "--dry-run"]);
    expect(r.err).toMatch(/standby switchover --siblings-follow --dry-run/);
    expect(r.err).toMatch(/prerequisites for executing STANDBY SWITCHOVER are met/);
    expect(r.code).toBe(0);
    expect(cluster.psql(pg1, "select pg_is_in_recovery()")).toBe("f");
    expect(cluster.psql(pg2, "select pg_is_in_recovery()")).toBe("t");
  });

  it("switches over under a writer: short write outage, no acknowledged row lost, the old primary follows as a standby", async () => {
    const addresses = [pg1, pg2, pg3].map((n) => n.address);
    const acked: number[] = [];
    const commitTimes: number[] = [];
    let stop = false;
    let errors = 0;
    const connectPrimary = async (): Promise<Client | undefined> => {
      for (const host of addresses) {
        const c = new Client({
          host,
          port: cluster.port,
          user: "postgres",
          password: PASSWORD,
          database: "postgres",
          connectionTimeoutMillis: 1000,
          query_timeout: 3000,
        });
        c.on("error", () => undefined);
        try {
          await c.connect();
          const r = await c.query("select pg_is_in_recovery() as r");
          if (r.rows[0].r === false) return c;
        } catch {
          /* next */
        }
        await c.end().catch(() => undefined);
      }
      return undefined;
    };
    const writer = (async () => {
      let client: Client | undefined;
      let id = 0;
      const deadline = Date.now() + 240_000;
      while (!stop && Date.now() < deadline) {
        try {
          client ??= await connectPrimary();
          if (!client) throw new Error("no primary");
          id++;
          await client.query("insert into w(id) values ($1)", [id]);
          acked.push(id);
          commitTimes.push(Date.now());
        } catch {
          errors++;
          await client?.end().catch(() => undefined);
          client = undefined;
          await sleep(100);
        }
        await sleep(20);
      }
      await client?.end().catch(() => undefined);
    })();
    await sleep(2000);
    const started = Date.now();
    const r = await cli(["switchover", "--to", "pg-2", "--config", configPath]);
    const ended = Date.now();
    await sleep(3000);
    stop = true;
    await writer;
    expect(r.err).toMatch(/standby switchover --siblings-follow/);
    expect(r.out, `${r.err}`).toMatch(/pg-2 is the primary; pg-1 follows it as a standby/);
    expect(r.code).toBe(0);
    // write outage: the longest gap between two acknowledged commits around the switchover
    const during = commitTimes.filter((t) => t >= started - 1000);
    let gap = 0;
    for (let i = 1; i < during.length; i++) gap = Math.max(gap, during[i]! - during[i - 1]!);
    const present = new Set(cluster.psql(pg2, "select id from w where id > 0").split("\n").filter(Boolean).map(Number));
    const lost = acked.filter((id) => !present.has(id));
    figures.push(
      `switchover pg-1 -> pg-2: ems-ha switchover (with the health check after) ${((ended - started) / 1000).toFixed(1)} s, write outage ${(gap / 1000).toFixed(1)} s, ${acked.length} rows acknowledged, ${lost.length} lost, ${errors} failed attempts`,
    );
    expect(lost).toEqual([]);
    expect(acked.length).toBeGreaterThan(50);
    expect(gap).toBeLessThan(ended - started + 5000);
    const after = await status();
    const byName = Object.fromEntries(after.s.dbNodes.map((n) => [n.name, n]));
    expect(after.s.writablePrimaries).toEqual(["pg-2"]);
    expect(byName["pg-1"]).toMatchObject({ role: "standby", streaming: true, upstream: pg2.address });
    expect(byName["pg-3"]).toMatchObject({ role: "standby", streaming: true, upstream: pg2.address });
    expect(after.s.reasons).toEqual([]);
    expect(after.code).toBe(0);
    expect(spawnSync("true", { timeout: 10_000 }).status).toBe(0);
  }, 300_000);
});
