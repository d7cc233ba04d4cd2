/**
 * Day-2 operations on the native lab (Debian 12 hosts, the native-single-region stack applied with
 * real Terraform): `ems-ha status` (next failover), `ems-ha pause` / `resume`, and
 * `ems-ha switchover --to dbnode-2` under a writer: write outage, acknowledged rows lost, the old
 * primary following as a standby. Needs what lab-e2e.test.ts needs; fails naming what is missing.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDeployment } from "../../examples/lab";
import type { ClusterStatus } from "../../src/ops/status";
import { labCliEnv, labDeploy, labSecrets } from "../../lab/lib/deploy";
import { deployedDeployment, TABLE, Writer } from "../../lab/lib/drill";
import { sleep } from "../../lab/lib/exec";
import { bootFreshLab, chooseFreshLab } from "../../lab/lib/fresh-lab";
import { labDown } from "../../lab/lib/lab";
import { REPO_ROOT } from "../../lab/lib/paths";
import type { LabState } from "../../lab/lib/state";
import { runCliCaptured, type CliRun } from "../helpers/cli";

// Apart from the other lab tests (10.231.x): 10.233.10-19.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.233.${10 + i}`);

let state: LabState | undefined;
let stateDir = "";
let env: NodeJS.ProcessEnv = {};
let config = "";
const log = (m: string): void => console.log(`[ops-switchover] ${m}`);

function cli(argv: string[]): Promise<CliRun> {
  return runCliCaptured(argv, REPO_ROOT, env);
}

async function status(): Promise<{ code: number; s: ClusterStatus }> {
  const r = await cli(["status", "--config", config, "--json"]);
  return { code: r.code, s: JSON.parse(r.out) as ClusterStatus };
}

beforeAll(async () => {
  const options = { what: "the switchover lab test", candidates: CANDIDATES, deployment: (p: string) => labDeployment(p), needTerraform: true, log };
  const chosen = chooseFreshLab(options);
  stateDir = chosen.stateDir;
  state = (await bootFreshLab(options, chosen)).state;
  await labDeploy(state, { log });
  const secrets = labSecrets(state);
  env = labCliEnv(secrets);
  config = join(state.stateDir, "deployment.json");
}, 1_200_000);

afterAll(async () => {
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("day-2 operations on the native lab", () => {
  it("status is healthy and predicts the next failover; pause is flagged until resume", async () => {
    const before = await status();
    expect(before.s.reasons).toEqual([]);
    expect(before.s.nextFailover).toMatchObject({ primary: "dbnode-1", newPrimary: "dbnode-2" });
    const p = await cli(["pause", "--config", config]);
    expect(p.code, p.err).toBe(0);
    const paused = await status();
    expect(paused.code).toBe(1);
    expect(paused.s.reasons).toContain("repmgrd is paused on dbnode-1: automatic failover is off until `ems-ha resume`");
    const r = await cli(["resume", "--config", config]);
    expect(r.code, r.err).toBe(0);
    expect((await status()).code).toBe(0);
  }, 300_000);

  it("switches over to dbnode-2 under a writer: short write outage, no acknowledged row lost, dbnode-1 follows", async () => {
    const d = deployedDeployment(state!);
    const pw = labSecrets(state!).db_password;
    const primary = d.database.nodes.find((n) => n.name === "dbnode-1")!;
    const setup = new Client({ host: primary.address, port: d.database.port, user: d.database.user, password: pw, database: "postgres" });
    await setup.connect();
    await setup.query(`drop table if exists ${TABLE}`);
    await setup.query(`create table ${TABLE} (id bigint primary key, at timestamptz not null default clock_timestamp())`);
    await setup.end();
    const writer = new Writer(
      d,
      d.database.nodes.filter((n) => n.role === "data"),
      pw,
    );
    writer.start();
    await sleep(3000);
    const started = Date.now();
    const r = await cli(["switchover", "--to", "dbnode-2", "--config", config]);
    const ended = Date.now();
    await sleep(3000);
    await writer.stop();
    log(r.err);
    expect(r.out, r.err).toMatch(/dbnode-2 is the primary; dbnode-1 follows it as a standby/);
    expect(r.code).toBe(0);
    const times = writer.ackTimes.filter((t) => t >= started - 1000);
    let gap = 0;
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
    const check = new Client({
      host: d.database.nodes.find((n) => n.name === "dbnode-2")!.address,
      port: d.database.port,
      user: d.database.user,
      password: pw,
      database: "postgres",
    });
    await check.connect();
    const present = new Set((await check.query<{ id: string }>(`select id from ${TABLE}`)).rows.map((x) => Number(x.id)));
    await check.end();
    const lost = writer.acknowledged.filter((id) => !present.has(id));
    log(
      `switchover: ems-ha switchover ${((ended - started) / 1000).toFixed(1)} s, write outage ${(gap / 1000).toFixed(1)} s, ${writer.acknowledged.length} rows acknowledged, ${lost.length} lost, ${writer.errors} writer errors`,
    );
    expect(lost).toEqual([]);
    expect(writer.acknowledged.length).toBeGreaterThan(20);
    const after = await status();
    const old = after.s.dbNodes.find((n) => n.name === "dbnode-1")!;
    expect(after.s.writablePrimaries).toEqual(["dbnode-2"]);
    expect(old).toMatchObject({ role: "standby", streaming: true, upstream: d.database.nodes.find((n) => n.name === "dbnode-2")!.address });
    expect(after.s.reasons).toEqual([]);
  }, 600_000);
});
