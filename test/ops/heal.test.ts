/**
 * Status that tells the truth, and self-healing, on a real loopback cluster: three PostgreSQL 15
 * data nodes and a witness registered with repmgr 5.3, repmgrd running on each (failover=manual:
 * the tests break the cluster on purpose). The failures are made for real: a witness left
 * registered with a node that is no longer primary, a standby stopped together with the primary
 * while another standby was promoted (a forked timeline), a paused repmgrd.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../../src/cli/command";
import { runCli } from "../../src/cli/main";
import type { ClusterStatus } from "../../src/ops/status";
import { expectedServices } from "../../src/render/ems-services";
import { LoopbackCluster, loopbackPlan, requireTools, type PgNode } from "./lib/loopback-cluster";
import { startSshd, type LoopbackSshd } from "./lib/loopback-sshd";

const REPO = resolve(__dirname, "../..");
const PASSWORD = `Heal!Test-${randomBytes(6).toString("hex")}`;

let tmp = "";
let cluster: LoopbackCluster;
let sshd: LoopbackSshd | undefined;
let pg1: PgNode;
let pg2: PgNode;
let pg3: PgNode;
let pgw: PgNode;
let configPath = "";
let stateDir = "";
let addr: string[] = [];
let baseEnv: NodeJS.ProcessEnv = {};
const allOutput: string[] = [];

async function cli(argv: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIo = { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), cwd: REPO, env: { ...baseEnv, ...extraEnv } };
  const code = await runCli(argv, io);
  allOutput.push(out, err);
  return { code, out, err };
}

async function status(): Promise<{ code: number; s: ClusterStatus }> {
  const r = await cli(["status", "--config", configPath, "--json"]);
  return { code: r.code, s: JSON.parse(r.out) as ClusterStatus };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  requireTools();
  const plan = await loopbackPlan(5);
  addr = plan.addresses;
  tmp = mkdtempSync(join(tmpdir(), "ems-ha-heal-"));
  chmodSync(tmp, 0o755);
  mkdirSync(join(tmp, "pg"));
  stateDir = join(tmp, "state");
  mkdirSync(stateDir);
  cluster = new LoopbackCluster(join(tmp, "pg"), plan.pgPort, PASSWORD);
  pg1 = cluster.addPrimary("pg-1", 1, addr[0]!);
  pg2 = cluster.addStandby("pg-2", 2, addr[1]!, pg1);
  pg3 = cluster.addStandby("pg-3", 3, addr[2]!, pg1);
  pgw = cluster.addWitness("pgw-1", 4, addr[3]!, pg1);
  for (const n of cluster.nodes) cluster.startRepmgrd(n);
  sshd = await startSshd(join(tmp, "ssh"), addr, plan.sshPort);
  const unitsDir = join(tmp, "units");
  mkdirSync(unitsDir);
  const units = expectedServices("primary").map((alts) => `${alts[0]}.service loaded active running stand-in`);
  writeFileSync(join(unitsDir, `units-${addr[4]}`), `${units.join("\n")}\n`);
  const ssh = { user: "root", port: plan.sshPort, privateKeyPath: sshd.clientKey };
  configPath = join(tmp, "deployment.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      topology: "native-single-region",
      name: "heal-test",
      emsNodes: [{ name: "ems-1", address: addr[4], ssh }],
      database: {
        port: plan.pgPort,
        user: "postgres",
        nodes: [
          { name: "pg-1", address: addr[0], role: "data", ssh },
          { name: "pg-2", address: addr[1], role: "data", ssh },
          { name: "pg-3", address: addr[2], role: "data", ssh },
          { name: "pgw-1", address: addr[3], role: "witness", ssh },
        ],
      },
      installer: { version: "7.4.4.2034", source: { kind: "file", path: "/nonexistent/installer.bin", sha256: "0".repeat(64) } },
      ems: { fqdn: "ems.heal-test.internal", vip: "192.0.2.50" },
    }),
  );
  const env = { ...process.env };
  delete env.SSH_AUTH_SOCK;
  delete env.TF_VAR_db_password;
  baseEnv = {
    ...env,
    EMS_HA_DB_PASSWORD: PASSWORD,
    EMS_HA_KNOWN_HOSTS: join(tmp, "known_hosts"),
    EMS_HA_SYSTEMCTL: `${REPO}/test/standins/ems-systemctl ${unitsDir}`,
    EMS_HA_STATE_DIR: stateDir,
  };
  await cluster.waitRepmgrd(cluster.nodes);
}, 300_000);

afterAll(async () => {
  cluster?.stopAll();
  await sshd?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe("status tells the truth", () => {
  it("healthy: repmgrd running everywhere, the witness registered with the primary, the next failover promotes pg-2", async () => {
    const { code, s } = await status();
    expect(s.reasons).toEqual([]);
    expect(code).toBe(0);
    expect(s.dbNodes.map((n) => [n.name, n.role, n.repmgrd?.running, n.repmgrd?.paused])).toEqual([
      ["pg-1", "primary", true, false],
      ["pg-2", "standby", true, false],
      ["pg-3", "standby", true, false],
      ["pgw-1", "witness", true, false],
    ]);
    expect(s.dbNodes.find((n) => n.name === "pg-1")!.timeline).toBe(1);
    expect(s.nextFailover).toMatchObject({ primary: "pg-1", newPrimary: "pg-2", unfit: [] });
    const table = await cli(["status", "--config", configPath]);
    expect(table.out).toMatch(/If the primary pg-1 fails now: pg-2 is promoted/);
    expect(table.out).toMatch(/pg-1\s.*primary.*\s1\s+running/);
  });

  it("a paused repmgrd is flagged (degraded) and the next failover needs manual promotion", async () => {
    cluster.repmgrOn(pg1, ["service", "pause"]);
    try {
      const { code, s } = await status();
      expect(code).toBe(1);
      for (const n of ["pg-1", "pg-2", "pg-3", "pgw-1"]) expect(s.reasons).toContain(`repmgrd is paused on ${n}: automatic failover is off until \`ems-ha resume\``);
      expect(s.nextFailover?.newPrimary).toBeNull();
      expect(s.reasons.some((r) => /^if the primary pg-1 fails now, nobody is promoted: .*needs manual promotion/.test(r))).toBe(true);
      const table = await cli(["status", "--config", configPath]);
      expect(table.out).toMatch(/pg-2\s.*standby.*PAUSED/);
    } finally {
      cluster.repmgrOn(pg1, ["service", "unpause"]);
    }
    expect((await status()).code).toBe(0);
  });

  it("a stale witness and a forked standby (stopped with the primary while another standby was promoted) are degraded, with the reasons", async () => {
    // pg-3 stops first and misses what pg-1 writes next; pg-2 receives it.
    cluster.stopImmediate(pg3);
    cluster.psql(pg1, "create table t(x int); insert into t select generate_series(1, 5000)");
    await waitReplay(pg2, cluster.psql(pg1, "select pg_current_wal_lsn()"));
    // The primary and pg-2 stop together; pg-3 comes back and is promoted: a new timeline forks
    // at pg-3's position, behind what pg-2 has.
    cluster.stopImmediate(pg1);
    cluster.stopImmediate(pg2);
    cluster.start(pg3);
    cluster.repmgrOn(pg3, ["standby", "promote"]);
    cluster.psql(pg3, "create table after_fork(x int); insert into after_fork values (1)");
    cluster.start(pg2);
    // (repmgrd of pg-2 cannot start: its upstream pg-1 is down; status reports that too.)
    cluster.startRepmgrd(pg3);
    await cluster.waitRepmgrd([pg3]);

    const { code, s } = await status();
    expect(code).toBe(1);
    expect(s.writablePrimaries).toEqual(["pg-3"]);
    expect(s.dbNodes.find((n) => n.name === "pg-3")!.timeline).toBe(2);
    expect(s.dbNodes.find((n) => n.name === "pg-2")).toMatchObject({ role: "standby", streaming: false, timeline: 1 });
    expect(s.reasons).toContain("standby pg-2 is not streaming from a primary");
    expect(s.reasons.find((r) => r.startsWith("standby pg-2 has forked"))).toMatch(/^standby pg-2 has forked: it is on timeline 1 at \S+, past \S+ where the primary pg-3 left timeline 1 \(now on 2\)/);
    expect(s.reasons).toContain(`witness pgw-1 is registered with pg-1, not with the primary pg-3 (repmgr witness register --force -h <pg-3's address> on pgw-1)`);
    expect(s.reasons.some((r) => r.startsWith("data node pg-1 is unreachable"))).toBe(true);
    // pg-1 is down, pg-2 forked, the witness stale: nobody would take over from pg-3.
    expect(s.nextFailover).toMatchObject({ primary: "pg-3", newPrimary: null });
    expect(s.nextFailover!.unfit).toEqual(
      expect.arrayContaining([
        { node: "pg-1", why: "unreachable" },
        { node: "pg-2", why: "not streaming" },
        { node: "pgw-1", why: "registered with another node than pg-3" },
      ]),
    );
  });
});

async function waitReplay(n: PgNode, lsn: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (cluster.psql(n, `select pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`) !== "t") {
    if (Date.now() > deadline) throw new Error(`${n.name} did not replay up to ${lsn} in 30 s`);
    await sleep(200);
  }
}

describe("output", () => {
  it("no command printed the DB password", () => {
    for (const text of allOutput) expect(text).not.toContain(PASSWORD);
  });
});
