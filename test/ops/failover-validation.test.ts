/**
 * repmgrd's failover_validation_command (src/render/failover-validation.ts,
 * docs/reliability.md#two-standbys-promoted-at-once) against real PostgreSQL 15 + repmgr 5.3 on
 * loopback: a primary, two standbys and a witness. The script is the one the renderer writes, with
 * this cluster's socket and port; it runs as postgres, as repmgrd runs it.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeDbNode } from "../../src/ops/pg";
import { LoopbackCluster, loopbackPlan, PG_BIN, requireTools, type PgNode } from "./lib/loopback-cluster";
import { installLoopbackValidation } from "./lib/loopback-validation";
import { spawnAsync } from "../../src/spawn-async";

const PASSWORD = `Fv!Test-${randomBytes(6).toString("hex")}`;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Writes node n's copy of the script as dir/validate-<id>.sh. */
function installScript(dir: string, cluster: LoopbackCluster, n: PgNode): string {
  return installLoopbackValidation(join(dir, `validate-${n.nodeId}.sh`), cluster, n);
}

/** The claims on the witness of the cluster in use: "failed node|claimer". */
let claims: () => string[] = () => [];

/** validate, without blocking the event loop (two at once). */
async function validateAsync(dir: string, n: PgNode): Promise<{ code: number | null; out: string }> {
  const r = await spawnAsync("runuser", ["-u", "postgres", "--", "bash", join(dir, `validate-${n.nodeId}.sh`), String(n.nodeId)], { timeoutMs: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Runs the script as postgres, as repmgrd does: its exit code and what it printed. */
function validate(dir: string, n: PgNode): { code: number | null; out: string } {
  const r = spawnSync("runuser", ["-u", "postgres", "--", "bash", join(dir, `validate-${n.nodeId}.sh`), String(n.nodeId)], {
    encoding: "utf8",
    timeout: 30_000,
    killSignal: "SIGKILL",
    cwd: "/",
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** Bounded wait until both standbys have received everything the primary wrote. */
async function waitCaughtUp(cluster: LoopbackCluster, primary: PgNode, standbys: PgNode[]): Promise<void> {
  const target = cluster.psql(primary, "select pg_current_wal_lsn()");
  const deadline = Date.now() + 30_000;
  for (const s of standbys) {
    while (cluster.psql(s, `select pg_last_wal_receive_lsn() >= '${target}'::pg_lsn`) !== "t") {
      if (Date.now() > deadline) throw new Error(`${s.name} has not received ${target} after 30 s`);
      await sleep(200);
    }
  }
}

async function newCluster(root: string, addr: string[], port: number): Promise<{ cluster: LoopbackCluster; pg1: PgNode; pg2: PgNode; pg3: PgNode; w: PgNode }> {
  mkdirSync(root);
  const cluster = new LoopbackCluster(root, port, PASSWORD);
  const pg1 = await cluster.addPrimary("pg-1", 1, addr[0]!);
  const pg2 = await cluster.addStandby("pg-2", 2, addr[1]!, pg1);
  const pg3 = await cluster.addStandby("pg-3", 3, addr[2]!, pg1);
  const w = await cluster.addWitness("pgw-1", 4, addr[3]!, pg1);
  return { cluster, pg1, pg2, pg3, w };
}

let tmp = "";
const clusters: LoopbackCluster[] = [];

beforeAll(() => {
  requireTools();
  tmp = mkdtempSync(join(tmpdir(), "ems-ha-fv-"));
  chmodSync(tmp, 0o755);
});

afterAll(() => {
  for (const c of clusters) c.stopAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("the failover validation script, asked by hand after the primary stopped", () => {
  let c: Awaited<ReturnType<typeof newCluster>>;
  const dir = () => join(tmp, "scripts-a");

  beforeAll(async () => {
    const plan = await loopbackPlan(4);
    c = await newCluster(join(tmp, "a"), plan.addresses, plan.pgPort);
    clusters.push(c.cluster);
    claims = () => {
      const rows = c.cluster.psql(c.w, "select failed_node || '|' || claimer from ems_ha_promotion_claim order by 1", "repmgr");
      return rows === "" ? [] : rows.split("\n");
    };
    mkdirSync(dir());
    chmodSync(dir(), 0o755);
    for (const n of c.cluster.nodes) installScript(dir(), c.cluster, n);
    // repmgrd watches only (failover=manual): the script counts a standby whose repmgrd runs
    for (const n of c.cluster.nodes) c.cluster.startRepmgrd(n);
    await c.cluster.waitRepmgrd(c.cluster.nodes);
    c.cluster.psql(c.pg1, "create table t(x int); insert into t values (1)");
    await waitCaughtUp(c.cluster, c.pg1, [c.pg2, c.pg3]);
    c.cluster.stopImmediate(c.pg1);
  }, 240_000);

  it("lets the standby repmgr would pick promote, and refuses the other, naming the better one", () => {
    // same LSN and priority: the lower node id (pg-2) ranks first
    const two = validate(dir(), c.pg2);
    expect(two.out).toMatch(/promoting/);
    expect(two.code).toBe(0);
    const three = validate(dir(), c.pg3);
    expect(three.out).toMatch(/pg-2 \(node 2, LSN [0-9A-F]+\/[0-9A-F]+, priority 100\) ranks above this node/);
    expect(three.code).toBe(1);
    // the one allowed claimed the succession of pg-1 on the witness
    expect(two.out).toMatch(/claimed the succession of node 1 on witness pgw-1; no other data node answers as primary/);
    expect(claims()).toEqual(["1|2"]);
  }, 60_000);

  it("takes a better standby whose host refuses the connection (no PostgreSQL runs there) as down at once, once its claim on the witness has expired", async () => {
    c.cluster.stopImmediate(c.pg2);
    try {
      // pg-2 claimed pg-1's succession (above) and may still be promoting: pg-3 waits for the claim to expire
      const held = validate(dir(), c.pg3);
      expect(held.out).toMatch(/node 2 claimed the succession of node 1 on witness pgw-1 \d+s ago: not promoting this node/);
      expect(held.code).toBe(1);
      c.cluster.psql(c.w, "update ems_ha_promotion_claim set claimed_at = now() - interval '61 seconds'", "repmgr");
      const r = validate(dir(), c.pg3);
      expect(r.out).toMatch(/standby pg-2 runs no PostgreSQL now \(connection refused, or starting or stopping\): taken as down/);
      expect(r.out).toMatch(/promoting/);
      expect(r.code).toBe(0);
      // one line: repmgrd reads only the first and closes the pipe (a second line would be a SIGPIPE, a veto)
      expect(r.out.trim().split("\n")).toHaveLength(1);
      expect(claims()).toEqual(["1|3"]);
    } finally {
      await c.cluster.start(c.pg2);
    }
  }, 120_000);

  it("refuses once while a better standby does not answer in time (frozen), and promotes at the next election if it still does not", () => {
    // SIGSTOP: the kernel still accepts the connection, nothing answers it (a loaded or hung host)
    const pid = Number(readFileSync(join(c.pg2.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    expect(pid).toBeGreaterThan(1);
    process.kill(pid, "SIGSTOP");
    try {
      const t0 = Date.now();
      const first = validate(dir(), c.pg3);
      expect(first.out).toMatch(/standby pg-2 did not answer within 2 x 3s: not promoting this time/);
      expect(first.code).toBe(1);
      // two tries of the peer timeout (3 s each): the frozen node was waited for, not skipped
      expect(Date.now() - t0).toBeGreaterThanOrEqual(5_500);
      const second = validate(dir(), c.pg3);
      expect(second.out).toMatch(/standby pg-2 still does not answer at this second election: taken as down; promoting/);
      expect(second.code).toBe(0);
      // the memory of the refusal is spent: a third election starts afresh
      const third = validate(dir(), c.pg3);
      expect(third.code).toBe(1);
    } finally {
      process.kill(pid, "SIGCONT");
      rmSync(join(c.pg3.socketDir, "validate.state"), { force: true });
    }
  }, 120_000);

  it("of two standbys that each count the other out (neither's repmgrd runs here), exactly one wins the claim on the witness", async () => {
    c.cluster.psql(c.w, "delete from ems_ha_promotion_claim", "repmgr");
    for (const n of [c.pg2, c.pg3]) c.cluster.stopRepmgrd(n);
    try {
      const both = await Promise.all([c.pg2, c.pg3].map((n) => validateAsync(dir(), n)));
      expect(both.map((r) => r.code).sort()).toEqual([0, 1]);
      const [won, lost] = both[0]!.code === 0 ? [c.pg2, c.pg3] : [c.pg3, c.pg2];
      const loser = both.find((r) => r.code === 1)!;
      expect(loser.out).toMatch(new RegExp(`node ${won.nodeId} claimed the succession of node 1 on witness pgw-1 \\d+s ago: not promoting this node`));
      expect(claims()).toEqual([`1|${won.nodeId}`]);
      expect(lost.nodeId).not.toBe(won.nodeId);
      // the winner answers as a standby (it did not promote): its claim counts only 30 s
      c.cluster.psql(c.w, "update ems_ha_promotion_claim set claimed_at = now() - interval '31 seconds'", "repmgr");
      const later = await validateAsync(dir(), lost);
      expect(later.out).toMatch(/claimed the succession of node 1 on witness pgw-1; .*: promoting/);
      expect(later.code).toBe(0);
      expect(claims()).toEqual([`1|${lost.nodeId}`]);
      // a node promoted again removes the claims to succeed it (an earlier failover's)
      c.cluster.psql(c.w, `insert into ems_ha_promotion_claim values (${won.nodeId}, 4, now())`, "repmgr");
      expect(claims()).toEqual([`1|${lost.nodeId}`, `${won.nodeId}|4`]);
      c.cluster.psql(c.w, "update ems_ha_promotion_claim set claimed_at = now() - interval '31 seconds'", "repmgr");
      const again = await validateAsync(dir(), won);
      expect(again.code).toBe(0);
      expect(claims()).toEqual([`1|${won.nodeId}`]);
    } finally {
      // (repmgrd stays stopped: started afresh without its upstream it exits; the tests below need none)
      c.cluster.psql(c.w, "delete from ems_ha_promotion_claim", "repmgr");
    }
  }, 120_000);

  it("with no witness answering, promotes without arbitration and says so", async () => {
    c.cluster.stopImmediate(c.w);
    try {
      const r = validate(dir(), c.pg2);
      expect(r.out).toMatch(/witness pgw-1 did not answer: no arbitration there; .*: promoting/);
      expect(r.code).toBe(0);
    } finally {
      await c.cluster.start(c.w);
      c.cluster.psql(c.w, "delete from ems_ha_promotion_claim", "repmgr");
    }
  }, 120_000);

  it("refuses when another data node already answers as primary", async () => {
    await c.cluster.repmgrOn(c.pg2, ["standby", "promote"]);
    expect(c.cluster.psql(c.pg2, "select pg_is_in_recovery()")).toBe("f");
    const three = validate(dir(), c.pg3);
    expect(three.out).toMatch(/pg-2 \(node 2\) answers as primary: not promoting this node/);
    expect(three.code).toBe(1);
  }, 120_000);

  it("refuses when the witness's records name another primary that does not answer this node (a partial partition after the other's promotion)", async () => {
    // pg-2 is primary (above); the witness's records follow it, as its repmgrd syncs them from the primary
    await c.cluster.repmgrOn(c.w, ["witness", "register", "--force", "-h", c.pg2.address, "-p", String(c.cluster.port)]);
    // pg-3 cannot reach pg-2 (frozen: the kernel accepts, nothing answers), the witness can
    const pid = Number(readFileSync(join(c.pg2.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    process.kill(pid, "SIGSTOP");
    try {
      const first = validate(dir(), c.pg3);
      expect(first.out).toMatch(/standby pg-2 did not answer within 2 x 3s: not promoting this time/);
      const second = validate(dir(), c.pg3);
      expect(second.out).toMatch(
        /witness pgw-1's records name node 2 as primary since node 1, and it did not answer this node as a standby: not promoting this node/,
      );
      expect(second.code).toBe(1);
    } finally {
      process.kill(pid, "SIGCONT");
      rmSync(join(c.pg3.socketDir, "validate.state"), { force: true });
    }
  }, 120_000);

  it("rejects a node id that is not a number (repmgrd passes %n)", () => {
    const r = spawnSync("runuser", ["-u", "postgres", "--", "bash", join(dir(), "validate-3.sh"), "3;touch /tmp/x"], { encoding: "utf8", timeout: 10_000 });
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/usage: ems-ha-validate-failover NODE_ID/);
  });
});

describe("repmgrd with the validation command, failing over for real", () => {
  it("promotes exactly one standby, after the script said so, and the other follows it", async () => {
    const plan = await loopbackPlan(4);
    const c = await newCluster(join(tmp, "b"), plan.addresses, plan.pgPort);
    clusters.push(c.cluster);
    const dir = join(tmp, "scripts-b");
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    for (const n of c.cluster.nodes) {
      installScript(dir, c.cluster, n);
      if (n === c.w) continue;
      appendFileSync(
        n.repmgrConf,
        [
          "failover=automatic",
          "priority=100",
          `promote_command='${PG_BIN}/repmgr standby promote -f ${n.repmgrConf} --log-to-file'`,
          `follow_command='${PG_BIN}/repmgr standby follow -f ${n.repmgrConf} --log-to-file --upstream-node-id=%n'`,
          "reconnect_attempts=2",
          "reconnect_interval=2",
          `failover_validation_command='bash ${dir}/validate-%n.sh %n'`,
          "",
        ].join("\n"),
      );
    }
    for (const n of c.cluster.nodes) c.cluster.startRepmgrd(n);
    await c.cluster.waitRepmgrd(c.cluster.nodes);
    // what `ems-ha status` reads on the witness: before any failover, no claim (and no table)
    const witnessClaims = async () =>
      (
        await probeDbNode(
          { node: { name: c.w.name, address: c.w.address, role: "witness" }, port: c.cluster.port, dbUser: "postgres" },
          { secrets: { dbPassword: PASSWORD, repmgrPassword: PASSWORD } },
        )
      ).promotionClaims;
    expect(await witnessClaims()).toEqual([]);
    c.cluster.psql(c.pg1, "create table t(x int); insert into t values (1)");
    await waitCaughtUp(c.cluster, c.pg1, [c.pg2, c.pg3]);
    c.cluster.stopRepmgrd(c.pg1);
    c.cluster.stopImmediate(c.pg1);

    const primaries = (): string[] =>
      [c.pg2, c.pg3]
        .filter((n) => {
          try {
            return c.cluster.psql(n, "select pg_is_in_recovery()") === "f";
          } catch {
            return false;
          }
        })
        .map((n) => n.name);
    const deadline = Date.now() + 90_000;
    while (primaries().length === 0) {
      if (Date.now() > deadline) throw new Error(`no standby promoted within 90 s:\n${repmgrdLog(c.pg2)}\n${repmgrdLog(c.pg3)}`);
      await sleep(500);
    }
    // watched for 20 s more: never a second primary
    const seen = new Set<string>();
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      const p = primaries();
      expect(p.length, `two primaries: ${p.join(", ")}`).toBe(1);
      p.forEach((x) => seen.add(x));
      await sleep(500);
    }
    expect([...seen]).toEqual(["pg-2"]);
    expect(repmgrdLog(c.pg2)).toMatch(/failover validation command returned zero/);
    // the witness holds pg-2's claim to succeed pg-1, made within this test
    const after = await witnessClaims();
    expect(after?.map((x) => [x.failedNodeId, x.claimerId])).toEqual([[1, 2]]);
    expect(after![0]!.ageSeconds).toBeLessThan(300);
    // what `ems-ha status` reads: this repmgr.conf sets the command, cluster "a"'s did not, a missing file says nothing
    const probe = (n: PgNode, repmgrConfPath: string) =>
      probeDbNode(
        { node: { name: n.name, address: n.address, role: "data" }, port: c.cluster.port, dbUser: "postgres", repmgrConfPath },
        { secrets: { dbPassword: PASSWORD } },
      );
    expect((await probe(c.pg2, c.pg2.repmgrConf)).failoverValidation).toBe(true);
    expect((await probe(c.pg2, join(tmp, "a", "pg-2", "repmgr.conf"))).failoverValidation).toBe(false);
    expect((await probe(c.pg2, join(tmp, "no-such-repmgr.conf"))).failoverValidation).toBeUndefined();
    expect(repmgrdLog(c.pg2)).toMatch(/no other data node answers as primary and no standby ranks above this node/);
    // the other standby follows the new primary (bounded)
    const followDeadline = Date.now() + 60_000;
    while (c.cluster.psql(c.pg2, "select count(*) from pg_stat_replication where application_name = 'pg-3' and state = 'streaming'") !== "1") {
      if (Date.now() > followDeadline) throw new Error(`pg-3 does not stream from pg-2 after 60 s:\n${repmgrdLog(c.pg3)}`);
      await sleep(500);
    }
  }, 300_000);
});

function repmgrdLog(n: PgNode): string {
  const f = join(n.socketDir, "repmgrd.log");
  return existsSync(f) ? readFileSync(f, "utf8").slice(-4000) : "(no log)";
}
