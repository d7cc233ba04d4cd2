/**
 * A password rotation on the Docker lab (single-region, ssh engine, the ems-postgres-ha STAND-IN
 * image; examples/lab-docker.ts applied with real Terraform), as docs/operations.md ("Rotating the
 * passwords") describes it: `ems-ha pause`, `ems-ha set-passwords`, the new
 * TF_VAR_db_password / TF_VAR_repmgr_password and `terraform apply -replace=` of each container
 * step (the witness, the standby, the primary last), the EMS installs run again with the new DB
 * password (the primary EMS first), then `ems-ha resume`. Afterwards the cluster is healthy with the new passwords only, a row written on
 * the primary reaches the standby, and nothing was failed over on the way.
 *
 * The stand-in, like the image it stands for, sets passwords only when it creates a new cluster
 * (test/standins/ems-postgres-ha/libstandin.sh): that is the behaviour this drill depends on.
 *
 * Needs root, systemd-nspawn, debootstrap, iproute2, openssh-client and terraform. On a machine
 * without them it FAILS naming what is missing; it is never skipped.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDockerDeployment } from "../../examples/lab-docker";
import type { Deployment, DeploymentInput } from "../../src/config/schema";
import type { ClusterStatus } from "../../src/ops/status";
import { labCliEnv, labDeploy, labReapply, labSecrets, type LabSecrets } from "../../lab/lib/deploy";
import { waitForWitnessViews } from "../../lab/lib/docker-host";
import { dbQuery } from "../../lab/lib/db-watch";
import { sleep } from "../../lab/lib/exec";
import { startFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labExec } from "../../lab/lib/lab";
import { REPO_ROOT } from "../../lab/lib/paths";
import type { LabState } from "../../lab/lib/state";
import { ensureStandinImages } from "../standins/ems-postgres-ha/build";
import { standinInstall } from "../standins/installer-record";
import { runCliCaptured, type CliRun } from "../helpers/cli";
import { statusUntilHealthy, type StatusReading } from "../helpers/status-poll";

// This file's own subnets: 10.235.80-89.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.235.${80 + i}`);

let state: LabState | undefined;
let stateDir = "";
let input: DeploymentInput;
let d: Deployment;
let config = "";
let before: LabSecrets;
let stackDirOfStack = "";
const outputs: string[] = [];
const figures: string[] = [];
const log = (m: string): void => console.log(`[docker-rotation] ${m}`);

async function cli(argv: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const r = await runCliCaptured(argv, REPO_ROOT, env);
  outputs.push(r.out, r.err);
  return r;
}

/** Status with the given passwords, until healthy (bounded). */
const healthy = (env: NodeJS.ProcessEnv, seconds: number): Promise<StatusReading> =>
  statusUntilHealthy(() => cli(["status", "--config", config, "--json"], env), seconds);

beforeAll(async () => {
  const image = (await ensureStandinImages({ log })).find((i) => i.tag === "7.4.4")!;
  const lab = await startFreshLab(
    { what: "the Docker password rotation drill", candidates: CANDIDATES, deployment: (p: string) => labDockerDeployment(p, image), needTerraform: true, log },
    (dir) => (stateDir = dir),
  );
  ({ state, input, deployment: d } = lab);
  const deployed = await labDeploy(state, { log, deployment: input });
  log(`apply ${deployed.apply.wallSeconds} s`);
  stackDirOfStack = deployed.stackDir;
  before = labSecrets(state);
  config = join(state.stateDir, "deployment.json");
  await waitForWitnessViews((h, c) => labExec(state!, h, c, { timeoutMs: 30_000 }), d);
}, 1_500_000);

afterAll(async () => {
  if (figures.length > 0) console.log(`docker-rotation figures:\n${figures.join("\n")}`);
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("rotating the passwords of a Docker deployment", () => {
  it("pause, set-passwords, an apply with the new TF_VARs, resume: healthy with the new passwords, nothing failed over, a new row replicated", async () => {
    const after: LabSecrets = { ...before, db_password: `Db2${before.db_password.slice(3)}x`, repmgr_password: `Rm2${before.repmgr_password.slice(3)}x` };
    const oldEnv = labCliEnv(before);
    const newEnv = labCliEnv(after);
    expect((await healthy(oldEnv, 90)).s.reasons).toEqual([]);
    const paused = await cli(["pause", "--config", config], oldEnv);
    expect(paused.code, `${paused.out}\n${paused.err}`).toBe(0);
    const t0 = Date.now();
    const set = await cli(["set-passwords", "--config", config], {
      ...oldEnv,
      EMS_HA_NEW_DB_PASSWORD: after.db_password,
      EMS_HA_NEW_REPMGR_PASSWORD: after.repmgr_password,
    });
    expect(set.code, set.err).toBe(0);
    expect(set.out).toMatch(/^new passwords set: postgres on pg-1, repmgr on pg-1, postgres on pgw-1, repmgr on pgw-1; every node that answers accepts them/);
    figures.push(`set-passwords: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // the lab's apply reads its TF_VARs from the state's secrets
    writeFileSync(join(state!.stateDir, "secrets.json"), JSON.stringify(after), { mode: 0o600 });
    // with the ssh engine no password is in the steps' triggers: an apply alone changes nothing, and
    // each container step is replaced, one at a time, the witness and the standby before the primary
    const plain = await labReapply(state!, stackDirOfStack, log);
    expect([plain.added, plain.changed, plain.destroyed]).toEqual([0, 0, 0]);
    const steps = Object.keys(
      (JSON.parse(readFileSync(join(stackDirOfStack, "cdk.tf.json"), "utf8")) as { resource: { terraform_data: object } }).resource.terraform_data,
    );
    for (const node of ["pgw-1", "pg-2", "pg-1"]) {
      const address = steps.filter((a) => a.startsWith(`${node}_container_`));
      expect(address, `the container step of ${node} among ${steps.join(", ")}`).toHaveLength(1);
      const t1 = Date.now();
      const r = await labReapply(state!, stackDirOfStack, log, [`-replace=terraform_data.${address[0]}`]);
      figures.push(`${node}'s container replaced with the new passwords: ${((Date.now() - t1) / 1000).toFixed(0)} s`);
      expect([r.added, r.destroyed]).toEqual([1, 1]);
    }
    // then the EMS installs (the primary EMS first), which still hold the old DB password: each
    // replaced install runs the installer with the new one (the installer STAND-IN logs in to the
    // DB with psql, so an install given the old password fails the apply)
    const installs = Object.fromEntries(await Promise.all(["ems-1", "ems-2"].map(async (h) => [h, await standinInstall(state!, h)] as const)));
    for (const ems of ["ems-1", "ems-2"]) {
      const address = steps.filter((a) => a.startsWith(`${ems}_install_`));
      expect(address, `the install step of ${ems} among ${steps.join(", ")}`).toHaveLength(1);
      const t1 = Date.now();
      const r = await labReapply(state!, stackDirOfStack, log, [`-replace=terraform_data.${address[0]}`]);
      figures.push(`${ems}'s EMS install run again with the new DB password: ${((Date.now() - t1) / 1000).toFixed(0)} s`);
      expect([r.added, r.destroyed]).toEqual([1, 1]);
      const now = await standinInstall(state!, ems);
      expect(now.installed_at > installs[ems]!.installed_at, `${ems} installed at ${installs[ems]!.installed_at}, then at ${now.installed_at}`).toBe(true);
      expect(now.db_primary_seen).toBe(d.database.nodes.find((n) => n.name === "pg-1")!.address);
      expect(now.db_pass).toBe("********");
    }
    const resumed = await cli(["resume", "--config", config], newEnv);
    expect(resumed.code, resumed.err).toBe(0);
    const s = await healthy(newEnv, 180);
    expect(s.s.reasons).toEqual([]);
    expect(s.code).toBe(0);
    // nobody was failed over: pg-1 is still the primary, pg-2 streams from it
    expect(s.s.writablePrimaries).toEqual(["pg-1"]);
    expect(s.s.dbNodes.find((n) => n.name === "pg-2")?.streaming).toBe(true);
    // the old password is refused everywhere, the new one works and a write replicates
    const oldStatus = await cli(["status", "--config", config, "--json"], oldEnv);
    expect(oldStatus.code).toBe(1);
    expect((JSON.parse(oldStatus.out) as ClusterStatus).dbNodes.filter((n) => n.reachable).map((n) => n.name)).toEqual([]);
    await dbQuery(d, "pg-1", after.db_password, "create table if not exists rotation_check (x int); insert into rotation_check values (42)");
    let seen: Array<{ x: number }> = [];
    for (let i = 0; i < 30 && seen.length === 0; i++) {
      seen = await dbQuery<{ x: number }>(d, "pg-2", after.db_password, "select x from rotation_check").catch(() => []);
      if (seen.length === 0) await sleep(1000);
    }
    expect(seen.map((row) => Number(row.x))).toEqual([42]);
  }, 1_200_000);

  it("no command printed a password, old or new", () => {
    const all = outputs.join("\n");
    for (const v of [before.db_password, before.repmgr_password]) expect(all).not.toContain(v);
    expect(all).not.toMatch(/Db2\w+x|Rm2\w+x/);
  });
});
