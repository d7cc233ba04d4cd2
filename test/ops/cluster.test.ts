/**
 * status, wait-primary and promote against real parts on loopback: a PostgreSQL 15 primary,
 * a streaming standby (pg_basebackup -R) and a witness, all registered with repmgr 5.3; a real
 * sshd for the EMS hosts and for the promotion. Only the EMS hosts' service list is a stand-in
 * (test/standins/ems-systemctl, through the EMS_HA_SYSTEMCTL hook).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import parsePrometheus from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedServices } from "../../src/render/ems-services";
import { sshExec } from "../../src/ops/ssh";
import type { ClusterStatus } from "../../src/ops/status";
import { spawnAsync } from "../../src/spawn-async";
import { LoopbackCluster, loopbackPlan, requireTools, type PgNode } from "./lib/loopback-cluster";
import { startSshd, type LoopbackSshd } from "./lib/loopback-sshd";
import { runCliCaptured, type CliRun } from "../helpers/cli";

const REPO = resolve(__dirname, "../..");
const PASSWORD = `Ops!Test-${randomBytes(6).toString("hex")}`;

let tmp = "";
let cluster: LoopbackCluster | undefined;
let sshd: LoopbackSshd | undefined;
let agent: ChildProcess | undefined;
let pg1: PgNode;
let pg2: PgNode;
let configPath = "";
let knownHosts = "";
let unitsDir = "";
let addr: string[] = [];
let baseEnv: NodeJS.ProcessEnv = {};
/** Everything any command printed, checked for the password at the end. */
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

function unitLines(names: string[], inactive: string[] = []): string {
  return names.map((n) => `${n}.service loaded ${inactive.includes(n) ? "inactive dead" : "active running"} stand-in ${n}`).join("\n") + "\n";
}
const PRIMARY_UNITS = expectedServices("primary").map((alts) => alts[0]!);
const SECONDARY_UNITS = expectedServices("secondary").map((alts) => alts[0]!);

function inRecovery(n: PgNode): string {
  return cluster!.psql(n, "select pg_is_in_recovery()");
}

beforeAll(async () => {
  requireTools();
  const plan = await loopbackPlan(5);
  addr = plan.addresses;
  tmp = mkdtempSync(join(tmpdir(), "ems-ha-ops-"));
  chmodSync(tmp, 0o755); // the postgres user must reach its data directories below
  mkdirSync(join(tmp, "pg"));
  cluster = new LoopbackCluster(join(tmp, "pg"), plan.pgPort, PASSWORD);
  pg1 = await cluster.addPrimary("pg-1", 1, addr[0]!);
  pg2 = await cluster.addStandby("pg-2", 2, addr[1]!, pg1);
  await cluster.addWitness("pgw-1", 3, addr[2]!, pg1);
  for (const n of cluster.nodes) cluster.startRepmgrd(n);
  sshd = await startSshd(join(tmp, "ssh"), addr, plan.sshPort);

  unitsDir = join(tmp, "units");
  mkdirSync(unitsDir);
  writeFileSync(join(unitsDir, `units-${addr[3]}`), unitLines([...PRIMARY_UNITS, "cron", "ssh"]));
  writeFileSync(join(unitsDir, `units-${addr[4]}`), unitLines([...SECONDARY_UNITS, "cron"], []));

  const ssh = { user: "root", port: plan.sshPort, privateKeyPath: sshd.clientKey };
  configPath = join(tmp, "deployment.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      topology: "native-single-region",
      name: "ops-test",
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
      ems: { fqdn: "ems.ops-test.internal", vip: "192.0.2.50" },
    }),
  );
  knownHosts = join(tmp, "known_hosts");
  const env = { ...process.env };
  delete env.SSH_AUTH_SOCK;
  delete env.EMS_HA_INSECURE_HOST_KEYS;
  delete env.TF_VAR_db_password;
  baseEnv = {
    ...env,
    EMS_HA_DB_PASSWORD: PASSWORD,
    EMS_HA_KNOWN_HOSTS: knownHosts,
    EMS_HA_SYSTEMCTL: `${REPO}/test/standins/ems-systemctl ${unitsDir}`,
    EMS_HA_REPMGR_CONF: pg2.repmgrConf,
    EMS_HA_STATE_DIR: join(tmp, "state"),
  };
  await cluster.waitRepmgrd(cluster.nodes);
}, 300_000);

afterAll(async () => {
  agent?.kill("SIGTERM");
  cluster?.stopAll();
  await sshd?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe("ems-ha status / wait-primary / promote on a real loopback cluster", () => {
  it("status: primary, streaming standby with lag, witness, repmgr's view, EMS roles; exit 0", async () => {
    cluster!.psql(pg1, "create table if not exists t(x int); insert into t select generate_series(1, 1000)");
    const { code, status } = await statusJson();
    expect(status.reasons).toEqual([]);
    expect(code).toBe(0);
    expect(status.degraded).toBe(false);
    const byName = Object.fromEntries(status.dbNodes.map((n) => [n.name, n]));
    expect(byName["pg-1"]).toMatchObject({ reachable: true, role: "primary", kind: "data" });
    expect(byName["pg-2"]).toMatchObject({ reachable: true, role: "standby", streaming: true, upstream: addr[0] });
    expect(typeof byName["pg-2"]!.lagBytes).toBe("number");
    expect(byName["pg-2"]!.lagBytes).toBeGreaterThanOrEqual(0);
    expect(typeof byName["pg-2"]!.lagSeconds).toBe("number");
    expect(byName["pgw-1"]).toMatchObject({ reachable: true, role: "witness" });
    // The witness runs a writable PostgreSQL of its own: it must not count as a primary.
    expect(status.writablePrimaries).toEqual(["pg-1"]);
    const view = byName["pg-1"]!.repmgrView!;
    expect(view.map((r) => [r.nodeName, r.type, r.active])).toEqual([
      ["pg-1", "primary", true],
      ["pg-2", "standby", true],
      ["pgw-1", "witness", true],
    ]);
    expect(view.find((r) => r.nodeName === "pg-2")!.upstreamNodeId).toBe(1);
    // The witness's copy of the metadata is read too (as the DB user, in database repmgr).
    expect(byName["pgw-1"]!.repmgrView!.map((r) => r.nodeName)).toEqual(["pg-1", "pg-2", "pgw-1"]);
    expect(status.emsNodes.map((n) => [n.name, n.reachable, n.role, n.missing])).toEqual([
      ["ems-1", true, "primary", []],
      ["ems-2", true, "secondary", []],
    ]);
    // Trust on first use: the keys of both EMS hosts and every DB node (asked for rewind records and their data
    // filesystem, in parallel) were recorded once each, and they are the server's key.
    const recorded = readFileSync(knownHosts, "utf8").trim().split("\n");
    expect(recorded.sort()).toEqual([0, 1, 2, 3, 4].map((i) => `[${addr[i]}]:${sshd!.port} ${sshd!.hostPublicKey}`).sort());
    // every node's sshd is this machine's: df of the native data directory, which Debian's postgresql-15 package creates
    expect(existsSync("/var/lib/postgresql/15/main"), "postgresql-15's default cluster directory (npm run setup)").toBe(true);
    expect(status.disks!.map((u) => u.node).sort()).toEqual(["pg-1", "pg-2", "pgw-1"]);
    expect(status.nextFailover).toMatchObject({ primary: "pg-1", newPrimary: "pg-2" });
    expect(status.rewinds).toEqual([]);
  });

  it("status as a table, and the real process exit code", async () => {
    const r = await cli(["status", "--config", configPath]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ops-test \(native-single-region\): healthy/);
    expect(r.out).toMatch(/pg-2\s+\S+\s+data\s+yes\s+standby\s+yes/);
    expect(r.out).toMatch(/repmgr\.nodes \(as read on pg-1\)/);
    const p = await spawnAsync(process.execPath, [join(REPO, "bin/ems-ha.js"), "status", "--config", configPath], { env: baseEnv, timeoutMs: 60_000 });
    allOutput.push(p.stdout, p.stderr);
    // stderr only names the deployment file the command read.
    expect(p.stderr).toBe(`ems-ha: deployment ${configPath} (from --config)\n`);
    expect(p.status).toBe(0);
  });

  it("status --prometheus: the same findings as metrics a Prometheus parser reads; --json with it is bad input", async () => {
    const r = await cli(["status", "--config", configPath, "--prometheus"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.endsWith("\n")).toBe(true);
    const fams = new Map(parsePrometheus(r.out).map((f) => [f.name, f.metrics.map((m) => [m.labels?.node ?? "", Number(m.value)])]));
    expect(fams.get("ems_ha_degraded")).toEqual([["", 0]]);
    expect(fams.get("ems_ha_writable_primaries")).toEqual([["", 1]]);
    expect(fams.get("ems_ha_db_node_up")).toEqual([
      ["pg-1", 1],
      ["pg-2", 1],
      ["pgw-1", 1],
    ]);
    expect(fams.get("ems_ha_db_node_primary")).toEqual([
      ["pg-1", 1],
      ["pg-2", 0],
    ]);
    expect(fams.get("ems_ha_standby_streaming")).toEqual([["pg-2", 1]]);
    expect(fams.get("ems_ha_replication_lag_bytes")![0]![0]).toBe("pg-2");
    expect(fams.get("ems_ha_repmgrd_running")!.map(([, v]) => v)).toEqual([1, 1, 1]);
    expect(
      fams
        .get("ems_ha_disk_used_ratio")!
        .map(([n]) => n)
        .sort(),
    ).toEqual(["pg-1", "pg-2", "pgw-1"]);
    for (const [, v] of fams.get("ems_ha_disk_used_ratio")!) expect(v).toBeGreaterThan(0);
    expect(fams.get("ems_ha_ems_services_missing")!.map(([, v]) => v)).toEqual([0, 0]);
    const both = await cli(["status", "--config", configPath, "--prometheus", "--json"]);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/--prometheus: cannot be combined with --json/);
  });

  it("status: a wrong DB password makes the data nodes unreachable (exit 1), and is never printed", async () => {
    const wrong = `Wrong-${randomBytes(4).toString("hex")}`;
    const r = await cli(["status", "--config", configPath, "--json"], { EMS_HA_DB_PASSWORD: wrong });
    expect(r.code).toBe(1);
    const s = JSON.parse(r.out) as ClusterStatus;
    expect(s.dbNodes.find((n) => n.name === "pg-1")!.error).toMatch(/password authentication failed/);
    expect(s.reasons).toContain("no writable primary answers");
    expect(r.out + r.err).not.toContain(wrong);
  });

  it("status: the password can come from TF_VAR_db_password", async () => {
    const { code, status } = await statusJson({ EMS_HA_DB_PASSWORD: "", TF_VAR_db_password: PASSWORD });
    expect(status.writablePrimaries).toEqual(["pg-1"]);
    expect(code).toBe(0);
  });

  it("status: an EMS service that is not running makes the cluster degraded", async () => {
    const file = join(unitsDir, `units-${addr[4]}`);
    const before = readFileSync(file, "utf8");
    writeFileSync(file, unitLines([...SECONDARY_UNITS, "cron"], ["redis-server"]));
    try {
      const { code, status } = await statusJson();
      expect(code).toBe(1);
      expect(status.emsNodes.find((n) => n.name === "ems-2")).toMatchObject({ reachable: true, role: "unknown", missing: ["redis-server"] });
      expect(status.reasons).toEqual(["EMS node ems-2 is missing services: redis-server"]);
    } finally {
      writeFileSync(file, before);
    }
    // No EMS node with the primary's full list.
    const primaryFile = join(unitsDir, `units-${addr[3]}`);
    const primaryBefore = readFileSync(primaryFile, "utf8");
    writeFileSync(primaryFile, unitLines(PRIMARY_UNITS.filter((u) => u !== "fcems_ztna")));
    try {
      const { code, status } = await statusJson();
      expect(code).toBe(1);
      expect(status.emsNodes.find((n) => n.name === "ems-1")!.role).toBe("secondary");
      expect(status.reasons.some((r) => /no EMS node runs the primary's/.test(r))).toBe(true);
    } finally {
      writeFileSync(primaryFile, primaryBefore);
    }
  });

  it("host keys: a mismatch is refused with a clear message; EMS_HA_INSECURE_HOST_KEYS=1 accepts any key", async () => {
    const other = join(tmp, "known_hosts_other");
    // A different, real ed25519 key recorded for ems-1.
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(tmp, "impostor")], { timeout: 10_000 });
    const impostor = readFileSync(join(tmp, "impostor.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
    writeFileSync(other, `[${addr[3]}]:${sshd!.port} ${impostor}\n`);
    const { code, status } = await statusJson({ EMS_HA_KNOWN_HOSTS: other });
    expect(code).toBe(1);
    const ems1 = status.emsNodes.find((n) => n.name === "ems-1")!;
    expect(ems1.reachable).toBe(false);
    expect(ems1.error).toMatch(/host key .* does not match the one recorded in .*known_hosts_other/);
    const lines = readFileSync(other, "utf8").trim().split("\n");
    expect(lines[0]).toBe(`[${addr[3]}]:${sshd!.port} ${impostor}`);
    expect(lines.slice(1).sort()).toEqual([0, 1, 2, 4].map((i) => `[${addr[i]}]:${sshd!.port} ${sshd!.hostPublicKey}`).sort());
    const insecure = await statusJson({ EMS_HA_KNOWN_HOSTS: other, EMS_HA_INSECURE_HOST_KEYS: "1" });
    expect(insecure.status.emsNodes.find((n) => n.name === "ems-1")!.reachable).toBe(true);
    expect(insecure.code).toBe(0);
  });

  it("several connections at once to a host not yet known record its key once", async () => {
    const file = join(tmp, "known_hosts_parallel");
    const host = { name: "pg-1", address: addr[0]!, ssh: { user: "root", port: sshd!.port, privateKeyPath: sshd!.clientKey } };
    const runs = await Promise.all(
      Array.from({ length: 4 }, () => sshExec(host, "true", { env: { ...baseEnv, EMS_HA_KNOWN_HOSTS: file }, timeoutMs: 20_000 })),
    );
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(readFileSync(file, "utf8").trim().split("\n")).toEqual([`[${addr[0]}]:${sshd!.port} ${sshd!.hostPublicKey}`]);
  });

  it("logs in through the ssh agent when a node has no privateKeyPath; says what to do with neither", async () => {
    const sock = join(tmp, "agent.sock");
    agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    const deadline = Date.now() + 10_000;
    while (!existsSync(sock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const add = spawnSync("ssh-add", [sshd!.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: sock }, encoding: "utf8", timeout: 10_000 });
    expect(add.status, add.stderr).toBe(0);
    const viaAgent = join(tmp, "deployment-agent.json");
    const d = JSON.parse(readFileSync(configPath, "utf8"));
    for (const n of d.emsNodes) delete n.ssh.privateKeyPath;
    writeFileSync(viaAgent, JSON.stringify(d));
    const ok = await cli(["status", "--config", viaAgent, "--json"], { SSH_AUTH_SOCK: sock });
    expect((JSON.parse(ok.out) as ClusterStatus).emsNodes.map((n) => n.reachable)).toEqual([true, true]);
    expect(ok.code).toBe(0);
    const none = await cli(["status", "--config", viaAgent, "--json"]);
    expect(none.code).toBe(1);
    expect((JSON.parse(none.out) as ClusterStatus).emsNodes[0]!.error).toMatch(/set ssh\.privateKeyPath for the node or start an ssh agent/);
    agent.kill("SIGTERM");
  });

  it("wait-primary returns at once with the one writable primary (the witness does not count)", async () => {
    const started = Date.now();
    const r = await cli(["wait-primary", "--config", configPath, "--timeout", "20"]);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe("primary: pg-1");
    expect(r.err).toMatch(/pg-1=primary pg-2=standby pgw-1=witness: primary pg-1/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("promote refuses while another data node is a writable primary, and refuses a witness or a primary", async () => {
    const r = await cli(["promote", "pg-2", "--config", configPath]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/refused: pg-1 \(.*\) answers as a writable primary/);
    expect(inRecovery(pg2)).toBe("t");
    const witness = await cli(["promote", "pgw-1", "--config", configPath]);
    expect(witness.code).toBe(2);
    expect(witness.err).toMatch(/a witness holds no data/);
    const primary = await cli(["promote", "pg-1", "--config", configPath]);
    expect(primary.code).toBe(1);
    expect(primary.err).toMatch(/pg-1 is already a writable primary/);
    const unknown = await cli(["promote", "nope", "--config", configPath]);
    expect(unknown.code).toBe(2);
  });

  it("primary stopped: status is degraded, wait-primary times out (bounded) with the last state", async () => {
    cluster!.stopImmediate(pg1);
    const { code, status } = await statusJson();
    expect(code).toBe(1);
    expect(status.writablePrimaries).toEqual([]);
    expect(status.dbNodes.find((n) => n.name === "pg-1")).toMatchObject({ reachable: false, role: "unknown" });
    expect(status.reasons).toContain("no writable primary answers");
    expect(status.reasons.some((r) => r.startsWith("data node pg-1 is unreachable"))).toBe(true);
    expect(status.reasons).toContain("standby pg-2 is not streaming from a primary");
    const started = Date.now();
    const w = await cli(["wait-primary", "--config", configPath, "--timeout", "3", "--interval", "1"]);
    expect(w.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(w.out).toMatch(/no single writable primary after 3 s/);
    expect(w.out).toMatch(/pg-1 \(.*\): unreachable/);
    expect(w.out).toMatch(/pg-2 \(.*\): standby/);
  });

  it("promote runs repmgr standby promote over SSH and verifies the node is writable", async () => {
    const r = await cli(["promote", "pg-2", "--config", configPath, "--verify-timeout", "30"]);
    expect(r.err).toMatch(/pg-1 does not answer/);
    expect(r.err).toMatch(/sudo -n -u postgres repmgr -f \S+ standby promote/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/pg-2 is now the writable primary/);
    expect(inRecovery(pg2)).toBe("f");
    const w = await cli(["wait-primary", "--config", configPath, "--timeout", "10"]);
    expect(w.code).toBe(0);
    expect(w.out.trim()).toBe("primary: pg-2");
    const { code, status } = await statusJson();
    expect(code).toBe(1); // pg-1 is still down
    expect(status.writablePrimaries).toEqual(["pg-2"]);
    const view = status.dbNodes.find((n) => n.name === "pg-2")!.repmgrView!;
    expect(view.find((x) => x.nodeName === "pg-2")!.type).toBe("primary");
    expect(existsSync(knownHosts)).toBe(true);
    expect(readFileSync(knownHosts, "utf8")).toContain(`[${addr[1]}]:${sshd!.port} ${sshd!.hostPublicKey}`);
  });

  it("no command printed the DB password", () => {
    expect(allOutput.length).toBeGreaterThan(10);
    for (const text of allOutput) expect(text).not.toContain(PASSWORD);
  });
});
