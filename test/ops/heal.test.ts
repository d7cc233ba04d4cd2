/**
 * Status that tells the truth, and self-healing, on a real loopback cluster: three PostgreSQL 15
 * data nodes and a witness registered with repmgr 5.3, repmgrd running on each (failover=manual:
 * the tests break the cluster on purpose). The failures are made for real: a witness left
 * registered with a node that is no longer primary, a standby stopped together with the primary
 * while another standby was promoted (a forked timeline), a paused repmgrd.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterStatus } from "../../src/ops/status";
import { loadDeployment } from "../../src/config/load";
import { memberByName } from "../../src/render/native/layout";
import { renderReconcileScript } from "../../src/render/native/reconcile";
import { spawnAsync } from "../../src/spawn-async";
import { LoopbackCluster, loopbackPlan, PG_BIN, requireTools, serverOptions, type PgNode } from "./lib/loopback-cluster";
import { installLoopbackValidation } from "./lib/loopback-validation";
import { startSshd, type LoopbackSshd } from "./lib/loopback-sshd";
import { opsEnv, writeOpsFixture } from "./lib/ops-fixture";
import { runCliCaptured, type CliRun } from "../helpers/cli";
import { reconcileStateOverrides } from "../helpers/reconcile";

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
/** The reconciliation loops started by the tests, by node. */
const loops = new Map<string, ChildProcess>();
/** Measured repair times, printed at the end (docs/reliability.md). */
const figures: string[] = [];

/**
 * The node's real reconciliation script (rendered from the deployment) and an overrides file
 * that points it at the loopback node: paths, socket, pg_ctl instead of systemctl, a short
 * interval and grace; restarting repmgrd is left to the test (recorded in a file).
 */
function reconcileFiles(n: PgNode): { script: string; overrides: string; log: string } {
  const d = loadDeployment(configPath);
  const dir = join(tmp, "reconcile", n.name);
  mkdirSync(join(dir, "state"), { recursive: true });
  const script = join(dir, "ems-ha-reconcile");
  const text = renderReconcileScript(d, memberByName(d, n.name));
  writeFileSync(script, text, { mode: 0o755 });
  // the failover validation the election repair asks (as the setup script installs it on a host)
  const validate = installLoopbackValidation(join(dir, "ems-ha-validate-failover"), cluster, n);
  const overrides = join(dir, "overrides.sh");
  const ctl = `runuser -u postgres -- timeout 60 ${PG_BIN}/pg_ctl -D ${n.dataDir}`;
  writeFileSync(
    overrides,
    [
      // every state file of the node's own in its directory (the nodes share this machine) ...
      ...reconcileStateOverrides(text, join(dir, "state")),
      `DATA_DIR=${n.dataDir}`,
      `CONF_DIR=${n.dataDir}`,
      `REPMGR_CONF=${n.repmgrConf}`,
      // ... but the rewind records in one place, where status reads them
      `STATE_DIR=${stateDir}`,
      "INTERVAL=1",
      "GRACE=2",
      // as on a real host (10 s): a repair that stops a standby's PostgreSQL (a rewind) while another
      // node is down leaves the primary seeing no majority for that long; 3 s was shorter than a
      // loaded machine's rewind, and the primary fenced itself in the middle of it (CI, 2026-11-27)
      "FENCE_AFTER=10",
      "ELECT_AFTER=12",
      `VALIDATE=${validate}`,
      "VALIDATE_TIMEOUT=60",
      // shared by the nodes here (one machine); the marker names its node
      `FENCE_MARKER=${stateDir}/fenced`,
      `export PGHOST=${n.socketDir}`,
      `svc_active() { ${ctl} status >/dev/null 2>&1; }`,
      `svc_stop() { ${ctl} -m fast -w -t 30 stop >/dev/null; }`,
      `svc_start() { ${ctl} -l ${n.logFile} -o "${serverOptions(n)}" -w -t 30 start >/dev/null; }`,
      // repmgrd is not run by systemd here: the two steps are logged where the repairs are
      `hold_repmgrd() { log "(test) repmgrd stopped"; }`,
      `release_repmgrd() { log "(test) repmgrd started"; }`,
      "",
    ].join("\n"),
  );
  return { script, overrides, log: join(dir, "loop.log") };
}

/**
 * repmgr keeps temporary files in /tmp (command output, the config archive of node rejoin), which
 * must be writable by postgres as on any Debian host; this machine's /tmp is not. The script runs
 * in its own mount namespace with a private tmpfs on /tmp (the cluster lives under /var/tmp).
 */
function inPrivateTmp(command: string): string[] {
  return ["-m", "bash", "-c", `mount -t tmpfs -o mode=1777,size=64m tmpfs /tmp && ${command}`];
}

async function reconcileOnce(n: PgNode): Promise<{ code: number | null; out: string }> {
  const f = reconcileFiles(n);
  const r = await spawnAsync("unshare", inPrivateTmp(`exec bash ${f.script} --once`), {
    env: { ...process.env, EMS_HA_RECONCILE_OVERRIDES: f.overrides },
    timeoutMs: 120_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function startLoop(n: PgNode): void {
  const f = reconcileFiles(n);
  const child = spawn("unshare", inPrivateTmp(`exec bash ${f.script} >>${f.log} 2>&1`), {
    env: { ...process.env, EMS_HA_RECONCILE_OVERRIDES: f.overrides },
    stdio: "ignore",
  });
  loops.set(n.name, child);
}

async function stopLoop(n: PgNode): Promise<void> {
  const c = loops.get(n.name);
  loops.delete(n.name);
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
  c.kill("SIGTERM");
  await Promise.race([exited, sleep(10_000)]);
  if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}

function stopLoops(): void {
  for (const c of loops.values()) if (c.exitCode === null) c.kill("SIGTERM");
  loops.clear();
}

function loopLog(n: PgNode): string {
  const f = join(tmp, "reconcile", n.name, "loop.log");
  return existsSync(f) ? readFileSync(f, "utf8") : "";
}

function postmasterPid(n: PgNode): string {
  return readFileSync(join(n.dataDir, "postmaster.pid"), "utf8").split("\n")[0]!;
}

/** Polls status until `done` holds; returns the seconds it took (bounded). */
async function until(what: string, done: (s: ClusterStatus) => boolean, timeoutMs: number): Promise<{ seconds: number; s: ClusterStatus; code: number }> {
  const started = Date.now();
  let last: ClusterStatus | undefined;
  while (Date.now() - started < timeoutMs) {
    const st = await status();
    last = st.s;
    if (done(last)) return { seconds: (Date.now() - started) / 1000, s: last, code: st.code };
    await sleep(500);
  }
  throw new Error(
    `${what}: not reached in ${timeoutMs / 1000} s; last reasons: ${JSON.stringify(last?.reasons)}\n${[...loops.keys()].map((k) => `--- ${k}\n${loopLog(cluster.nodes.find((n) => n.name === k)!).slice(-3000)}`).join("\n")}`,
  );
}

const streamsFrom = (s: ClusterStatus, node: string, primary: string) => {
  const n = s.dbNodes.find((x) => x.name === node);
  const p = s.dbNodes.find((x) => x.name === primary);
  return n?.role === "standby" && n.streaming === true && n.upstream === p?.address;
};

async function cli(argv: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const r = await runCliCaptured(argv, REPO, { ...baseEnv, ...extraEnv });
  allOutput.push(r.out, r.err);
  return r;
}

async function status(): Promise<{ code: number; s: ClusterStatus }> {
  // each SSH call bounded at 60 s, not 20: a loaded CI machine has run this file beside a Docker lab
  const r = await cli(["status", "--config", configPath, "--json", "--ssh-timeout", "60"]);
  return { code: r.code, s: JSON.parse(r.out) as ClusterStatus };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  requireTools();
  const plan = await loopbackPlan(5);
  addr = plan.addresses;
  tmp = mkdtempSync(join("/var/tmp", "ems-ha-heal-"));
  chmodSync(tmp, 0o755);
  mkdirSync(join(tmp, "pg"));
  stateDir = join(tmp, "state");
  mkdirSync(stateDir);
  cluster = new LoopbackCluster(join(tmp, "pg"), plan.pgPort, PASSWORD);
  pg1 = await cluster.addPrimary("pg-1", 1, addr[0]!);
  pg2 = await cluster.addStandby("pg-2", 2, addr[1]!, pg1);
  pg3 = await cluster.addStandby("pg-3", 3, addr[2]!, pg1);
  // The witness's own repmgrd follows a new primary once it has given up on the old one
  // (reconnect_attempts × reconnect_interval, 60 s by default): on a loaded machine that came
  // before status looked, and the stale witness this file repairs was gone (a CI run of b65a333).
  // Here it keeps retrying pg-1 for hours, so the witness stays stale until the loop repairs it.
  pgw = await cluster.addWitness("pgw-1", 4, addr[3]!, pg1, ["reconnect_attempts=1000", "reconnect_interval=10"]);
  for (const n of cluster.nodes) cluster.startRepmgrd(n);
  sshd = await startSshd(join(tmp, "ssh"), addr, plan.sshPort);
  const fixture = writeOpsFixture({ tmp, name: "heal-test", pgPort: plan.pgPort, sshPort: plan.sshPort, addresses: addr, privateKeyPath: sshd.clientKey });
  configPath = fixture.configPath;
  baseEnv = opsEnv(tmp, fixture.unitsDir, PASSWORD, { EMS_HA_STATE_DIR: stateDir });
  await cluster.waitRepmgrd(cluster.nodes);
}, 300_000);

afterAll(async () => {
  stopLoops();
  if (figures.length > 0) console.log(`repair times:\n${figures.join("\n")}`);
  cluster?.stopAll();
  await sshd?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe("status tells the truth", () => {
  it("healthy: repmgrd running everywhere, the witness registered with the primary, the next failover promotes pg-2", async () => {
    // pg-2 wins over pg-3 on its lower node id only while both have received the same WAL: status
    // reads their positions one after the other, and WAL written in between puts pg-3 ahead (bounded)
    let { code, s } = await status();
    const lsnOf = (x: ClusterStatus, n: string) => x.dbNodes.find((d) => d.name === n)?.lsn;
    for (let i = 0; i < 20 && lsnOf(s, "pg-2") !== lsnOf(s, "pg-3"); i++) {
      await sleep(500);
      ({ code, s } = await status());
    }
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
    // the table is another status run: the same wait for equal positions (bounded)
    let table = await cli(["status", "--config", configPath, "--ssh-timeout", "60"]);
    for (let i = 0; i < 20 && !/If the primary pg-1 fails now: pg-2 is promoted/.test(table.out); i++) {
      expect(table.out).toMatch(/If the primary pg-1 fails now: pg-3 is promoted/);
      await sleep(500);
      table = await cli(["status", "--config", configPath, "--ssh-timeout", "60"]);
    }
    expect(table.out).toMatch(/If the primary pg-1 fails now: pg-2 is promoted/);
    expect(table.out).toMatch(/pg-1\s.*primary.*\s1\s+running/);
  });

  it("a paused repmgrd is flagged (degraded) and the next failover needs manual promotion", async () => {
    await cluster.repmgrOn(pg1, ["service", "pause"]);
    try {
      const { code, s } = await status();
      expect(code).toBe(1);
      for (const n of ["pg-1", "pg-2", "pg-3", "pgw-1"])
        expect(s.reasons).toContain(`repmgrd is paused on ${n}: automatic failover is off until \`ems-ha resume\``);
      expect(s.nextFailover?.newPrimary).toBeNull();
      expect(s.reasons.some((r) => /^if the primary pg-1 fails now, nobody is promoted: .*needs manual promotion/.test(r))).toBe(true);
      const table = await cli(["status", "--config", configPath, "--ssh-timeout", "60"]);
      expect(table.out).toMatch(/pg-2\s.*standby.*PAUSED/);
    } finally {
      await cluster.repmgrOn(pg1, ["service", "unpause"]);
    }
    expect((await status()).code).toBe(0);
  });

  it("the reconciliation service leaves a healthy cluster alone (one iteration on every node)", async () => {
    const pids = cluster.nodes.map(postmasterPid);
    for (const n of cluster.nodes) {
      const r = await reconcileOnce(n);
      expect(r.out).not.toMatch(/REPAIR|rejoin|register|follow/);
      expect(r.code, r.out).toBe(0);
    }
    expect(cluster.nodes.map(postmasterPid)).toEqual(pids);
    expect(readdirSync(stateDir)).toEqual([]);
    expect((await status()).code).toBe(0);
  });

  it("a stale witness and a forked standby (stopped with the primary while another standby was promoted) are degraded, with the reasons", async () => {
    // pg-3 stops first and misses what pg-1 writes next; pg-2 receives it.
    cluster.stopImmediate(pg3);
    cluster.psql(pg1, "create table t(x int); insert into t select generate_series(1, 5000)");
    await cluster.waitReplay(pg2, cluster.psql(pg1, "select pg_current_wal_lsn()"));
    // The primary and pg-2 stop together; pg-3 comes back and is promoted: a new timeline forks
    // at pg-3's position, behind what pg-2 has.
    cluster.stopImmediate(pg1);
    cluster.stopImmediate(pg2);
    await cluster.start(pg3);
    await cluster.repmgrOn(pg3, ["standby", "promote"]);
    cluster.psql(pg3, "create table after_fork(x int); insert into after_fork values (1)");
    await cluster.start(pg2);
    // (repmgrd of pg-2 cannot start: its upstream pg-1 is down; status reports that too.)
    cluster.startRepmgrd(pg3);
    await cluster.waitRepmgrd([pg3]);

    const { code, s } = await status();
    expect(code).toBe(1);
    expect(s.writablePrimaries).toEqual(["pg-3"]);
    expect(s.dbNodes.find((n) => n.name === "pg-3")!.timeline).toBe(2);
    expect(s.dbNodes.find((n) => n.name === "pg-2")).toMatchObject({ role: "standby", streaming: false, timeline: 1 });
    expect(s.reasons).toContain("standby pg-2 is not streaming from a primary");
    expect(s.reasons.find((r) => r.startsWith("standby pg-2 has forked"))).toMatch(
      /^standby pg-2 has forked: it is on timeline 1 at \S+, past \S+ where the primary pg-3 left timeline 1 \(now on 2\)/,
    );
    expect(s.reasons).toContain(
      `witness pgw-1 is registered with pg-1, not with the primary pg-3 (repmgr witness register --force -h <pg-3's address> on pgw-1)`,
    );
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

describe("self-healing (the reconciliation service's loop, as systemd runs it)", () => {
  it("repairs the stale witness; leaves the forked standby alone while the primary sees a majority only with it (its rewind would fence the primary)", async () => {
    const broken = Date.now();
    for (const n of [pg2, pg3, pgw]) startLoop(n);
    const { seconds } = await until("the witness follows pg-3", (s) => !s.reasons.some((r) => r.startsWith("witness pgw-1")), 120_000);
    figures.push(`stale witness repaired in ${seconds.toFixed(1)} s (loop interval 1 s, grace 2 s)`);
    expect(loopLog(pgw)).toMatch(
      /REPAIR: this witness is registered with node 1 \(primary in its metadata: 1\), but pg-3 \(\S+\) is the primary: witness register --force -h/,
    );
    // repmgrd stopped for the length of each repair, started after it: status never sees a healthy
    // node whose repmgrd is about to restart
    expect(loopLog(pgw)).toMatch(/repmgrd stopped\n(.*\n)*.*witness registered with pg-3\n(.*\n)*.*repmgrd started/);
    // pg-1 is down: of pg-3's three others only pg-2 and the witness answer, the two it needs. A
    // rewind stops pg-2's PostgreSQL for longer than pg-3's fence waits (10 s here): pg-2 waits.
    const deferred =
      /this standby has forked \(timeline 1 replayed up to \S+, past \S+ where pg-3 left timeline 1\), but not rewinding yet: pg-3 answers as primary, and of its other nodes only 1 answer besides this one \(a majority needs 2\)/;
    for (let i = 0; !deferred.test(loopLog(pg2)); i++) {
      if (i > 120) throw new Error(`pg-2 never said it waits:\n${loopLog(pg2).slice(-3000)}`);
      await sleep(500);
    }
    // past the fence's wait: nothing was touched, and the primary never lost its majority
    await sleep(12_000);
    expect(loopLog(pg2)).not.toMatch(/REPAIR|repmgrd stopped|node rejoin/);
    expect(loopLog(pg2).match(/not rewinding yet/g)).toHaveLength(1);
    expect(loopLog(pg3)).not.toMatch(/REPAIR|repmgrd stopped|only \d+ of the other nodes answer|FENCE/);
    expect(cluster.psql(pg3, "select pg_is_in_recovery()")).toBe("f");
    expect(readdirSync(stateDir).filter((f) => /^rewind-pg-2-.*\.txt$/.test(f))).toEqual([]);
    expect(Date.now() - broken).toBeLessThan(150_000);
  }, 200_000);

  it("repairs the stale primary when it comes back (rewound onto pg-3's timeline), then the forked standby (recording what each rewind discards), never touching the only primary", async () => {
    await cluster.start(pg1);
    startLoop(pg1);
    // two rewinds one after the other: 31-55 s on a quiet machine
    const { seconds, s } = await until("pg-1 and pg-2 stream from pg-3", (x) => streamsFrom(x, "pg-1", "pg-3") && streamsFrom(x, "pg-2", "pg-3"), 240_000);
    figures.push(`stale primary and then the forked standby rejoined in ${seconds.toFixed(1)} s`);
    expect(s.writablePrimaries).toEqual(["pg-3"]);
    expect(loopLog(pg1)).toMatch(/REPAIR: pg-3 \(\S+\) is primary on timeline 2, newer than this node's 1: this node is a stale primary/);
    expect(loopLog(pg1)).toMatch(/node rejoin done/);
    expect(readdirSync(join(tmp, "pg", "pg-1")).filter((f) => f.includes("pre-rejoin"))).toEqual([]);
    expect(readdirSync(stateDir).filter((f) => /^rewind-pg-1-.*\.txt$/.test(f))).toHaveLength(1);
    // pg-1's rows after the fork are gone from it (pg-3 never had them) but recorded.
    expect(cluster.psql(pg1, "select count(*) from pg_class where relname = 't'")).toBe("0");
    // pg-2: rewound, not re-cloned (no data directory was set aside), once pg-1 answered again
    expect(loopLog(pg2)).toMatch(/node rejoin done/);
    expect(readdirSync(join(tmp, "pg", "pg-2")).filter((f) => f.includes("pre-rejoin"))).toEqual([]);
    expect(loopLog(pg2)).toMatch(/REPAIR: this standby has forked: timeline 1 replayed up to \S+, past \S+ where pg-3 left timeline 1; rewinding/);
    expect(loopLog(pg2)).toMatch(/WARNING: REWIND of pg-2 will discard WAL \S+\.\.\S+ of timeline 1; recorded in \S+rewind-pg-2-\S+\.txt/);
    expect(loopLog(pg2)).toMatch(/repmgrd stopped\n(.*\n)*.*node rejoin done\n(.*\n)*.*streaming from pg-3\n.*repmgrd started/);
    // the primary's loop did nothing, and never saw too few nodes
    expect(loopLog(pg3)).not.toMatch(/REPAIR|repmgrd stopped|FENCE/);
    const record = readdirSync(stateDir).filter((f) => /^rewind-pg-2-.*\.txt$/.test(f));
    expect(record).toHaveLength(1);
    const text = readFileSync(join(stateDir, record[0]!), "utf8");
    expect(text).toMatch(/^discarded: WAL of timeline 1 from \S+ to \S+ \([1-9]\d* bytes\)/m);
    expect(text).toMatch(/^fork point: pg-3 left timeline 1 at \S+ \(now on timeline 2\)/m);
    expect(text).toMatch(/Latest checkpoint's TimeLineID:\s+1/);
    const wal = readdirSync(join(stateDir, record[0]!.replace(/\.txt$/, ".wal")));
    expect(wal.length).toBeGreaterThan(0);
    expect(wal.every((f) => f.startsWith("00000001"))).toBe(true);
  }, 300_000);

  it("repairs a standby that streams from a node that is not the primary", async () => {
    // pg-2's loop is held while the fault is made and seen, so the repair cannot outrun status
    // (under load a repair faster than one status round left nothing to observe).
    await stopLoop(pg2);
    cluster.psql(pg2, `alter system set primary_conninfo = 'host=${pg1.address} port=${cluster.port} user=repmgr application_name=pg-2'`);
    cluster.psql(pg2, "select pg_reload_conf()");
    await until("pg-2 streams from pg-1", (x) => x.dbNodes.find((n) => n.name === "pg-2")?.upstream === pg1.address, 60_000);
    startLoop(pg2);
    const { seconds } = await until("pg-2 streams from pg-3 again", (x) => streamsFrom(x, "pg-2", "pg-3"), 120_000);
    figures.push(`standby following a non-primary repaired in ${seconds.toFixed(1)} s`);
    expect(loopLog(pg2)).toMatch(/REPAIR: this standby streams from \S+, not from the primary pg-3/);
  }, 200_000);

  it("status shows the rewinds until they are acknowledged; then the cluster is healthy again", async () => {
    stopLoops();
    for (const n of cluster.nodes) cluster.startRepmgrd(n);
    await cluster.waitRepmgrd(cluster.nodes);
    const rewound = (r: string) => /was rewound by the reconciliation service/.test(r);
    // just after repmgrd restarts a node's view or monitoring may not have settled yet: bounded wait
    const before = await until("status shows no reason but the rewinds", (s) => s.reasons.every(rewound), 90_000);
    expect(before.s.reasons.filter((r) => !rewound(r))).toEqual([]);
    expect(before.code).toBe(1);
    expect(before.s.rewinds.map((m) => m.node).sort()).toEqual(["pg-1", "pg-2"]);
    // each rewind's saved WAL, listed with its size (du) next to the record
    expect(before.s.kept!.map((k) => [k.node, k.kind, k.acknowledged])).toEqual([
      ["pg-1", "rewind-wal", false],
      ["pg-2", "rewind-wal", false],
    ]);
    expect(before.s.kept!.find((k) => k.node === "pg-2")!.kb).toBeGreaterThanOrEqual(16 * 1024);
    const table = await cli(["status", "--config", configPath, "--ssh-timeout", "60"]);
    expect(table.out).toMatch(/Unacknowledged rewinds/);
    expect(table.out).toMatch(/Kept by self-healing/);
    for (const n of ["pg-1", "pg-2"]) {
      const ack = await cli(["ack-rewind", n, "--config", configPath, ...(n === "pg-2" ? ["--remove-wal"] : [])]);
      expect(ack.code).toBe(0);
      expect(ack.out).toMatch(
        new RegExp(`1 rewind record\\(s\\) of ${n} acknowledged and removed; 1 saved WAL directory \\(\\d+ [kM]B\\) ${n === "pg-2" ? "removed" : "kept"}`),
      );
      expect(ack.err).toMatch(/discarded: WAL of timeline 1/);
    }
    const after = await until("status healthy after the acknowledgements", (s) => s.reasons.length === 0, 90_000);
    expect(after.s.reasons).toEqual([]);
    expect(after.code).toBe(0);
    // pg-2's saved WAL is gone, pg-1's stays, acknowledged, until someone removes it
    expect(after.s.kept!.map((k) => [k.node, k.acknowledged])).toEqual([["pg-1", true]]);
    expect(readdirSync(stateDir).filter((f) => f.endsWith(".wal"))).toEqual([basename(after.s.kept![0]!.path)]);
    expect(after.s.nextFailover?.newPrimary).not.toBeNull();
  }, 300_000);
});

function running(n: PgNode): boolean {
  return spawnSync("runuser", ["-u", "postgres", "--", `${PG_BIN}/pg_ctl`, "-D", n.dataDir, "status"], { timeout: 10_000 }).status === 0;
}

/**
 * Polls cond until it holds (bounded). A condition that throws counts as "not yet" (a node being
 * restarted by a repair does not answer for a moment); its last error is in the timeout's message.
 */
async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  let lastError = "";
  const holds = (): boolean => {
    try {
      return cond();
    } catch (e) {
      lastError = `\nlast error: ${(e as Error).message}`;
      return false;
    }
  };
  while (!holds()) {
    if (Date.now() - started > timeoutMs)
      throw new Error(
        `${what}: not after ${timeoutMs / 1000} s${lastError}\n${[...loops.keys()].map((k) => `--- ${k}\n${loopLog(cluster.nodes.find((n) => n.name === k)!).slice(-3000)}`).join("\n")}`,
      );
    await sleep(250);
  }
  return (Date.now() - started) / 1000;
}

describe("split-brain fencing (the reconciliation service on the primary)", () => {
  const fenced = () => existsSync(join(stateDir, "fenced"));

  it("a primary that sees a majority is left alone; one that sees no majority stops PostgreSQL within a bounded time", async () => {
    // 4 nodes: pg-3 needs 2 of the other 3. pg-2 goes away: pg-1 and the witness remain.
    cluster.stopRepmgrd(pg2);
    cluster.stopImmediate(pg2);
    startLoop(pg3);
    // The first rounds (bounded, not a fixed sleep: a loaded machine took longer than 6 s once).
    await waitFor("pg-3's fencing armed", () => /fencing armed: 2 of the other nodes answer \(a majority needs 2\)/.test(loopLog(pg3)), 60_000);
    await sleep(3000);
    expect(running(pg3)).toBe(true);
    expect(loopLog(pg3)).not.toMatch(/FENCE/);
    // the witness goes away too: only pg-1 answers
    cluster.stopRepmgrd(pgw);
    cluster.stopImmediate(pgw);
    const seconds = await waitFor("pg-3 fenced", () => !running(pg3), 60_000);
    figures.push(`isolated primary stopped (fenced) ${seconds.toFixed(1)} s after it lost its majority (loop interval 1 s, FENCE_AFTER 10 s)`);
    // FENCE_AFTER (10 s), a round to notice (1 s here, plus the connect timeouts of the nodes that
    // do not answer) and the fast shutdown: 10-21 s measured; 30 s allows a loaded machine.
    expect(seconds).toBeLessThan(30);
    expect(fenced()).toBe(true);
    expect(loopLog(pg3)).toMatch(/FENCE: this primary has seen only 1 of the other nodes \(a majority needs 2\) for 10s: stopping PostgreSQL/);
    // status names the fenced node (and only it)
    const { code, s } = await status();
    expect(code).toBe(1);
    expect(s.fenced.map((f) => f.node)).toEqual(["pg-3"]);
    expect(s.reasons.find((r) => r.startsWith("pg-3 fenced itself at "))).toMatch(
      /^pg-3 fenced itself at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(it saw no majority of the nodes\)/,
    );
  }, 120_000);

  it("the fenced primary starts again once a majority answers and nobody else became primary", async () => {
    await cluster.start(pgw);
    const seconds = await waitFor("pg-3 running again", () => running(pg3), 60_000);
    figures.push(`fenced primary restarted ${seconds.toFixed(1)} s after a majority answered again`);
    expect(loopLog(pg3)).toMatch(
      /REPAIR: fenced since .*; 2 of the other nodes answer again \(a majority needs 2\) and none became primary: starting PostgreSQL/,
    );
    // The service removes the fence marker once PostgreSQL runs: bounded wait, not an instant check.
    await waitFor("the fence marker removed", () => !fenced(), 30_000);
    expect(cluster.psql(pg3, "select pg_is_in_recovery()")).toBe("f");
  }, 120_000);

  it("a fenced primary whose standby was promoted meanwhile rejoins it as a standby", async () => {
    cluster.stopImmediate(pgw);
    await waitFor("pg-3 fenced again", () => !running(pg3), 60_000);
    await cluster.repmgrOn(pg1, ["standby", "promote"]);
    await cluster.start(pgw);
    await cluster.start(pg2);
    const seconds = await waitFor("pg-3 a standby of pg-1", () => cluster.psql(pg3, "select status from pg_stat_wal_receiver") === "streaming", 120_000);
    figures.push(`fenced primary rejoined the promoted standby ${seconds.toFixed(1)} s after the others answered`);
    expect(loopLog(pg3)).toMatch(/REPAIR: fenced since .*; pg-1 became primary \(timeline 3\): rejoining it/);
    expect(cluster.psql(pg3, "select pg_is_in_recovery()")).toBe("t");
    await waitFor("the fence marker removed", () => !fenced(), 30_000);
  }, 200_000);
});

describe("an election repmgrd did not hold (the reconciliation service on the standbys)", () => {
  it("with no primary, the standby repmgr would elect promotes itself once a majority answers, and not before", async () => {
    // from the fencing tests: pg-1 primary, pg-3 its standby; the other loops start now and repair the rest
    for (const n of [pg1, pg2, pgw]) startLoop(n);
    await until(
      "pg-2 and pg-3 stream from pg-1, the witness follows pg-1",
      (s) => streamsFrom(s, "pg-2", "pg-1") && streamsFrom(s, "pg-3", "pg-1") && !s.reasons.some((r) => r.startsWith("witness pgw-1")),
      120_000,
    );
    // and their repairs are over: status sees a standby streaming as soon as repmgr standby follow
    // has restarted it, but the follow then waits for its upstream to list it (up to 30 s when that
    // upstream goes away now, as pg-1 does below), holding the loop (a .ci/run of 5e65e6e)
    const repairOver = (n: PgNode) => loopLog(n).lastIndexOf("(test) repmgrd stopped") <= loopLog(n).lastIndexOf("(test) repmgrd started");
    await waitFor("the standbys' repairs over", () => repairOver(pg2) && repairOver(pg3), 120_000);
    // repmgrd runs on both standbys (the fencing tests stopped pg-2's): the service acts only where
    // repmgrd runs unpaused, waiting for a primary.
    for (const n of [pg2, pg3]) cluster.startRepmgrd(n);
    await cluster.waitRepmgrd([pg2, pg3]);
    // The primary and the witness go: repmgrd here has failover=manual, like an election that was
    // cancelled. pg-2 and pg-3 each see 1 of the other 3 nodes: no majority, nobody is promoted.
    // what the loops write from here on (pg-3's log holds the fence of the tests above)
    const logFrom = new Map([pg2, pg3].map((n) => [n.name, loopLog(n).length]));
    const logSince = (n: PgNode) => loopLog(n).slice(logFrom.get(n.name) ?? 0);
    cluster.stopImmediate(pgw);
    cluster.stopImmediate(pg1);
    const lsn = (n: PgNode) => cluster.psql(n, "select coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) - '0/0'::pg_lsn");
    const prio = (n: PgNode) => Number(cluster.psql(n, `select priority from repmgr.nodes where node_name = '${n.name}'`, "repmgr"));
    const rank = [pg2, pg3].map((n) => ({ n, lsn: BigInt(lsn(n)), prio: prio(n), id: n.nodeId }));
    // repmgr's order: highest received LSN, then highest priority, then lowest node id
    rank.sort((a, b) => (a.lsn !== b.lsn ? (a.lsn > b.lsn ? -1 : 1) : a.prio !== b.prio ? b.prio - a.prio : a.id - b.id));
    const [best, other] = [rank[0]!.n, rank[1]!.n];
    await sleep(14_000); // ELECT_AFTER is 12 s here
    expect([pg2, pg3].map((n) => cluster.psql(n, "select pg_is_in_recovery()"))).toEqual(["t", "t"]);
    expect(loopLog(pg2) + loopLog(pg3)).not.toMatch(/REPAIR: no data node has answered as primary/);
    // the witness answers again: a majority (2 of the other 3) for both standbys
    const back = Date.now();
    await cluster.start(pgw);
    const seconds = await waitFor(`${best.name} promoted`, () => cluster.psql(best, "select pg_is_in_recovery()") === "f", 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\n--- ${best.name}'s loop\n${loopLog(best).slice(-4000)}`);
    });
    figures.push(`no primary: ${best.name} promoted itself ${seconds.toFixed(1)} s after a majority answered again (ELECT_AFTER 12 s, loop interval 1 s)`);
    expect(loopLog(best)).toMatch(
      /REPAIR: no data node has answered as primary for 12s \(repmgrd's election did not promote\); 2 of the other nodes answer \(a majority needs 2\) and this standby is the best candidate \(LSN \S+, priority \d+\): repmgr standby promote/,
    );
    // the failover validation was asked first, and found no standby above this one
    expect(loopLog(best)).toMatch(
      /failover validation: claimed the succession of node 1 on witness pgw-1; no other data node answers as primary and no standby ranks above this node \(LSN \S+, priority \d+\): promoting\n(.*\n)*.*REPAIR: no data node has answered as primary/,
    );
    // the repair's end (repmgr standby promote returns after it saw the promotion)
    await waitFor("the promotion's repair over", () => /promoted: this node is the primary\n(.*\n)*.*repmgrd started/.test(loopLog(best)), 60_000);
    expect(loopLog(best)).toMatch(/repmgrd stopped\n(.*\n)*.*promoted: this node is the primary\n(.*\n)*.*repmgrd started/);
    // The other standby follows it (the existing repair), and is never promoted itself. It may have
    // received WAL past where the new primary's timeline begins (a fork): its rewind would then
    // stop its PostgreSQL while the new primary, pg-1 still down, sees a majority only with it, so
    // it waits for pg-1, which comes back as a stale primary and is rewound first.
    const deferred = /not rewinding yet/;
    const { s: after } = await until(
      `${other.name} streams from ${best.name}, or waits to rewind`,
      (s) => streamsFrom(s, other.name, best.name) || deferred.test(logSince(other)),
      120_000,
    );
    const forked = !streamsFrom(after, other.name, best.name);
    expect(Date.now() - back).toBeLessThan(120_000);
    await cluster.start(pg1);
    // two rewinds one after the other (pg-1's, then the other standby's): 55 s on a quiet machine
    await until(`${other.name} and pg-1 stream from ${best.name}`, (s) => streamsFrom(s, other.name, best.name) && streamsFrom(s, "pg-1", best.name), 240_000);
    figures.push(`the other standby ${forked ? "forked: rewound after pg-1 came back" : "followed the new primary"}`);
    expect(cluster.psql(other, "select pg_is_in_recovery()")).toBe("t");
    expect(loopLog(other)).not.toMatch(/REPAIR: no data node has answered as primary/);
    // the new primary never lost its majority to a repair
    expect(logSince(best)).not.toMatch(/FENCE/);
    if (forked) expect(logSince(other)).toMatch(/not rewinding yet(.*\n)*.*REPAIR: this standby has forked/);
  }, 540_000);
});

describe("output", () => {
  it("no command printed the DB password", () => {
    for (const text of allOutput) expect(text).not.toContain(PASSWORD);
  });
});
