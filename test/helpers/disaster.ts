/**
 * The two halves that the whole-cluster-loss drills (test/drills/docker-disaster.test.ts,
 * native-disaster.test.ts) share around their own way of losing the cluster: before it, a role that
 * owns a table in a database of its own, rows and a checked backup; after the cluster is built anew,
 * `ems-ha restore` (its dry run first) with exactly that role created, the rows on the primary and
 * the standby, and the cluster healthy.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { labDown } from "../../lab/lib/lab";
import { REPO_ROOT } from "../../lab/lib/paths";
import { runCliCaptured, type CliRun } from "./cli";
import { statusUntilHealthy, type StatusReading } from "./status-poll";

/**
 * A drill's side of the CLI: each run's output kept (to check that none printed a password), the
 * figures it reports, its log prefix, and the backups' directory.
 */
export class DisasterDrill {
  readonly outputs: string[] = [];
  readonly figures: string[] = [];
  readonly backups: string;
  /** Set once the lab is deployed. */
  env: NodeJS.ProcessEnv = {};
  config = "";

  constructor(
    readonly name: string,
    /** One value of a query as postgres on a DB node. */
    readonly psql: (node: string, sql: string, db?: string) => Promise<string>,
    /** The initial primary, which a new cluster is built around, and a data node that follows it. */
    readonly primary: string,
    readonly standby: string,
  ) {
    this.backups = mkdtempSync(join(tmpdir(), `ems-ha-${name}-`));
  }

  readonly log = (m: string): void => console.log(`[${this.name}] ${m}`);

  readonly cli = async (argv: string[]): Promise<CliRun> => {
    const r = await runCliCaptured(argv, REPO_ROOT, this.env);
    this.outputs.push(r.out, r.err);
    return r;
  };

  /** Status until healthy (bounded). */
  readonly healthy = (seconds: number): Promise<StatusReading> =>
    statusUntilHealthy(() => this.cli(["status", "--config", this.config, "--json"]), seconds, 3000);

  /** For afterAll: the figures printed, the backups removed, the lab in `stateDir` (if any) taken down. */
  async finish(stateDir: string): Promise<void> {
    if (this.figures.length > 0) console.log(`${this.name} figures:\n${this.figures.join("\n")}`);
    rmSync(this.backups, { recursive: true, force: true });
    if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log: this.log });
  }

  expectNoPasswordPrinted(): void {
    const all = this.outputs.join("\n");
    for (const v of [this.env.EMS_HA_DB_PASSWORD, this.env.EMS_HA_REPMGR_PASSWORD].filter((x): x is string => !!x)) expect(all).not.toContain(v);
  }
}

/** The parts of a drill the two halves use. */
export type DisasterLab = Pick<DisasterDrill, "cli" | "config" | "psql" | "primary" | "standby" | "healthy">;

export const ROLE = "inventory_owner";
const DB = "inventory";
const ROWS = 1000;

/** Healthy, then the role, its database and rows, `ems-ha backup` into `out` and `check-backups`. Returns the backup's directory. */
export async function seedAndBackUp(lab: DisasterLab, out: string): Promise<string> {
  expect((await lab.healthy(120)).s.reasons).toEqual([]);
  await lab.psql(lab.primary, `create role ${ROLE} nologin`);
  await lab.psql(lab.primary, `create database ${DB}`);
  await lab.psql(
    lab.primary,
    `create table items (id int primary key); alter table items owner to ${ROLE}; insert into items select generate_series(1, ${ROWS})`,
    DB,
  );
  const b = await lab.cli(["backup", "--config", lab.config, "--out", out, "--json"]);
  expect(b.code, b.err).toBe(0);
  const c = await lab.cli(["check-backups", "--config", lab.config, "--dir", out, "--max-age", "1"]);
  expect(c.code, c.err).toBe(0);
  return (JSON.parse(b.out) as { dir: string }).dir;
}

/** On the new, empty cluster: neither the database nor the role. */
export async function expectEmpty(lab: DisasterLab): Promise<void> {
  expect(await lab.psql(lab.primary, `select count(*) from pg_database where datname = '${DB}'`)).toBe("0");
  expect(await lab.psql(lab.primary, `select count(*) from pg_roles where rolname = '${ROLE}'`)).toBe("0");
}

interface RestoreJson {
  readonly dryRun?: boolean;
  readonly node: string;
  readonly createdRoles: string[];
  readonly restored: Array<{ database: string; keptAs?: string }>;
  readonly notReplayed: string[];
}

/** The dry run, then `ems-ha restore` of `backupDir`, and what it must have done. Returns figures to report. */
export async function restoreAndCheck(lab: DisasterLab, backupDir: string): Promise<string[]> {
  const dry = await lab.cli(["restore", "--config", lab.config, "--from", backupDir, "--dry-run", "--json"]);
  expect(dry.code, dry.err).toBe(0);
  const plan = JSON.parse(dry.out) as RestoreJson;
  expect([plan.dryRun, plan.node, plan.createdRoles]).toEqual([true, lab.primary, [ROLE]]);
  // nothing exists to be kept, and the dry run changed nothing
  expect(plan.restored.filter((x) => x.keptAs !== undefined)).toEqual([]);
  await expectEmpty(lab);

  const t0 = Date.now();
  const r = await lab.cli(["restore", "--config", lab.config, "--from", backupDir, "--json"]);
  const seconds = (Date.now() - t0) / 1000;
  expect(r.code, r.err).toBe(0);
  const res = JSON.parse(r.out) as RestoreJson;
  expect(res.dryRun).toBeUndefined();
  expect(res.node).toBe(lab.primary);
  // the new cluster has the deployment's own roles: only the one created since is missing
  expect(res.createdRoles).toEqual([ROLE]);
  expect(res.restored.map((x) => x.database)).toEqual(plan.restored.map((x) => x.database));
  expect(res.restored.map((x) => x.database)).toContain(DB);
  expect(res.restored.filter((x) => x.keptAs !== undefined)).toEqual([]);
  expect(res.notReplayed).toEqual([]);
  expect(await lab.psql(lab.primary, "select tableowner || ' ' || (select count(*) from items) from pg_tables where tablename = 'items'", DB)).toBe(
    `${ROLE} ${ROWS}`,
  );
  expect(await lab.psql(lab.standby, "select count(*) from items", DB)).toBe(String(ROWS));
  const s = await lab.healthy(120);
  expect(s.s.reasons).toEqual([]);
  expect(s.code).toBe(0);
  return [`restore: ${seconds.toFixed(1)} s`, `restored ${res.restored.map((x) => x.database).join(", ")}; created role(s) ${res.createdRoles.join(", ")}`];
}
