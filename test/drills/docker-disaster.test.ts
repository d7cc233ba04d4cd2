/**
 * The whole database cluster lost, and brought back from a backup, on the Docker lab (single-region,
 * ssh engine, the ems-postgres-ha STAND-IN image; examples/lab-docker.ts applied with real
 * Terraform), as docs/operations.md ("The whole cluster lost") describes it:
 *
 * 1. a role that owns a table in a database of its own, rows, and `ems-ha backup`;
 * 2. every DB node's container and data volume removed (the state of new, empty DB hosts);
 * 3. `terraform apply -replace=` of every DB node's container step: the initial primary, finding no
 *    other data node, initialises a new cluster, the standby clones it, the witness registers;
 * 4. `ems-ha restore`: the role created from the backup's globals.sql, the databases restored,
 *    the standby replays it; the cluster is healthy.
 *
 * Needs root, systemd-nspawn, debootstrap, iproute2, openssh-client and terraform. On a machine
 * without them it FAILS naming what is missing; it is never skipped.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDockerDeployment } from "../../examples/lab-docker";
import type { Deployment } from "../../src/config/schema";
import { volumeNameOf } from "../../src/render/bitnami";
import type { ClusterStatus } from "../../src/ops/status";
import { labCliEnv, labDeploy, labReapply, labSecrets } from "../../lab/lib/deploy";
import { containerPsql, waitForWitnessViews } from "../../lab/lib/docker-host";
import { sleep } from "../../lab/lib/exec";
import { startFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labExec } from "../../lab/lib/lab";
import { REPO_ROOT } from "../../lab/lib/paths";
import type { LabState } from "../../lab/lib/state";
import { ensureStandinImages } from "../standins/ems-postgres-ha/build";
import { runCliCaptured, type CliRun } from "../helpers/cli";

// This file's own subnets: 10.235.100-109.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.235.${100 + i}`);

let state: LabState | undefined;
let stateDir = "";
let d: Deployment;
let config = "";
let stackDir = "";
let env: NodeJS.ProcessEnv = {};
const outputs: string[] = [];
const figures: string[] = [];
const backups = mkdtempSync(join(tmpdir(), "ems-ha-disaster-"));
const log = (m: string): void => console.log(`[docker-disaster] ${m}`);

async function cli(argv: string[]): Promise<CliRun> {
  const r = await runCliCaptured(argv, REPO_ROOT, env);
  outputs.push(r.out, r.err);
  return r;
}

const psql = (node: string, sql: string, db?: string): Promise<string> => containerPsql((h, c) => labExec(state!, h, c, { timeoutMs: 30_000 }), node, sql, db);

/** Status until healthy (bounded). */
async function healthy(seconds: number): Promise<{ code: number; s: ClusterStatus }> {
  const once = async () => {
    const r = await cli(["status", "--config", config, "--json"]);
    return { code: r.code, s: JSON.parse(r.out) as ClusterStatus };
  };
  let last = await once();
  for (let i = 0; i < seconds / 3 && last.code !== 0; i++) {
    await sleep(3000);
    last = await once();
  }
  return last;
}

beforeAll(async () => {
  const image = (await ensureStandinImages({ log })).find((i) => i.tag === "7.4.4")!;
  const lab = await startFreshLab(
    { what: "the Docker disaster-recovery drill", candidates: CANDIDATES, deployment: (p: string) => labDockerDeployment(p, image), needTerraform: true, log },
    (dir) => (stateDir = dir),
  );
  ({ state, deployment: d } = lab);
  const deployed = await labDeploy(state, { log, deployment: lab.input });
  log(`apply ${deployed.apply.wallSeconds} s`);
  stackDir = deployed.stackDir;
  env = labCliEnv(labSecrets(state));
  config = join(state.stateDir, "deployment.json");
  await waitForWitnessViews((h, c) => labExec(state!, h, c, { timeoutMs: 30_000 }), d);
}, 1_500_000);

afterAll(async () => {
  if (figures.length > 0) console.log(`docker-disaster figures:\n${figures.join("\n")}`);
  rmSync(backups, { recursive: true, force: true });
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("the whole database cluster lost, brought back from a backup", () => {
  const dbNodes = () => d.database.nodes.map((n) => n.name);
  let backupDir = "";

  it("a role owning a table in its own database, rows, and a backup", async () => {
    expect((await healthy(120)).s.reasons).toEqual([]);
    await psql("pg-1", "create role inventory_owner nologin");
    await psql("pg-1", "create database inventory");
    await psql(
      "pg-1",
      "create table items (id int primary key); alter table items owner to inventory_owner; insert into items select generate_series(1, 1000)",
      "inventory",
    );
    const b = await cli(["backup", "--config", config, "--out", backups, "--json"]);
    expect(b.code, b.err).toBe(0);
    backupDir = (JSON.parse(b.out) as { dir: string }).dir;
    const c = await cli(["check-backups", "--config", config, "--dir", backups, "--max-age", "1"]);
    expect(c.code, c.err).toBe(0);
  }, 300_000);

  it("every DB node's container and data volume gone; an apply replacing their container steps builds a new, empty cluster", async () => {
    for (const n of dbNodes()) {
      const r = await labExec(state!, n, `docker rm -f ${n} && docker volume rm ${volumeNameOf(n)}`, { timeoutMs: 120_000 });
      expect(r.code, `${n}: ${r.stderr}`).toBe(0);
    }
    const lost = await cli(["status", "--config", config, "--json"]);
    expect(lost.code).toBe(1);
    const steps = Object.keys(
      (JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")) as { resource: { terraform_data: object } }).resource.terraform_data,
    );
    const replace = dbNodes().map((n) => {
      const a = steps.filter((s) => s.startsWith(`${n}_container_`));
      expect(a, `the container step of ${n} among ${steps.join(", ")}`).toHaveLength(1);
      return `-replace=terraform_data.${a[0]}`;
    });
    const t0 = Date.now();
    const r = await labReapply(state!, stackDir, log, replace);
    figures.push(`apply replacing ${replace.length} container steps: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    expect([r.added, r.destroyed]).toEqual([replace.length, replace.length]);
    await waitForWitnessViews((h, c) => labExec(state!, h, c, { timeoutMs: 30_000 }), d);
    const s = await healthy(240);
    expect(s.s.writablePrimaries).toEqual(["pg-1"]);
    // new and empty: the database and the role are gone
    expect(await psql("pg-1", "select count(*) from pg_database where datname = 'inventory'")).toBe("0");
    expect(await psql("pg-1", "select count(*) from pg_roles where rolname = 'inventory_owner'")).toBe("0");
  }, 1_200_000);

  it("ems-ha restore brings the role and the databases back, the standby replays them, the cluster is healthy", async () => {
    const t0 = Date.now();
    const r = await cli(["restore", "--config", config, "--from", backupDir, "--json"]);
    figures.push(`restore: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out) as { node: string; createdRoles: string[]; restored: Array<{ database: string; keptAs?: string }>; notReplayed: string[] };
    expect(res.node).toBe("pg-1");
    figures.push(`restored ${res.restored.map((x) => x.database).join(", ")}; created role(s) ${res.createdRoles.join(", ")}`);
    // the new cluster has the deployment's own roles: only the one created since is missing
    expect(res.createdRoles).toEqual(["inventory_owner"]);
    expect(res.restored.map((x) => x.database)).toContain("inventory");
    // nothing existed to be replaced
    expect(res.restored.filter((x) => x.keptAs !== undefined)).toEqual([]);
    expect(res.notReplayed).toEqual([]);
    expect(await psql("pg-1", "select tableowner || ' ' || (select count(*) from items) from pg_tables where tablename = 'items'", "inventory")).toBe(
      "inventory_owner 1000",
    );
    expect(await psql("pg-2", "select count(*) from items", "inventory")).toBe("1000");
    const s = await healthy(120);
    expect(s.s.reasons).toEqual([]);
    expect(s.code).toBe(0);
  }, 600_000);

  it("no command printed a password", () => {
    const all = outputs.join("\n");
    for (const v of [env.EMS_HA_DB_PASSWORD, env.EMS_HA_REPMGR_PASSWORD].filter((x): x is string => !!x)) expect(all).not.toContain(v);
  });
});
