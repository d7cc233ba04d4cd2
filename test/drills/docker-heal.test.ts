/**
 * Self-healing in the Docker topology, for real: `single-region` (ssh engine) applied to a Docker
 * lab of three data nodes and a witness (the ems-postgres-ha STAND-IN image, which does none of
 * these repairs while its containers keep running), with the reconciliation service the stacks
 * install on every DB host (src/render/docker-reconcile.ts). The faults are made without
 * restarting a container (`docker pause` freezes a node; the image's start logic never runs), so
 * what repairs them is the service:
 *
 * 1. a fork: pg-3's replication stopped, rows written on pg-1 and received by pg-2, pg-1 and pg-2
 *    frozen, pg-3 promoted by repmgrd; pg-1 and pg-2 thawed: pg-1 is a stale primary and pg-2 a
 *    standby on the forked timeline; both rejoin pg-3 with a rewind, after recording what the
 *    rewind discards;
 * 2. a standby streaming from another standby instead of the primary: `standby follow`;
 * 3. a stale witness: its repmgrd hung while repmgrd failed the primary over; re-registered with
 *    the new primary (and the frozen old primary, thawed, rejoined).
 *
 * Measured: each repair's time; asserted: the primary is never touched, `ems-ha status` healthy
 * (after `ack-rewind`), the rows written before the fork and on the new primary kept everywhere.
 * Needs what docker-single-region.test.ts needs; fails naming what is missing.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDockerDeployment } from "../../examples/lab-docker";
import type { Deployment, DeploymentInput } from "../../src/config/schema";
import { ackRewind } from "../../src/ops/rewind";
import { gatherStatus, type ClusterStatus } from "../../src/ops/status";
import { UNSTICK_AFTER_SECONDS, UNSTICK_REASONS, UNSTICK_SILENT_AFTER_SECONDS } from "../../src/render/native/reconcile";
import { ensureStandinImages } from "../standins/ems-postgres-ha/build";
import { labCliEnv, labDeploy, labSecrets, masker } from "../../lab/lib/deploy";
import { sleep } from "../../lab/lib/exec";
import { startFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labExec, labOk } from "../../lab/lib/lab";
import type { LabState } from "../../lab/lib/state";
import { waitForWitnessViews } from "../../lab/lib/docker-host";

// This file's lab subnets: 10.235.20-29.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.235.${20 + i}`);

let state: LabState | undefined;
let stateDir = "";
let d: Deployment;
let env: NodeJS.ProcessEnv = {};
const figures: Record<string, number> = {};
/** The primary the witness test leaves (the next test hangs it). */
let primaryNow = "";
const log = (m: string): void => console.log(`[docker-heal] ${m}`);

/** examples/lab-docker.ts with a third data node (pg-3, .14) and one EMS node. */
function healDeployment(prefix: string, image: Parameters<typeof labDockerDeployment>[1]): DeploymentInput {
  const base = labDockerDeployment(prefix, image);
  const nodes = base.database.nodes!;
  const pg2 = nodes.find((n) => n.name === "pg-2")!;
  return {
    ...base,
    emsNodes: base.emsNodes.slice(0, 1),
    database: { ...base.database, nodes: [...nodes, { ...pg2, name: "pg-3", address: `${prefix}.14` }] },
  };
}

async function ok(host: string, command: string, timeoutMs = 60_000): Promise<string> {
  return (await labOk(state!, host, command, timeoutMs)).trim();
}

/** SQL in a node's container (the stand-in trusts its unix socket). */
const sql = (node: string, text: string): Promise<string> =>
  ok(node, `docker exec ${node} psql -h /tmp -U postgres -d postgres -XtAq -v ON_ERROR_STOP=1 -c "${text}"`);
/**
 * Freezes (docker pause) or thaws a node's container. Around a pause the host's reconciliation
 * service is held (SIGSTOP), with 2 s for a `docker exec` it has in flight to get going: a pause
 * that lands while runc is still setting up an exec freezes runc's init too, and then neither that
 * exec nor `docker unpause` returns (seen here: unpause timed out after 60 s, a `runc init` frozen
 * in the container's cgroup). A stand-in for a hung host, not something the service must survive.
 */
const docker = (node: string, verb: "pause" | "unpause"): Promise<string> =>
  verb === "unpause"
    ? ok(node, `docker unpause ${node}`)
    : ok(node, `systemctl kill -s STOP ems-ha-reconcile; sleep 2; docker pause ${node}; r=$?; systemctl kill -s CONT ems-ha-reconcile; exit $r`);
const journal = async (node: string): Promise<string> =>
  (await labExec(state!, node, "journalctl -u ems-ha-reconcile --no-pager -o cat", { timeoutMs: 30_000 })).stdout;

async function status(): Promise<ClusterStatus> {
  return gatherStatus(d, { env });
}

const streamsFrom = (s: ClusterStatus, node: string, primary: string): boolean => {
  const n = s.dbNodes.find((x) => x.name === node);
  return n?.role === "standby" && n.streaming === true && n.upstream === primary;
};

/** Polls `ems-ha status` until `done` holds (bounded); returns the seconds it took. */
async function until(what: string, done: (s: ClusterStatus) => boolean, timeoutMs: number, since = Date.now()): Promise<number> {
  let last: ClusterStatus | undefined;
  while (Date.now() - since < timeoutMs) {
    last = await status();
    if (done(last)) return (Date.now() - since) / 1000;
    await sleep(1000);
  }
  const journals = await Promise.all(d.database.nodes.map(async (n) => `--- ${n.name}\n${(await journal(n.name)).split("\n").slice(-15).join("\n")}`));
  throw new Error(`${what}: not within ${timeoutMs / 1000} s; last reasons: ${JSON.stringify(last?.reasons)}\n${journals.join("\n")}`);
}

/** Waits (bounded) until one of `nodes` is writable; returns it and the seconds it took. */
async function waitWritable(nodes: string[], timeoutMs: number): Promise<{ node: string; seconds: number }> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    for (const node of nodes) {
      const r = await labExec(state!, node, `docker exec ${node} psql -h /tmp -U postgres -XtAc 'select pg_is_in_recovery()'`, { timeoutMs: 15_000 });
      if (r.stdout.trim() === "f") return { node, seconds: (Date.now() - t0) / 1000 };
    }
    await sleep(500);
  }
  // what the candidates' repmgrd and services said meanwhile (secrets masked; a standby without
  // a WAL source logs "waiting for WAL" every 5 s, which would hide repmgrd's lines)
  const mask = masker(labSecrets(state!));
  const said = await Promise.all(
    nodes.map(async (n) => {
      const r = await labExec(
        state!,
        n,
        `docker ps -a --filter name=^${n}$ --format '{{.Status}}'; docker logs --tail 400 ${n} 2>&1 | grep -v 'waiting for WAL to become available' | tail -40; journalctl -u ems-ha-reconcile -n 10 --no-pager`,
        { timeoutMs: 30_000 },
      );
      return `--- ${n}:\n${mask(r.stdout)}`;
    }),
  );
  throw new Error(`none of ${nodes.join(", ")} became primary within ${timeoutMs / 1000} s\n${said.join("\n")}`);
}

const repairs = (text: string): string[] => text.split("\n").filter((l) => /REPAIR:/.test(l));
/** The service resetting a connection its node's repmgrd waits on (unstick_repmgrd): repmgrd's, not the node's. */
const UNSTICK = /REPAIR: repmgrd sent a request to \S+ \d+s ago and has had no answer/;
/** The repairs that touch the node itself. */
const nodeRepairs = (text: string): string[] => repairs(text).filter((l) => !UNSTICK.test(l));
/** The service's election repair promoting this node (src/render/native/reconcile.ts, reconcile_leaderless). */
const ELECTION_REPAIR =
  /REPAIR: no data node has answered as primary for \d+s \(repmgrd's election did not promote\); .* this standby is the best candidate .*: repmgr standby promote$/;

/**
 * Who promoted `node`: repmgrd, or the service's election repair when repmgrd cancelled its election
 * (under load a sibling slower than connect_timeout leaves it without a majority; docs/reliability.md,
 * "An election repmgrd did not hold"). Either is correct; the service's promotion is the only
 * repair it may write on the new primary. Returns how many such lines follow the first `skip`.
 */
async function promotedByService(node: string, skip: number, seconds: number): Promise<number> {
  const text = await journal(node);
  // connections of its repmgrd's reset (a request to a frozen node left unanswered): not repairs of the node
  figures[`${node}Unstuck`] = repairs(text).filter((l) => UNSTICK.test(l)).length;
  const lines = nodeRepairs(text).slice(skip);
  for (const l of lines) expect(l).toMatch(ELECTION_REPAIR);
  expect(lines.length).toBeLessThanOrEqual(1);
  figures[`${node}PromotedByService`] = lines.length;
  if (lines.length > 0) {
    const said = await ok(node, `docker logs ${node} 2>&1 | grep -E 'qualified majority|cancelling failover|skipping|promotion candidate' | tail -6; true`);
    log(`${node} was promoted by the service's election repair ${seconds} s after the fault; repmgrd said:\n${masker(labSecrets(state!))(said)}`);
  }
  return lines.length;
}

beforeAll(async () => {
  const image = (await ensureStandinImages({ log })).find((i) => i.tag === "7.4.4")!;
  const lab = await startFreshLab(
    { what: "the Docker self-healing lab test", candidates: CANDIDATES, deployment: (p: string) => healDeployment(p, image), needTerraform: true, log },
    (dir) => (stateDir = dir),
  );
  state = lab.state;
  d = lab.deployment;
  const deployed = await labDeploy(state, { log, deployment: lab.input });
  log(`apply ${deployed.apply.wallSeconds} s`);
  const secrets = labSecrets(state);
  env = labCliEnv(secrets);
}, 1_200_000);

afterAll(async () => {
  log(`repair figures ${JSON.stringify(figures)}`);
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("the reconciliation service on Docker hosts", () => {
  it("runs on every DB host and leaves the healthy cluster alone", async () => {
    await waitForWitnessViews((h, c) => labExec(state!, h, c, { timeoutMs: 30_000 }), d);
    await until("healthy after the apply", (s) => !s.degraded, 120_000);
    for (const n of d.database.nodes) {
      expect(await ok(n.name, "systemctl is-active ems-ha-reconcile")).toBe("active");
      const j = await journal(n.name);
      expect(j).toMatch(new RegExp(`reconciling ${n.role} node ${n.name} against`));
      expect(repairs(j)).toEqual([]);
    }
    expect((await status()).rewinds).toEqual([]);
    await sql("pg-1", "create table kept (id int primary key); insert into kept select generate_series(1, 100); create table forked (id int)");
  }, 300_000);

  it("repairs a stale primary and a standby on a forked timeline with rewinds, recording what they discard", async () => {
    const target = await sql("pg-1", "select pg_current_wal_lsn()");
    for (const n of ["pg-2", "pg-3"]) {
      for (let i = 0; (await sql(n, `select pg_last_wal_replay_lsn() >= '${target}'`)) !== "t"; i++) {
        if (i > 60) throw new Error(`${n} did not replay ${target}`);
        await sleep(500);
      }
    }
    // pg-3's WAL receiver stops (no primary_conninfo): pg-3 misses what pg-1 writes next; pg-2 receives it.
    // (A frozen container would still receive the WAL into its sockets' buffers.)
    await sql("pg-3", "alter system set primary_conninfo = ''");
    await sql("pg-3", "select pg_reload_conf()");
    for (let i = 0; (await sql("pg-3", "select count(*) from pg_stat_wal_receiver")) !== "0"; i++) {
      if (i > 40) throw new Error("pg-3's WAL receiver did not stop");
      await sleep(250);
    }
    // and is frozen as well, so nothing can bring it the rows before pg-1 and pg-2 are gone
    await docker("pg-3", "pause");
    await sql("pg-1", "insert into forked select generate_series(1, 5000)");
    const lsn = await sql("pg-1", "select pg_current_wal_lsn()");
    for (let i = 0; (await sql("pg-2", `select pg_last_wal_replay_lsn() >= '${lsn}'`)) !== "t"; i++) {
      if (i > 60) throw new Error(`pg-2 did not replay ${lsn}`);
      await sleep(500);
    }
    // repmgrd on pg-3 sees its primary go and promotes pg-3 (pg-2 is gone too)
    await Promise.all([docker("pg-1", "pause"), docker("pg-2", "pause")]);
    await docker("pg-3", "unpause");
    figures.forkPromoteS = (await waitWritable(["pg-3"], 120_000)).seconds;
    const forkByService = await promotedByService("pg-3", 0, figures.forkPromoteS);
    expect(await sql("pg-3", "select count(*) from forked"), "pg-3 received the rows before its promotion: no fork").toBe("0");
    await sql("pg-3", "create table after_fork (id int); insert into after_fork values (1)");
    const restartsOf = async (n: string) => Number(await ok(n, `docker inspect -f '{{.RestartCount}}' ${n}`));
    const pg2Restarts = await restartsOf("pg-2");
    const thawed = Date.now();
    await Promise.all([docker("pg-1", "unpause"), docker("pg-2", "unpause")]);
    figures.forkRepairS = await until(
      "pg-1 and pg-2 stream from pg-3",
      (s) => s.writablePrimaries.join() === "pg-3" && streamsFrom(s, "pg-1", "pg-3") && streamsFrom(s, "pg-2", "pg-3"),
      // one rewind after the other: pg-2's waits for pg-1's (docs/reliability.md, "A repair that
      // would fence the primary"); 104 s on a quiet machine
      360_000,
      thawed,
    );
    log(
      `fork: pg-3 promoted in ${figures.forkPromoteS} s; pg-1 (stale primary) and pg-2 (forked standby) rejoined ${figures.forkRepairS} s after they were thawed`,
    );
    const [j1, j2, j3] = await Promise.all(["pg-1", "pg-2", "pg-3"].map(journal));
    expect(j1).toMatch(/REPAIR: pg-3 \(pg-3\) is primary on timeline 2, newer than this node's 1: this node is a stale primary/);
    // pg-2 streamed from pg-1; when pg-1 stops for its rewind, repmgrd on pg-2 may fail to follow
    // pg-3 and exit, which restarts pg-2's container: the image's start logic then rejoins it
    // before the service's grace has run out. Otherwise the service rewinds it.
    const byImage = (await restartsOf("pg-2")) > pg2Restarts;
    const pg2Forked = /REPAIR: this standby has forked: timeline 1 replayed up to \S+, past \S+ where pg-3 left timeline 1; rewinding/.test(j2);
    figures.forkedStandbyByImage = byImage ? 1 : 0;
    // Somebody repaired pg-2: the service (a rewind), or the image's start logic after a restart;
    // the service may have begun its repair before the restart (both seen in the lab).
    expect(byImage || pg2Forked, `pg-2 was repaired by neither the service nor the image:\n${repairs(j2).join("\n")}`).toBe(true);
    if (byImage) log(`pg-2's container restarted (repmgrd exited): the image's start logic rejoined it; the service's repairs there: ${repairs(j2).length}`);
    const rewound = (await status()).rewinds.map((m) => m.node).sort();
    expect(rewound[0]).toBe("pg-1");
    // a record for pg-2 only with the service's rewind of it
    if (rewound.includes("pg-2")) expect(pg2Forked).toBe(true);
    for (const j of pg2Forked && !byImage ? [j1, j2] : [j1]) {
      expect(j).toMatch(/node rejoin done/);
      expect(j).not.toMatch(/node rejoin failed/);
    }
    // the only primary is never touched (after its promotion)
    expect(nodeRepairs(j3).slice(forkByService)).toEqual([]);
    // the rewind records, on the data nodes' hosts, with the discarded WAL saved
    for (const n of rewound) {
      const rec = await ok(n, `f=$(ls /var/lib/ems-ha/rewind-${n}-*.txt | head -n 1); cat "$f"; ls "\${f%.txt}.wal" | wc -l`);
      expect(rec).toMatch(/^discarded: WAL of timeline 1 from \S+ to \S+ \([1-9]\d* bytes\)/m);
      expect(rec).toMatch(/^fork point: pg-3 left timeline 1 at \S+ \(now on timeline 2\)/m);
      expect(rec).toMatch(/Latest checkpoint's TimeLineID:\s+1/);
      expect(Number(rec.split("\n").at(-1))).toBeGreaterThan(0);
    }
    const s = await status();
    expect(s.rewinds.map((m) => m.node).sort()).toEqual(rewound);
    expect(s.reasons.some((r) => /^pg-1 was rewound by the reconciliation service/.test(r))).toBe(true);
    // what pg-3 had is kept everywhere; what only pg-1 and pg-2 had is gone (and recorded)
    for (const n of ["pg-1", "pg-2", "pg-3"]) {
      expect(await sql(n, "select (select count(*) from kept) || ' ' || (select count(*) from after_fork) || ' ' || (select count(*) from forked)")).toBe(
        "100 1 0",
      );
    }
    // each rewind's saved WAL (copied out of the container with docker cp) is listed on its Docker host with its size
    const kept = (s.kept ?? []).filter((k) => k.kind === "rewind-wal");
    expect(kept.map((k) => [k.node, k.acknowledged]).sort()).toEqual(rewound.map((n) => [n, false]));
    for (const k of kept) expect(k.kb, k.path).toBeGreaterThan(0);
    for (const n of rewound) {
      const ack = await ackRewind(d, n, { env, removeWal: true });
      expect(ack.ok, ack.message).toBe(true);
      expect(ack.message).toMatch(new RegExp(`1 rewind record\\(s\\) of ${n} acknowledged and removed; 1 saved WAL directory \\(\\d+ [kM]B\\) removed`));
    }
    expect(((await status()).kept ?? []).filter((k) => rewound.includes(k.node))).toEqual([]);
  }, 600_000);

  it("repairs a standby that streams from another standby instead of the primary", async () => {
    // pg-2 streams from the standby pg-1 (a cascade; pg-1 has no replication slot for it)
    await sql("pg-2", "alter system set primary_conninfo = 'host=pg-1 port=5432 user=repmgr application_name=pg-2 passfile=/opt/bitnami/postgresql/.pgpass'");
    await sql("pg-2", "alter system set primary_slot_name = ''");
    const moved = Date.now();
    await sql("pg-2", "select pg_reload_conf()");
    let seen = false;
    figures.upstreamRepairS = await until(
      "pg-2 streams from pg-3 again",
      (s) => {
        if (s.dbNodes.find((n) => n.name === "pg-2")?.upstream === "pg-1") seen = true;
        return seen && streamsFrom(s, "pg-2", "pg-3");
      },
      180_000,
      moved,
    );
    expect(seen, "pg-2 was never seen streaming from pg-1").toBe(true);
    expect(await journal("pg-2")).toMatch(/REPAIR: this standby streams from pg-1, not from the primary pg-3 \(pg-3\): standby follow/);
    expect(nodeRepairs(await journal("pg-3"))).toEqual([]);
  }, 300_000);

  it("re-registers a witness left with the old primary, and rejoins the old primary, within a bounded time", async () => {
    await waitForWitnessViews((h, c) => labExec(state!, h, c, { timeoutMs: 30_000 }), d);
    const before = Object.fromEntries(await Promise.all(d.database.nodes.map(async (n) => [n.name, nodeRepairs(await journal(n.name)).length] as const)));
    // The witness's repmgrd hangs (stopped; its PostgreSQL still answers) while repmgrd fails the
    // primary over: nobody updates the witness's metadata. (A running repmgrd on the witness finds
    // the new primary by itself: measured here within the service's grace, so the service did not act.)
    const repmgrd = (await ok("pgw-1", "docker top pgw-1 -eo pid,comm | awk '$2 == \"repmgrd\" { print $1 }'")).split("\n")[0]!;
    expect(repmgrd).toMatch(/^\d+$/);
    await ok("pgw-1", `kill -STOP ${repmgrd}`);
    await docker("pg-3", "pause");
    const { node: promoted, seconds } = await waitWritable(["pg-1", "pg-2"], 120_000);
    figures.failoverS = seconds;
    const failedOver = Date.now();
    const byService = await promotedByService(promoted, before[promoted]!, seconds);
    let stale = false;
    figures.witnessRepairS = await until(
      `the witness registered with ${promoted}`,
      (s) => {
        if (s.reasons.some((r) => r.startsWith(`witness pgw-1 is registered with pg-3, not with the primary ${promoted}`))) stale = true;
        return stale && !s.reasons.some((r) => r.startsWith("witness pgw-1"));
      },
      180_000,
      failedOver,
    );
    expect(stale, "the witness was never seen registered with the old primary").toBe(true);
    await ok("pgw-1", `kill -CONT ${repmgrd}`);
    const jw = nodeRepairs(await journal("pgw-1")).slice(before["pgw-1"]);
    expect(jw.join("\n")).toMatch(
      new RegExp(
        `REPAIR: this witness is registered with node 1003 \\(primary in its metadata: 1003\\), but ${promoted} \\(${promoted}\\) is the primary: witness register --force`,
      ),
    );
    // the old primary, thawed, is a stale primary: it rejoins the new one
    const back = Date.now();
    await docker("pg-3", "unpause");
    const others = ["pg-1", "pg-2", "pg-3"].filter((n) => n !== promoted);
    figures.stalePrimaryRepairS = await until(
      `pg-3 streams from ${promoted}`,
      (s) => s.writablePrimaries.join() === promoted && others.every((n) => streamsFrom(s, n, promoted)),
      240_000,
      back,
    );
    expect(await journal("pg-3")).toMatch(
      new RegExp(`REPAIR: ${promoted} \\(${promoted}\\) is primary on timeline 3, newer than this node's 2: this node is a stale primary`),
    );
    // the new primary is never touched after its promotion
    expect(nodeRepairs(await journal(promoted)).slice(before[promoted]! + byService)).toEqual([]);
    for (const m of (await status()).rewinds) expect((await ackRewind(d, m.node, { env })).ok).toBe(true);
    // The witness's repmgrd, running again, may copy the thawed old primary's stale node list before
    // that node was rejoined; the service then repairs the witness once more.
    figures.healthyAfterThawS = await until("healthy", (x) => !x.degraded && x.reasons.length === 0, 120_000, back);
    const s = await status();
    expect(s.reasons).toEqual([]);
    expect(s.degraded).toBe(false);
    for (const n of ["pg-1", "pg-2", "pg-3"])
      expect(await sql(n, "select (select count(*) from kept) || ' ' || (select count(*) from after_fork)")).toBe("100 1");
    primaryNow = promoted;
  }, 600_000);

  it("sets free the standbys' repmgrd waiting on a hung primary (connection reset), and the cluster fails over", async () => {
    // docs/reliability.md, "A hung server": the backends serving the standbys' repmgrd are stopped
    // first, so that a request of each is in flight for certain, then the whole primary is frozen.
    // TCP stays up (the host's kernel answers): only the service's reset ends repmgrd's wait.
    const p = primaryNow;
    expect(p, "the previous test left no primary").toMatch(/^pg-\d$/);
    const standbys = ["pg-1", "pg-2", "pg-3"].filter((n) => n !== p);
    const addresses = standbys.map((n) => d.database.nodes.find((x) => x.name === n)!.address);
    const inList = addresses.map((a) => `'${a}'`).join(", ");
    const backends = (
      await sql(p, `select string_agg(pid::text, ' ') from pg_stat_activity where application_name = 'repmgr' and host(client_addr) in (${inList})`)
    ).trim();
    expect(backends, `no repmgr backend on ${p} serves ${standbys.join(", ")}`).toMatch(/^\d+( \d+)*$/);
    const since = Math.floor(Date.now() / 1000);
    const before = Object.fromEntries(await Promise.all(standbys.map(async (n) => [n, repairs(await journal(n)).length] as const)));
    await ok(p, `docker exec ${p} bash -c 'kill -STOP ${backends}'`);
    await sleep(5000);
    await docker(p, "pause");
    let w: { node: string; seconds: number };
    try {
      w = await waitWritable(standbys, 180_000);
    } finally {
      await docker(p, "unpause");
      await ok(p, `docker exec ${p} bash -c 'kill -CONT ${backends} 2>/dev/null; true'`);
    }
    const promoted = w.node;
    figures.hungPrimaryFailoverS = w.seconds;
    const resets = await Promise.all(
      standbys.map(async (n) =>
        repairs(await journal(n))
          .slice(before[n])
          .filter((l) => UNSTICK.test(l)),
      ),
    );
    // promoted by repmgrd once set free, or by the service's election repair if that came first
    figures.hungPrimaryPromotedByService = repairs(await journal(promoted))
      .slice(before[promoted])
      .some((l) => ELECTION_REPAIR.test(l))
      ? 1
      : 0;
    log(`hung primary ${p}: ${promoted} writable ${figures.hungPrimaryFailoverS} s after the freeze; resets: ${JSON.stringify(resets)}`);
    // the service reset a waiting connection on at least one standby: UNSTICK_AFTER or more after its
    // request, or UNSTICK_SILENT_AFTER or more when the paused primary took no new connection either
    expect(resets.flat().length, `no standby's service reset a connection of repmgrd's`).toBeGreaterThan(0);
    const silent = (l: string) => l.includes(UNSTICK_REASONS.silent);
    for (const l of resets.flat()) {
      expect(Number(/ (\d+)s ago/.exec(l)![1]), l).toBeGreaterThanOrEqual(silent(l) ? UNSTICK_SILENT_AFTER_SECONDS : UNSTICK_AFTER_SECONDS);
    }
    figures.hungPrimarySilentResets = resets.flat().filter(silent).length;
    for (const n of standbys) expect(await journal(n)).not.toMatch(/could not reset the connection/);
    // and repmgrd, set free, saw the primary fail (the lost connection, then its pings)
    const woke = standbys.filter((_, i) => resets[i]!.length > 0);
    for (const n of woke) {
      const said = await ok(
        n,
        `docker logs --since ${since} ${n} 2>&1 | grep -E 'could not receive data from server|unable to (ping|connect to upstream node)' | head -3; true`,
      );
      log(`${n}'s repmgrd after the reset: ${said.replace(/\n/g, " / ")}`);
      expect(said, `${n}'s repmgrd said nothing after the reset`).not.toBe("");
    }
    // Not waited for here: the old primary's return. Thawed, it is a stale primary that the service
    // rejoins (as in the test above), but for the seconds before that it may still stream WAL to a
    // standby that had not switched yet, forking it; the stand-in image then fails to start that
    // standby (it does not fall back to a rewind when PostgreSQL will not start on the new
    // timeline), which the next start of the lab does not depend on.
  }, 600_000);
});
