/**
 * The guide's upgrade to 7.4.4 for real: a single-region cluster (pg-1, pg-2, pgw-1) running the
 * "old" ems-postgres-ha STAND-IN image (7.4.3; not the vendor image) is deployed with real
 * Terraform, then the upgrade-7-4-4 stack moves it to the "new" stand-in (7.4.4) as pgn-1, pgn-2,
 * pgnw-1, each on its own old volume. The first upgrade apply is interrupted (the new tarball missing on
 * pgn-2, so its load step fails after every old container stopped); with the tarball back, a second
 * apply completes, redoing only the failed step and what follows. Afterwards: one primary (pgn-1), pgn-2 streaming with its
 * data kept (no re-clone), the witness registered under its new name, a row written before the
 * upgrade on both data nodes, the new image everywhere, the old containers stopped without a restart
 * policy (kept for a rollback), each host's reconciliation service stopped during the upgrade and
 * running for the new container after it, `ems-ha status` healthy, and a re-apply changes nothing.
 *
 * Needs root, systemd-nspawn, debootstrap, iproute2, openssh-client and terraform. On a machine
 * without them it FAILS naming what is missing; it is never skipped.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDockerDeployment, labImageSection } from "../../examples/lab-docker";
import { defineDeployment, parseDeployment } from "../../src/config/parse";
import type { Deployment, DeploymentInput } from "../../src/config/schema";
import { gatherStatus } from "../../src/ops/status";
import { ensureStandinImages, type StandinImage } from "../standins/ems-postgres-ha/build";
import { labCliEnv, labDeploy, labReapply, labSecrets, type DeployResult } from "../../lab/lib/deploy";
import { bootFreshLab, chooseFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labExec } from "../../lab/lib/lab";
import type { LabState } from "../../lab/lib/state";

// Apart from the other lab tests (10.231.160-189, 200-259) and the default labs.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.231.${190 + i}`);

/** The cluster after the upgrade: the guide's new names on the same hosts, the new image. */
function upgradeDeployment(prefix: string, before: DeploymentInput, image: StandinImage): DeploymentInput {
  const b = parseDeployment(before);
  const ssh = b.database.nodes[0]!.ssh;
  return defineDeployment({
    topology: "upgrade-7-4-4",
    name: "ems-lab-upgrade",
    emsNodes: before.emsNodes,
    database: {
      port: 5432,
      user: "postgres",
      image: labImageSection(image),
      failover: before.database.failover,
      nodes: [
        { name: "pgn-1", address: `${prefix}.11`, role: "data", priority: 100, ramGb: 2, cpus: 2, ssh },
        { name: "pgn-2", address: `${prefix}.12`, role: "data", priority: 100, ramGb: 2, cpus: 2, ssh },
        { name: "pgnw-1", address: `${prefix}.13`, role: "witness", ramGb: 1, cpus: 1, ssh },
      ],
    },
    upgrade: {
      previous: [
        { node: "pgn-1", container: "pg-1" },
        { node: "pgn-2", container: "pg-2" },
        { node: "pgnw-1", container: "pgw-1" },
      ],
    },
    installer: before.installer,
    ems: before.ems,
  });
}

let state: LabState | undefined;
let stateDir = "";
let before: DeploymentInput;
let after: DeploymentInput;
let d: Deployment;
let upgraded: DeployResult | undefined;
let newImage: StandinImage;
const log = (m: string): void => console.log(`[docker-upgrade] ${m}`);

async function sh(host: string, command: string): Promise<string> {
  const r = await labExec(state!, host, command, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${host}: '${command}' exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

const psql = (node: string, sql: string): string =>
  `docker exec ${node} bash -c 'PGPASSWORD="$POSTGRESQL_PASSWORD" psql -h 127.0.0.1 -U postgres -d postgres -XtAq -v ON_ERROR_STOP=1 -c "$1"' _ "${sql}"`;

beforeAll(async () => {
  const images = await ensureStandinImages({ log });
  const oldImage = images.find((i) => i.tag === "7.4.3")!;
  newImage = images.find((i) => i.tag === "7.4.4")!;
  const options = {
    what: "the Docker upgrade lab test",
    candidates: CANDIDATES,
    // The hosts are those of the cluster after the upgrade; `lab up` places both image tarballs.
    deployment: (p: string) => upgradeDeployment(p, labDockerDeployment(p, oldImage), newImage),
    needTerraform: true,
    log,
  };
  const chosen = chooseFreshLab(options);
  stateDir = chosen.stateDir;
  before = labDockerDeployment(chosen.prefix, oldImage);
  const lab = await bootFreshLab(options, chosen);
  ({ state, input: after, deployment: d } = lab);
  log(`lab up in ${lab.upSeconds.toFixed(1)} s on ${state.subnet}`);
}, 900_000);

afterAll(async () => {
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("upgrade-7-4-4 on Docker lab hosts", () => {
  it("runs the old cluster (single-region, stand-in 7.4.3) with a row written", async () => {
    const r = await labDeploy(state!, { log, deployment: before });
    expect(r.apply.added).toBe(12); // 3 DB hosts: their 9 steps and a reconciliation service each
    expect(await sh("pgn-1", "docker exec pg-1 cat /opt/bitnami/standin/VERSION")).toBe("7.4.3-standin\n");
    await sh("pgn-1", psql("pg-1", "create table before_upgrade (id int primary key, note text); insert into before_upgrade values (1, 'written on 7.4.3')"));
  }, 900_000);

  it("an upgrade interrupted at pgn-2's load step fails, and re-applying it completes", async () => {
    // The new image's tarball missing on one host: that load step fails after every old container stopped.
    const hidden = `${newImage.hostPath}.hidden`;
    await sh("pgn-2", `mv ${newImage.hostPath} ${hidden}`);
    let failure = "";
    try {
      await labDeploy(state!, { log, deployment: after });
    } catch (e) {
      failure = String(e);
    }
    await sh("pgn-2", `mv ${hidden} ${newImage.hostPath}`);
    expect(failure).toMatch(/terraform apply failed/);
    expect(failure).toMatch(/terraform_data\.pgn-2-load_run_\w+/);
    expect(await sh("pgn-2", "docker ps -a --format '{{.Names}}' | sort")).toBe("pg-2\n");
    // Every host's reconciliation service was stopped with its old container, and stays so: nothing
    // repairs a half-moved cluster.
    for (const h of ["pgn-1", "pgn-2", "pgnw-1"]) expect((await labExec(state!, h, "systemctl is-active ems-ha-reconcile")).stdout.trim(), h).toBe("inactive");
    upgraded = await labDeploy(state!, { log, deployment: after });
    log(`upgrade re-apply ${upgraded.apply.wallSeconds} s`);
    // The tainted load step is replaced, then the three start steps and the three reconciliation
    // services run; nothing else is redone.
    expect([upgraded.apply.added, upgraded.apply.destroyed]).toEqual([7, 1]);
  }, 900_000);

  it("moves every node to the new image on its own volume: one primary, the standby's data kept, the witness re-registered", async () => {
    expect(upgraded, "the upgrade apply did not complete").toBeDefined();
    for (const [host, node, old, volume] of [
      ["pgn-1", "pgn-1", "pg-1", "pg_1_data"],
      ["pgn-2", "pgn-2", "pg-2", "pg_2_data"],
      ["pgnw-1", "pgnw-1", "pgw-1", "pgw_1_data"],
    ] as const) {
      expect(await sh(host, `docker inspect -f '{{.Config.Image}} {{.State.Running}} {{range .Mounts}}{{.Name}}{{end}}' ${node}`)).toBe(
        `ems-postgres-ha-standin:7.4.4 true ${volume}\n`,
      );
      expect(await sh(host, `docker inspect -f '{{.Config.Image}} {{.State.Running}}' ${old}`)).toBe("ems-postgres-ha-standin:7.4.3 false\n");
      // Kept for a rollback but never restarted by Docker (a reboot must not start two postgres on one volume).
      expect(await sh(host, `docker inspect -f '{{.HostConfig.RestartPolicy.Name}} {{.State.Running}}' ${old}`)).toBe("no false\n");
    }
    const logs = await sh("pgn-2", "docker logs pgn-2 2>&1 | grep ems-postgres-ha-standin");
    expect(logs).toMatch(/running as a standby of pgn-1 \(data kept\)/);
    expect(logs).not.toMatch(/cloning|displaced/);
    const show = await labExec(
      state!,
      "pgn-1",
      "docker exec pgn-1 /opt/bitnami/scripts/postgresql-repmgr/entrypoint.sh repmgr -f /opt/bitnami/repmgr/conf/repmgr.conf cluster show",
      { timeoutMs: 30_000 },
    );
    expect(show.stdout).toMatch(/pgn-1\s*\|\s*primary\s*\|\s*\* running/);
    expect(show.stdout).toMatch(/pgn-2\s*\|\s*standby\s*\|\s*running\s*\|\s*pgn-1/);
    expect(show.stdout).toMatch(/pgnw-1\s*\|\s*witness\s*\|\s*\* running\s*\|\s*pgn-1/);
    for (const n of ["pgn-1", "pgn-2"]) expect(await sh(n, psql(n, "select note from before_upgrade where id = 1"))).toBe("written on 7.4.3\n");
    // Each host's reconciliation service runs again, now for the new container.
    for (const n of ["pgn-1", "pgn-2", "pgnw-1"])
      expect(await sh(n, "systemctl is-active ems-ha-reconcile; grep -E '^CONTAINER=' /usr/local/sbin/ems-ha-reconcile")).toBe(`active\nCONTAINER=${n}\n`);
    // The guide's step 1: shared_preload_libraries set before the stop, in force after it.
    expect(await sh("pgn-1", psql("pgn-1", "show shared_preload_libraries"))).toBe("pg_stat_statements, repmgr\n");
  }, 900_000);

  it("is healthy in `ems-ha status` under the new names, and a re-apply changes nothing", async () => {
    const secrets = labSecrets(state!);
    const env = labCliEnv(secrets);
    let s = await gatherStatus(d, { env });
    for (let i = 0; i < 30 && (s.degraded || s.warnings.length > 0); i++) {
      await new Promise((r) => setTimeout(r, 2000));
      s = await gatherStatus(d, { env });
    }
    expect(s.degraded, s.reasons.join("; ")).toBe(false);
    expect(s.warnings).toEqual([]);
    expect(Object.fromEntries(s.dbNodes.map((n) => [n.name, n.role]))).toEqual({ "pgn-1": "primary", "pgn-2": "standby", "pgnw-1": "witness" });
    const r = await labReapply(state!, upgraded!.stackDir, log);
    expect([r.added, r.changed, r.destroyed]).toEqual([0, 0, 0]);
  }, 600_000);
});
