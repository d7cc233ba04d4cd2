/**
 * Day-2 operations on the Docker lab (single-region, ssh engine, the ems-postgres-ha STAND-IN
 * image; examples/lab-docker.ts applied with real Terraform), each under a writer:
 *   - `ems-ha switchover --to pg-2` (docker exec on the hosts, src/ops/docker-switchover.ts):
 *     write outage, acknowledged rows lost (none), pg-1 following as a standby, the witness with
 *     the new primary; a dry run and the refusals change nothing;
 *   - `ems-ha pause`: status flags it; the primary's container stopped meanwhile is NOT failed
 *     over; `ems-ha resume` turns automatic failover on again (a second stop IS failed over);
 *   - a rolling change: an env change that recreates every DB container is applied one container
 *     at a time, the primary's with repmgrd paused (no failover), no acknowledged row lost.
 *
 * Needs root, systemd-nspawn, debootstrap, iproute2, openssh-client and terraform. On a machine
 * without them it FAILS naming what is missing; it is never skipped.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDockerDeployment } from "../../examples/lab-docker";
import type { Deployment, DeploymentInput } from "../../src/config/schema";
import type { ClusterStatus } from "../../src/ops/status";
import { labCliEnv, labDeploy, labSecrets } from "../../lab/lib/deploy";
import { waitForWitnessViews } from "../../lab/lib/docker-host";
import { dbQuery, DownProber, inRecovery as inRecoveryOf, underWriter as underWriterOf, type WriterOutcome } from "../../lab/lib/db-watch";
import { TABLE } from "../../lab/lib/drill";
import { sleep } from "../../lab/lib/exec";
import { startFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labExec } from "../../lab/lib/lab";
import { REPO_ROOT } from "../../lab/lib/paths";
import type { LabState } from "../../lab/lib/state";
import { ensureStandinImages } from "../standins/ems-postgres-ha/build";
import { runCliCaptured, type CliRun } from "../helpers/cli";
import { readStatus, statusUntilHealthy, type StatusReading } from "../helpers/status-poll";

// This file's own subnets: 10.235.50-59.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.235.${50 + i}`);

let state: LabState | undefined;
let stateDir = "";
let input: DeploymentInput;
let d: Deployment;
let env: NodeJS.ProcessEnv = {};
let config = "";
let pw = "";
const figures: string[] = [];
const log = (m: string): void => console.log(`[docker-ops] ${m}`);

function cli(argv: string[]): Promise<CliRun> {
  return runCliCaptured(argv, REPO_ROOT, env);
}

const status = async (): Promise<StatusReading> => readStatus(await cli(["status", "--config", config, "--json"]));

/** Until status is healthy (bounded). */
const healthy = async (seconds: number): Promise<ClusterStatus> => (await statusUntilHealthy(() => cli(["status", "--config", config, "--json"]), seconds)).s;

const sql = <T>(name: string, text: string): Promise<T[]> => dbQuery<T>(d, name, pw, text);
const inRecovery = (name: string): Promise<boolean | undefined> => inRecoveryOf(d, name, pw);

/** Runs `action` under a writer (lab/lib/db-watch.ts), recording its figures. */
async function underWriter(what: string, action: () => Promise<void>, primaryAfter: () => string): Promise<WriterOutcome> {
  const w = await underWriterOf(d, pw, what, action, primaryAfter);
  log(w.line);
  figures.push(w.line);
  return w;
}

beforeAll(async () => {
  const image = (await ensureStandinImages({ log })).find((i) => i.tag === "7.4.4")!;
  const lab = await startFreshLab(
    { what: "the Docker operations lab test", candidates: CANDIDATES, deployment: (p: string) => labDockerDeployment(p, image), needTerraform: true, log },
    (dir) => (stateDir = dir),
  );
  ({ state, input, deployment: d } = lab);
  const deployed = await labDeploy(state, { log, deployment: input });
  log(`apply ${deployed.apply.wallSeconds} s`);
  const secrets = labSecrets(state);
  pw = secrets.db_password;
  env = labCliEnv(secrets);
  config = join(state.stateDir, "deployment.json");
  await waitForWitnessViews((h, c) => labExec(state!, h, c, { timeoutMs: 30_000 }), d);
  await sql("pg-1", `create table if not exists ${TABLE} (id bigint primary key, at timestamptz not null default clock_timestamp())`);
}, 1_500_000);

afterAll(async () => {
  if (figures.length > 0) console.log(`docker-ops figures:\n${figures.join("\n")}`);
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("day-2 operations on the Docker lab", () => {
  it("switchover: refusals and the dry run change nothing; under a writer pg-2 takes over with no acknowledged row lost, pg-1 follows it, the witness too", async () => {
    const s0 = await healthy(60);
    expect(s0.reasons).toEqual([]);
    expect((await cli(["switchover", "--to", "pgw-1", "--config", config])).code).toBe(2);
    const self = await cli(["switchover", "--to", "pg-1", "--config", config]);
    expect(self.err).toContain("refused: pg-1 is already the primary");
    const dry = await cli(["switchover", "--to", "pg-2", "--config", config, "--dry-run"]);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toMatch(/dry run: pg-2 can take over from pg-1; nothing was changed/);
    expect(await inRecovery("pg-1")).toBe(false);

    let result = { code: -1, out: "", err: "" };
    const w = await underWriter(
      "Docker switchover pg-1 -> pg-2",
      async () => {
        const t = Date.now();
        result = await cli(["switchover", "--to", "pg-2", "--config", config]);
        figures.push(`ems-ha switchover --to pg-2: ${((Date.now() - t) / 1000).toFixed(1)} s with its checks and the wait for a healthy cluster`);
      },
      () => "pg-2",
    );
    log(result.err);
    expect(result.out, result.err).toMatch(/pg-2 is the primary; pg-1 follows it as a standby/);
    expect(result.code).toBe(0);
    expect(w.lost).toEqual([]);
    expect(w.acked).toBeGreaterThan(50);
    expect(w.gapSeconds).toBeLessThan(30);
    const after = await status();
    expect(after.s.writablePrimaries).toEqual(["pg-2"]);
    expect(after.s.dbNodes.find((n) => n.name === "pg-1")).toMatchObject({ role: "standby", streaming: true, upstream: "pg-2" });
    expect(after.s.reasons).toEqual([]);
    expect(after.code).toBe(0);
    // The old primary's restart policy is back.
    expect((await labExec(state!, "pg-1", "docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' pg-1")).stdout.trim()).toBe("always");
  }, 600_000);

  it("pause: flagged by status; the primary's container stopped while paused is not failed over; after resume a stop is failed over again", async () => {
    const p = await cli(["pause", "--config", config]);
    expect(p.code, p.err).toBe(0);
    const paused = await status();
    expect(paused.code).toBe(1);
    expect(paused.s.reasons).toContain("repmgrd is paused on pg-1: automatic failover is off until `ems-ha resume`");
    // Stop the primary's container: with 3 x 2 s of reconnect attempts repmgrd would promote pg-1 within ~15 s (7 s measured below).
    await labExec(state!, "pg-2", "docker stop --time 60 pg-2", { timeoutMs: 120_000 });
    const t0 = Date.now();
    let promoted = false;
    while (Date.now() - t0 < 25_000) {
      if ((await inRecovery("pg-1")) === false) promoted = true;
      await sleep(2000);
    }
    log(`paused: pg-1 still a standby ${((Date.now() - t0) / 1000).toFixed(0)} s after pg-2's container stopped: ${!promoted}`);
    expect(promoted).toBe(false);
    await labExec(state!, "pg-2", "docker start pg-2", { timeoutMs: 120_000 });
    for (let i = 0; i < 60 && (await inRecovery("pg-2")) !== false; i++) await sleep(2000);
    expect(await inRecovery("pg-2")).toBe(false);
    const r = await cli(["resume", "--config", config]);
    expect(r.code, r.err).toBe(0);
    const s = await healthy(120);
    expect(s.reasons).toEqual([]);
    expect(s.writablePrimaries).toEqual(["pg-2"]);
    // Resumed: the same stop now fails over to pg-1.
    await labExec(state!, "pg-2", "docker stop --time 60 pg-2", { timeoutMs: 120_000 });
    const t1 = Date.now();
    while (Date.now() - t1 < 60_000 && (await inRecovery("pg-1")) !== false) await sleep(1000);
    const failover = (Date.now() - t1) / 1000;
    log(`resumed: pg-1 writable ${failover.toFixed(1)} s after pg-2's container stopped`);
    figures.push(`after resume: automatic failover ${failover.toFixed(1)} s after the primary's container stopped`);
    expect(await inRecovery("pg-1")).toBe(false);
    await labExec(state!, "pg-2", "docker start pg-2", { timeoutMs: 120_000 });
    const back = await healthy(180);
    expect(back.reasons).toEqual([]);
    expect(back.writablePrimaries).toEqual(["pg-1"]);
  }, 600_000);

  it("a rolling change: an env change recreates every DB container one at a time, the primary's with repmgrd paused (no failover), no acknowledged row lost", async () => {
    const primary = (await healthy(60)).writablePrimaries[0]!;
    const ids = async () =>
      Object.fromEntries(
        await Promise.all(
          d.database.nodes.map(async (n) => [n.name, (await labExec(state!, n.name, `docker inspect -f '{{.Id}}' ${n.name}`)).stdout.trim()] as const),
        ),
      );
    const before = await ids();
    const prober = new DownProber(d, pw);
    prober.start();
    const changed: DeploymentInput = {
      ...input,
      database: { ...input.database, failover: { ...(input.database.failover as object), reconnectAttempts: 4 } as DeploymentInput["database"]["failover"] },
    };
    let steps: string[] = [];
    const w = await underWriter(
      "rolling change of every DB container (ssh engine)",
      async () => {
        const r = await labDeploy(state!, { log, deployment: changed });
        const sorted = [...r.apply.steps].sort((a, b) => a.startSeconds - b.startSeconds);
        steps = sorted.map((x) => `${x.address.replace(/^terraform_data\./, "").replace(/_[0-9A-F]{8}$/, "")} ${x.startSeconds}-${x.endSeconds}`);
        const containers = sorted.filter((x) => /_container_/.test(x.address));
        for (let i = 1; i < containers.length; i++) expect(containers[i]!.startSeconds).toBeGreaterThanOrEqual(containers[i - 1]!.endSeconds);
      },
      () => primary,
    );
    const { maxDown, downAt } = await prober.stop();
    log(`rolling apply steps: ${steps.join(", ")}; nodes down (in order): ${downAt.join(", ") || "none"}; at most ${maxDown} at once`);
    figures.push(`rolling change: at most ${maxDown} DB node(s) away at once (${downAt.join(", ")})`);
    const after = await ids();
    for (const n of d.database.nodes) expect(after[n.name], `${n.name} was not recreated`).not.toBe(before[n.name]);
    expect(maxDown).toBe(1);
    expect(w.acked).toBeGreaterThan(50);
    expect(w.lost).toEqual([]);
    const s = await healthy(120);
    expect(s.reasons).toEqual([]);
    // No failover: the primary stayed where it was.
    expect(s.writablePrimaries).toEqual([primary]);
    const env = (await labExec(state!, primary, `docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' ${primary}`)).stdout;
    expect(env).toContain("REPMGR_RECONNECT_ATTEMPTS=4");
  }, 900_000);
});
