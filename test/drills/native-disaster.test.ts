/**
 * The whole database cluster lost, and brought back from a backup, on the native lab
 * (native-single-region, examples/lab.ts applied with real Terraform), as docs/operations.md
 * ("The whole cluster lost") describes it for the native topologies:
 *
 * 1. a role that owns a table in a database of its own, rows, and `ems-ha backup`;
 * 2. every DB host reinstalled at its address (the lab discards everything written on it since it
 *    was booted from the base image: a new SSH host key, an empty PostgreSQL cluster 15/main as
 *    Debian's package leaves it, no repmgr, no ems-ha files);
 * 3. `terraform apply -replace=` of every DB node's prepare, setup and SSH key steps: the initial
 *    primary, finding no other data node, initialises a new cluster, the standby clones it, the
 *    witness registers, the postgres SSH keys are exchanged again;
 * 4. `ems-ha restore`: the role created from the backup's globals.sql, the databases restored, the
 *    standby replays them; the cluster is healthy and can switch over (which needs those keys).
 *
 * Needs root, systemd-nspawn, debootstrap, iproute2, openssh-client and terraform. On a machine
 * without them it FAILS naming what is missing; it is never skipped.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDeployment } from "../../examples/lab";
import type { Deployment } from "../../src/config/schema";
import { labCliEnv, labDeploy, labReapply, labSecrets, terraformEnv } from "../../lab/lib/deploy";
import { startFreshLab } from "../../lab/lib/fresh-lab";
import { labExec, rebuildHost } from "../../lab/lib/lab";
import { REPO_ROOT } from "../../lab/lib/paths";
import type { LabState } from "../../lab/lib/state";
import { DisasterDrill, expectEmpty, restoreAndCheck, seedAndBackUp } from "../helpers/disaster";

// This file's own subnets: 10.235.110-119.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.235.${110 + i}`);

let state: LabState | undefined;
let stateDir = "";
let d: Deployment;
let stackDir = "";

/** psql as postgres on a lab host (by name), one value; throws with the error. */
async function psql(host: string, sql: string, db = "postgres"): Promise<string> {
  const r = await labExec(state!, host, `runuser -u postgres -- psql -X -qAt -v ON_ERROR_STOP=1 -d ${db}`, { timeoutMs: 30_000, input: sql });
  if (r.code !== 0) throw new Error(`${host}: ${sql}: ${r.stderr}`);
  return r.stdout.trim();
}
const x = new DisasterDrill("native-disaster", psql, "dbnode-1", "dbnode-2");
const { cli, log, healthy, figures } = x;

beforeAll(async () => {
  const lab = await startFreshLab(
    { what: "the native disaster-recovery drill", candidates: CANDIDATES, deployment: (p: string) => labDeployment(p), needTerraform: true, log },
    (dir) => (stateDir = dir),
  );
  ({ state, deployment: d } = lab);
  const deployed = await labDeploy(state, { log, deployment: lab.input });
  log(`apply ${deployed.apply.wallSeconds} s`);
  stackDir = deployed.stackDir;
  x.env = labCliEnv(labSecrets(state));
  x.config = join(state.stateDir, "deployment.json");
}, 1_500_000);

afterAll(() => x.finish(stateDir), 180_000);

describe("the whole native database cluster lost, brought back from a backup", () => {
  const dbNodes = () => d.database.nodes.map((n) => n.name);
  let backupDir = "";

  it("a role owning a table in its own database, rows, and a backup", async () => {
    backupDir = await seedAndBackUp(x, x.backups);
  }, 300_000);

  it("every DB host reinstalled; an apply replacing their prepare, setup and SSH key steps builds a new, empty cluster", async () => {
    const t0 = Date.now();
    await Promise.all(dbNodes().map((n) => rebuildHost(state!, n, { port: d.database.port, log })));
    figures.push(`${dbNodes().length} DB hosts reinstalled: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    // nothing of the old cluster is left: no repmgr, no ems-ha state
    for (const n of dbNodes()) {
      const r = await labExec(state!, n, "test -e /etc/repmgr.conf || test -e /var/lib/ems-ha; echo $?");
      expect(r.stdout.trim(), n).toBe("1");
    }
    const lost = await cli(["status", "--config", x.config, "--json"]);
    expect(lost.code).toBe(1);

    // The replace list as docs/operations.md builds it: its own command, run on the lab's state.
    const listCommand = readFileSync(join(REPO_ROOT, "docs/operations.md"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.startsWith("terraform state list | grep -E") && l.includes("prepare"));
    expect(listCommand, "docs/operations.md's native replace list").toBeDefined();
    const listed = spawnSync("sh", ["-c", listCommand!], {
      cwd: stackDir,
      env: terraformEnv(state!.stateDir, labSecrets(state!)),
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(listed.status, listed.stderr).toBe(0);
    // the docs' next line, `terraform apply $(cat replace.txt)`, is labReapply with these arguments
    const replace = readFileSync(join(stackDir, "replace.txt"), "utf8")
      .split("\n")
      .filter((l) => l.trim());
    // prepare and setup of each DB node, one SSH key step per data node; nothing of the EMS nodes
    const dataNodes = d.database.nodes.filter((n) => n.role === "data").map((n) => n.name);
    expect(replace.map((a) => a.replace(/^-replace=terraform_data\.|_[0-9A-F]{8}$/g, "")).sort()).toEqual(
      [...dbNodes().flatMap((n) => [`${n}_prepare`, `${n}_setup`]), ...dataNodes.map((n) => `ssh-keys_${n}`)].sort(),
    );

    const t1 = Date.now();
    const r = await labReapply(state!, stackDir, log, replace);
    figures.push(`apply replacing ${replace.length} steps: ${((Date.now() - t1) / 1000).toFixed(0)} s`);
    expect([r.added, r.changed, r.destroyed]).toEqual([replace.length, 0, replace.length]);
    const s = await healthy(240);
    expect(s.s.reasons).toEqual([]);
    expect(s.s.writablePrimaries).toEqual(["dbnode-1"]);
    // new and empty: the database and the role are gone
    await expectEmpty(x);
  }, 1_500_000);

  it("ems-ha restore (its dry run first) brings the role and the databases back, the standby replays them, the cluster is healthy", async () => {
    figures.push(...(await restoreAndCheck(x, backupDir)));
  }, 600_000);

  it("the rebuilt cluster switches over and back (repmgr's SSH between the data nodes works again)", async () => {
    for (const to of ["dbnode-2", "dbnode-1"]) {
      const t0 = Date.now();
      const r = await cli(["switchover", "--to", to, "--config", x.config]);
      figures.push(`switchover to ${to}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      expect(r.code, `${r.out}\n${r.err}`).toBe(0);
      const s = await healthy(120);
      expect(s.s.writablePrimaries).toEqual([to]);
    }
    expect(await psql("dbnode-2", "select count(*) from items", "inventory")).toBe("1000");
  }, 600_000);

  it("no command printed a password", () => x.expectNoPasswordPrinted());
});
