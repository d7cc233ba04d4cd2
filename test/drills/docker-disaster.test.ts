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
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDockerDeployment } from "../../examples/lab-docker";
import type { Deployment } from "../../src/config/schema";
import { volumeNameOf } from "../../src/render/bitnami";
import { labCliEnv, labDeploy, labReapply, labSecrets, type ApplyResult } from "../../lab/lib/deploy";
import { sleep } from "../../lab/lib/exec";
import { FENCE_AFTER_SECONDS } from "../../src/render/native/reconcile";
import { containerPsql, waitForWitnessViews } from "../../lab/lib/docker-host";
import { startFreshLab } from "../../lab/lib/fresh-lab";
import { labExec } from "../../lab/lib/lab";
import type { LabState } from "../../lab/lib/state";
import { ensureStandinImages } from "../standins/ems-postgres-ha/build";
import { DisasterDrill, expectEmpty, restoreAndCheck, seedAndBackUp } from "../helpers/disaster";

// This file's own subnets: 10.235.100-109.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.235.${100 + i}`);

let state: LabState | undefined;
let stateDir = "";
let d: Deployment;
let stackDir = "";
const psql = (node: string, sql: string, db?: string): Promise<string> => containerPsql((h, c) => labExec(state!, h, c, { timeoutMs: 30_000 }), node, sql, db);
const x = new DisasterDrill("docker-disaster", psql, "pg-1", "pg-2");
const { cli, log, healthy, figures } = x;

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
  x.env = labCliEnv(labSecrets(state));
  x.config = join(state.stateDir, "deployment.json");
  await waitForWitnessViews((h, c) => labExec(state!, h, c, { timeoutMs: 30_000 }), d);
}, 1_500_000);

afterAll(() => x.finish(stateDir), 180_000);

describe("the whole database cluster lost, brought back from a backup", () => {
  const dbNodes = () => d.database.nodes.map((n) => n.name);
  let backupDir = "";

  it("a role owning a table in its own database, rows, and a backup", async () => {
    backupDir = await seedAndBackUp(x, x.backups);
  }, 300_000);

  it("every DB node's container and data volume gone; an apply replacing their container steps builds a new, empty cluster", async () => {
    for (const n of dbNodes()) {
      const r = await labExec(state!, n, `docker rm -f ${n} && docker volume rm ${volumeNameOf(n)}`, { timeoutMs: 120_000 });
      expect(r.code, `${n}: ${r.stderr}`).toBe(0);
    }
    const lost = await cli(["status", "--config", x.config, "--json"]);
    expect(lost.code).toBe(1);
    const steps = Object.keys(
      (JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")) as { resource: { terraform_data: object } }).resource.terraform_data,
    );
    const replace = dbNodes().map((n) => {
      const a = steps.filter((s) => s.startsWith(`${n}_container_`));
      expect(a, `the container step of ${n} among ${steps.join(", ")}`).toHaveLength(1);
      return `-replace=terraform_data.${a[0]}`;
    });
    const withDiagnostics = (apply: Promise<ApplyResult>): Promise<ApplyResult> =>
      apply.catch(async (e: Error) => {
        // what the DB hosts saw, for the failure's message
        const seen: string[] = [];
        for (const n of dbNodes()) {
          const got = await labExec(state!, n, `docker logs --tail 40 ${n} 2>&1; journalctl -u ems-ha-reconcile -n 30 --no-pager 2>&1`, { timeoutMs: 30_000 });
          seen.push(`--- ${n}:\n${got.stdout}${got.stderr}`);
        }
        throw new Error(`${e.message}\n${seen.join("\n")}`);
      });
    // The initial primary first, alone for three times as long as a fence waits (as when the other
    // hosts are slow to come back): its host's reconciliation service was armed for the lost cluster,
    // and must not fence the new one meanwhile.
    const t0 = Date.now();
    const first = await withDiagnostics(labReapply(state!, stackDir, log, [replace[0]!, `-target=${replace[0]!.slice("-replace=".length)}`]));
    expect([first.added, first.destroyed]).toEqual([1, 1]);
    await sleep(3 * FENCE_AFTER_SECONDS * 1000);
    expect(await psql("pg-1", "select pg_is_in_recovery()")).toBe("f");
    const rest = await withDiagnostics(labReapply(state!, stackDir, log, replace.slice(1)));
    figures.push(
      `applies replacing ${replace.length} container steps (pg-1 alone for ${3 * FENCE_AFTER_SECONDS} s in between): ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
    expect([rest.added, rest.destroyed]).toEqual([replace.length - 1, replace.length - 1]);
    await waitForWitnessViews((h, c) => labExec(state!, h, c, { timeoutMs: 30_000 }), d);
    const s = await healthy(240);
    expect(s.s.writablePrimaries).toEqual(["pg-1"]);
    // new and empty: the database and the role are gone
    await expectEmpty(x);
    // pg-1's reconciliation service saw a new cluster, waited for its peers instead of fencing it, and
    // armed itself for it once they answered
    const journal = await labExec(state!, "pg-1", "journalctl -u ems-ha-reconcile --no-pager -o cat", { timeoutMs: 30_000 });
    const disarmed = journal.stdout.search(/fencing disarmed: this node's data is a new cluster \(system identifier \d+, armed for \d+\)/);
    expect(disarmed, journal.stdout.slice(-3000)).toBeGreaterThan(-1);
    expect(journal.stdout.slice(disarmed)).toMatch(/fencing armed: \d of the other nodes answer/);
    expect(journal.stdout.slice(disarmed)).not.toMatch(/FENCE: this primary/);
  }, 1_200_000);

  it("ems-ha restore (its dry run first) brings the role and the databases back, the standby replays them, the cluster is healthy", async () => {
    figures.push(...(await restoreAndCheck(x, backupDir)));
  }, 600_000);

  it("no command printed a password", () => x.expectNoPasswordPrinted());
});
