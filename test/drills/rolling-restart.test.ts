/**
 * Rolling changes on the native lab (issue 14 item 5): a PGTune change (ramGb 2 -> 3 on both data
 * nodes: shared_buffers, a setting PostgreSQL reads only at start) applied with real Terraform
 * while a writer inserts rows. Measured: acknowledged rows present afterwards, the write outage
 * (longest gap between two acknowledged inserts, and the time no data node answered as writable),
 * each data node's availability sampled every 250 ms during the apply (never two down at once),
 * how often the writable primary moved (once), the order of the restarts (postmaster start
 * times: the standby before the old primary). Then a re-apply plans nothing and the primary stays,
 * and `ems-ha rolling-restart` restarts a standby whose binaries were replaced (a package update).
 *
 * Needs what lab-e2e.test.ts needs; fails naming what is missing.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDeployment } from "../../examples/lab";
import type { DbNodeConfig, Deployment, DeploymentInput } from "../../src/config/schema";
import { labCliEnv, labDeploy, labPlan, labSecrets, type DeployResult } from "../../lab/lib/deploy";
import { deployedDeployment, TABLE, Writer } from "../../lab/lib/drill";
import { sleep } from "../../lab/lib/exec";
import { bootFreshLab, chooseFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labExec } from "../../lab/lib/lab";
import { REPO_ROOT } from "../../lab/lib/paths";
import type { LabState } from "../../lab/lib/state";
import { runCliCaptured } from "../helpers/cli";

// This test's own range: 10.235.40-49.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.235.${40 + i}`);

let state: LabState | undefined;
let stateDir = "";
const log = (m: string): void => console.log(`[rolling-restart] ${m}`);

/** The lab deployment with more RAM on the data nodes (PGTune: larger shared_buffers, which needs a restart). */
function moreRam(prefix: string): DeploymentInput {
  const input = labDeployment(prefix);
  return { ...input, database: { ...input.database, nodes: input.database.nodes.map((n) => (n.role === "data" ? { ...n, ramGb: 3 } : n)) } };
}

async function query<T extends Record<string, unknown>>(d: Deployment, node: DbNodeConfig, password: string, sql: string): Promise<T[]> {
  const c = new Client({
    host: node.address,
    port: d.database.port,
    user: d.database.user,
    password,
    database: "postgres",
    connectionTimeoutMillis: 1000,
    query_timeout: 2000,
  });
  c.on("error", () => undefined);
  try {
    await c.connect();
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** One sample of every data node: "primary", "standby" or "down". */
interface Sample {
  readonly at: number;
  readonly roles: Record<string, "primary" | "standby" | "down">;
}

/** Samples every data node's availability and role every intervalMs until stopped. */
class Monitor {
  readonly samples: Sample[] = [];
  private stopped = false;
  private done?: Promise<void>;
  constructor(
    private readonly d: Deployment,
    private readonly password: string,
    private readonly intervalMs = 250,
  ) {}
  start(): void {
    this.done = (async () => {
      const data = this.d.database.nodes.filter((n) => n.role === "data");
      const deadline = Date.now() + 900_000;
      while (!this.stopped && Date.now() < deadline) {
        const at = Date.now();
        const roles = await Promise.all(
          data.map(async (n) => {
            try {
              const r = await query<{ r: boolean }>(this.d, n, this.password, "select pg_is_in_recovery() as r");
              return [n.name, r[0]!.r ? "standby" : "primary"] as const;
            } catch {
              return [n.name, "down"] as const;
            }
          }),
        );
        this.samples.push({ at, roles: Object.fromEntries(roles) });
        await sleep(Math.max(0, this.intervalMs - (Date.now() - at)));
      }
    })();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

beforeAll(async () => {
  const options = { what: "the rolling restart lab test", candidates: CANDIDATES, deployment: (p: string) => labDeployment(p), needTerraform: true, log };
  const chosen = chooseFreshLab(options);
  stateDir = chosen.stateDir;
  state = (await bootFreshLab(options, chosen)).state;
  await labDeploy(state, { log });
}, 1_200_000);

afterAll(async () => {
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("rolling changes on the native lab", () => {
  let applied: DeployResult | undefined;

  it("applies a PGTune change under a writer: the standby restarts first, then one switchover; never two data nodes down; no acknowledged row lost", async () => {
    const d = deployedDeployment(state!);
    const pw = labSecrets(state!).db_password;
    const data = d.database.nodes.filter((n) => n.role === "data");
    const node = (name: string) => data.find((n) => n.name === name)!;
    const startTime = async (n: DbNodeConfig) => Date.parse((await query<{ t: Date }>(d, n, pw, "select pg_postmaster_start_time() as t"))[0]!.t.toISOString());
    const before = { "dbnode-1": await startTime(node("dbnode-1")), "dbnode-2": await startTime(node("dbnode-2")) };
    expect((await query<{ r: boolean }>(d, node("dbnode-1"), pw, "select pg_is_in_recovery() as r"))[0]!.r).toBe(false);
    await query(d, node("dbnode-1"), pw, `drop table if exists ${TABLE}`);
    await query(d, node("dbnode-1"), pw, `create table ${TABLE} (id bigint primary key, at timestamptz not null default clock_timestamp())`);

    const writer = new Writer(d, data, pw);
    const monitor = new Monitor(d, pw);
    monitor.start();
    writer.start();
    await sleep(3000);
    const t0 = Date.now();
    applied = await labDeploy(state!, { log, deployment: moreRam(state!.prefix) });
    const t1 = Date.now();
    await sleep(3000);
    await writer.stop();
    await monitor.stop();

    // Rows: every acknowledged insert is on the final primary.
    const final = monitor.samples.at(-1)!;
    const primaries = Object.entries(final.roles).filter(([, r]) => r === "primary");
    expect(primaries).toHaveLength(1);
    const finalPrimary = node(primaries[0]![0]);
    const present = new Set((await query<{ id: string }>(d, finalPrimary, pw, `select id from ${TABLE}`)).map((x) => Number(x.id)));
    const lost = writer.acknowledged.filter((id) => !present.has(id));

    // Write outage: the longest gap between two acknowledged inserts during the apply, and the
    // time no data node answered as writable (sum of the sampled intervals without a primary).
    const acks = writer.ackTimes.filter((t) => t >= t0 - 1000 && t <= t1 + 3000);
    let gap = 0;
    for (let i = 1; i < acks.length; i++) gap = Math.max(gap, acks[i]! - acks[i - 1]!);
    let noPrimaryMs = 0;
    let twoDown = 0;
    let anyDown = 0;
    const primarySeq: string[] = [];
    monitor.samples.forEach((s, i) => {
      const roles = Object.values(s.roles);
      const p = Object.entries(s.roles).find(([, r]) => r === "primary")?.[0];
      if (p && primarySeq.at(-1) !== p) primarySeq.push(p);
      if (roles.filter((r) => r === "down").length >= 2) twoDown++;
      if (roles.includes("down")) anyDown++;
      if (!p && i + 1 < monitor.samples.length) noPrimaryMs += monitor.samples[i + 1]!.at - s.at;
    });
    const after = { "dbnode-1": await startTime(node("dbnode-1")), "dbnode-2": await startTime(node("dbnode-2")) };
    const settings = await Promise.all(
      data.map(
        async (n) =>
          (
            await query<{ sb: string; pending: string }>(
              d,
              n,
              pw,
              "select current_setting('shared_buffers') as sb, (select count(*) from pg_settings where pending_restart)::text as pending",
            )
          )[0]!,
      ),
    );
    // Replaced steps appear twice (destruction, then creation): keep each step's last entry, in the order they ended.
    const rolling = [...new Map(applied.apply.steps.filter((s) => s.address.includes("rolling-restart")).map((s) => [s.address, s])).values()].sort(
      (a, b) => a.endSeconds - b.endSeconds,
    );
    log(
      `rolling change: apply ${applied.apply.wallSeconds} s (rolling steps ${rolling.map((s) => `${s.address.replace(/^terraform_data\.rolling-restart_|_[0-9A-F]{8}$/g, "")} ${s.seconds} s`).join(", ")}); ` +
        `write outage ${(gap / 1000).toFixed(1)} s (longest gap between acknowledged inserts), no writable primary for ${(noPrimaryMs / 1000).toFixed(1)} s sampled; ` +
        `${writer.acknowledged.length} rows acknowledged, ${lost.length} lost, ${writer.errors} writer errors; ` +
        `${monitor.samples.length} samples, ${anyDown} with a data node down, ${twoDown} with two down; primary ${primarySeq.join(" -> ")}; ` +
        `restarted dbnode-2 at +${((after["dbnode-2"] - t0) / 1000).toFixed(1)} s, dbnode-1 at +${((after["dbnode-1"] - t0) / 1000).toFixed(1)} s; shared_buffers ${settings.map((s) => s.sb).join(", ")}`,
    );
    expect(lost).toEqual([]);
    expect(writer.acknowledged.length).toBeGreaterThan(50);
    // Both data nodes restarted (the monitor saw each down at some point), never both at once.
    expect(anyDown).toBeGreaterThan(0);
    expect(twoDown).toBe(0);
    expect(after["dbnode-1"]).toBeGreaterThan(before["dbnode-1"]);
    expect(after["dbnode-2"]).toBeGreaterThan(before["dbnode-2"]);
    // The standby first, then the old primary (restarted by the switchover).
    expect(after["dbnode-2"]).toBeLessThan(after["dbnode-1"]);
    // One switchover: the primary moved once, to the standby.
    expect(primarySeq).toEqual(["dbnode-1", "dbnode-2"]);
    expect(gap).toBeLessThan(30_000);
    // The new settings are in force everywhere, nothing waits for a restart.
    expect(settings).toEqual([
      { sb: "768MB", pending: "0" },
      { sb: "768MB", pending: "0" },
    ]);
    expect(rolling.map((s) => s.address.replace(/^terraform_data\.rolling-restart_|_[0-9A-F]{8}$/g, ""))).toEqual([
      "others-dbnode-1",
      "others-dbnode-2",
      "others-witness-1",
      "primary-dbnode-1",
      "primary-dbnode-2",
    ]);
  }, 900_000);

  it("re-applies with no changes afterwards: the plan is empty and dbnode-2 stays primary", async () => {
    expect(applied).toBeDefined();
    const plan = await labPlan(state!, moreRam(state!.prefix), log);
    expect(plan.changes).toEqual([]);
    expect(plan.exitCode).toBe(0);
    const d = deployedDeployment(state!);
    const pw = labSecrets(state!).db_password;
    const rec = await query<{ r: boolean }>(
      d,
      d.database.nodes.find((n) => n.name === "dbnode-2")!,
      pw,
      "select pg_is_in_recovery() as r",
    );
    expect(rec[0]!.r).toBe(false);
  }, 600_000);

  it("`ems-ha rolling-restart` restarts a standby whose binaries a package update replaced, and nothing else: the primary stays", async () => {
    const d = deployedDeployment(state!);
    const secrets = labSecrets(state!);
    const env = labCliEnv(secrets);
    const config = join(state!.stateDir, "deployment.json");
    const cli = (argv: string[]) => runCliCaptured(argv, REPO_ROOT, env);
    const pw = secrets.db_password;
    const db1 = d.database.nodes.find((n) => n.name === "dbnode-1")!;
    const started = async () => (await query<{ t: Date }>(d, db1, pw, "select pg_postmaster_start_time() as t"))[0]!.t.getTime();

    // The switchover of the apply ran without --siblings-follow (the postgres user has no SSH to
    // the witness): the witness's reconciliation service re-registers it with the new primary
    // after its grace period. rolling-restart refuses an unhealthy cluster, so wait for that (bounded).
    const healthWait = Date.now();
    let st = await cli(["status", "--config", config]);
    while (st.code !== 0 && Date.now() - healthWait < 120_000) {
      await sleep(2_000);
      st = await cli(["status", "--config", config]);
    }
    expect(st.code, st.out + st.err).toBe(0);
    console.log(`[rolling-restart] cluster healthy (witness re-registered) ${((Date.now() - healthWait) / 1000).toFixed(1)} s after the re-apply`);

    const dry = await cli(["rolling-restart", "--config", config, "--dry-run"]);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.err).toContain("[ems-ha dbnode-1] no restart pending");
    expect(dry.out).toContain("dry run: nothing was restarted");

    // What a package update does to the running server: its binary is replaced on disk (apt-get
    // upgrade with the restart held back by a policy-rc.d).
    const bin = "/usr/lib/postgresql/15/bin/postgres";
    const swap = await labExec(state!, "dbnode-1", `cp -p ${bin} ${bin}.new && mv -f ${bin}.new ${bin}`, { timeoutMs: 30_000 });
    expect(swap.code, swap.stderr).toBe(0);
    const before = await started();
    const t0 = Date.now();
    const r = await cli(["rolling-restart", "--config", config]);
    log(`ems-ha rolling-restart (a standby's binaries replaced): exit ${r.code}, ${((Date.now() - t0) / 1000).toFixed(1)} s\n${r.err}${r.out}`);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain("the PostgreSQL binaries were replaced (package update)");
    expect(r.out).toContain("rolling restart done: dbnode-2 is the primary; the cluster is healthy");
    expect(await started()).toBeGreaterThan(before);
  }, 600_000);
});
