/**
 * The standalone-db stack on real hosts: the stack sets up PostgreSQL on one lab host (mode
 * "managed"), the EMS installer stand-in on two EMS hosts logs in to it with the password from
 * the sensitive variable, only the EMS hosts are admitted, and a re-apply changes nothing.
 *
 * Needs root, systemd-nspawn, debootstrap, iproute2, openssh-client and terraform; FAILS naming
 * what is missing, never skipped.
 */
import { existsSync } from "node:fs";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labStandaloneDeployment } from "../../examples/lab";
import type { DeploymentInput } from "../../src/config/schema";
import { labCliEnv, labDeploy, labReapply, labSecrets, type DeployResult } from "../../lab/lib/deploy";
import { parseDeployment } from "../../src/config/parse";
import { gatherStatus } from "../../src/ops/status";
import { bootFreshLab, chooseFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labExec } from "../../lab/lib/lab";
import type { LabState } from "../../lab/lib/state";

// Apart from the default lab, lab-hosts (200-219) and lab-e2e (220-239).
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.231.${250 + i}`);

let state: LabState | undefined;
let stateDir = "";
let input: DeploymentInput;
let deployed: DeployResult | undefined;
const log = (m: string): void => console.log(`[lab-standalone] ${m}`);

beforeAll(async () => {
  const options = { what: "the standalone lab test", candidates: CANDIDATES, deployment: labStandaloneDeployment, needTerraform: true, log };
  const chosen = chooseFreshLab(options);
  stateDir = chosen.stateDir;
  const lab = await bootFreshLab(options, chosen);
  state = lab.state;
  input = lab.input;
}, 900_000);

afterAll(async () => {
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("standalone-db on lab hosts", () => {
  it("sets up the server, then installs the EMS primary and secondary against it", async () => {
    deployed = await labDeploy(state!, { deployment: input, log });
    expect(deployed.apply.added).toBe(4);
    const order = [...deployed.apply.steps].sort((a, b) => a.startSeconds - b.startSeconds).map((s) => s.address.replace(/_[0-9A-F]{8}$/, ""));
    expect(order).toEqual(["terraform_data.database_setup", "terraform_data.db-reachable", "terraform_data.ems-1_install", "terraform_data.ems-2_install"]);
    // The stand-in, as the EMS primary, logged in with the deployment's password and created its database.
    const dbs = await labExec(state!, "emsdb-1", `cd /tmp && sudo -u postgres psql -tAc "select datname from pg_database where datname = 'fcm'"`);
    expect(dbs.stdout.trim()).toBe("fcm");
    const recorded = await labExec(state!, "ems-2", "cat /var/lib/ems-standin/install.json");
    expect(recorded.stdout).toContain('"role": "secondary"');
    expect(recorded.stdout).not.toContain(labSecrets(state!).db_password);
  }, 900_000);

  it("ems-ha status reads the server's data filesystem (Debian's postgresql-15 cluster), over SSH (pg_hba admits only the EMS hosts: SQL is not needed for it)", async () => {
    const d = parseDeployment(input);
    const s = await gatherStatus(d, { env: labCliEnv(labSecrets(state!)) });
    expect((s.disks ?? []).map((u) => [u.node, u.path])).toEqual([["emsdb-1", "/var/lib/postgresql/15/main"]]);
    const u = s.disks![0]!;
    expect(u.sizeKb > 0 && u.availableKb <= u.sizeKb && u.usedPercent >= 0 && u.usedPercent <= 100, JSON.stringify(u)).toBe(true);
  }, 120_000);

  it("admits the EMS hosts only: a login from elsewhere is refused by pg_hba", async () => {
    const c = new Client({
      host: state!.hosts.find((h) => h.name === "emsdb-1")!.address,
      port: 5432,
      user: "postgres",
      password: labSecrets(state!).db_password,
      database: "postgres",
      connectionTimeoutMillis: 5000,
    });
    c.on("error", () => undefined);
    await expect(c.connect()).rejects.toThrow(/no pg_hba\.conf entry/);
    await c.end().catch(() => undefined);
  }, 60_000);

  it("re-applies with no changes", async () => {
    const r = await labReapply(state!, deployed!.stackDir, log);
    expect([r.added, r.changed, r.destroyed]).toEqual([0, 0, 0]);
  }, 300_000);
});
