/**
 * The guide's geo-redundant topology for real: examples/lab-geo-docker.ts (pg-1, pg-2, pgw-1 in
 * dc1; pg-3, pgw-2 in dc2; three EMS hosts) with `database.docker.engine: "ssh"` applied with real
 * Terraform to Docker lab hosts running the ems-postgres-ha STAND-IN image (not the vendor image).
 * `ems-ha status` is healthy with every node in its role; a drill stopping pg-1 promotes pg-2 (dc1,
 * priority 100) rather than pg-3 (dc2, priority 50), pg-3 and both witnesses follow it, no
 * acknowledged row is lost; a re-apply changes nothing.
 *
 * Needs root, systemd-nspawn, debootstrap, iproute2, openssh-client and terraform. On a machine
 * without them it FAILS naming what is missing; it is never skipped.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labGeoDockerDeployment } from "../../examples/lab-geo-docker";
import type { Deployment, DeploymentInput } from "../../src/config/schema";
import { gatherStatus } from "../../src/ops/status";
import { ensureStandinImages } from "../standins/ems-postgres-ha/build";
import { labCliEnv, labDeploy, labReapply, labSecrets, type DeployResult } from "../../lab/lib/deploy";
import { failoverBound, labDrill } from "../../lab/lib/drill";
import { startFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labExec } from "../../lab/lib/lab";
import type { LabState } from "../../lab/lib/state";
import { waitForWitnessViews } from "../../lab/lib/docker-host";
import { expectOnlyTheAsyncTailLost } from "../helpers/drill-loss";

// Apart from the other lab tests (10.231.160-179, 200-259) and the default labs.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.231.${180 + i}`);

let state: LabState | undefined;
let stateDir = "";
let input: DeploymentInput;
let d: Deployment;
let deployed: DeployResult | undefined;
const log = (m: string): void => console.log(`[docker-geo] ${m}`);

beforeAll(async () => {
  const image = (await ensureStandinImages({ log })).find((i) => i.tag === "7.4.4")!;
  const lab = await startFreshLab(
    {
      what: "the Docker geo-redundant lab test",
      candidates: CANDIDATES,
      deployment: (p: string) => labGeoDockerDeployment(p, image),
      needTerraform: true,
      log,
    },
    (dir) => (stateDir = dir),
  );
  ({ state, input, deployment: d } = lab);
}, 900_000);

afterAll(async () => {
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("geo-redundant (Docker, ssh engine) on lab hosts", () => {
  it("applies with terraform and is healthy in `ems-ha status`, every node in its role and location", async () => {
    expect(d.topology).toBe("geo-redundant");
    deployed = await labDeploy(state!, { log, deployment: input });
    log(`apply ${deployed.apply.wallSeconds} s`);
    expect([deployed.apply.added, deployed.apply.destroyed]).toEqual([19, 0]);
    const secrets = labSecrets(state!);
    const env = labCliEnv(secrets);
    let s = await gatherStatus(d, { env });
    // Witnesses copy the node list every 15 s (repmgr's witness_sync_interval).
    for (let i = 0; i < 30 && (s.degraded || s.warnings.length > 0); i++) {
      await new Promise((r) => setTimeout(r, 2000));
      s = await gatherStatus(d, { env });
    }
    expect(s.degraded, s.reasons.join("; ")).toBe(false);
    expect(s.warnings).toEqual([]);
    expect(Object.fromEntries(s.dbNodes.map((n) => [n.name, n.role]))).toEqual({
      "pg-1": "primary",
      "pg-2": "standby",
      "pgw-1": "witness",
      "pg-3": "standby",
      "pgw-2": "witness",
    });
    const view = s.dbNodes.find((n) => n.name === "pg-1")!.repmgrView!;
    expect(view.map((r) => [r.nodeName, r.location])).toEqual([
      ["pg-1", "dc1"],
      ["pg-2", "dc1"],
      ["pg-3", "dc2"],
      ["pgw-1", "dc1"],
      ["pgw-2", "dc2"],
    ]);
    expect(s.emsNodes.map((e) => [e.name, e.role, e.missing.length])).toEqual([
      ["ems-1", "primary", 0],
      ["ems-2", "secondary", 0],
      ["ems-3", "secondary", 0],
    ]);
  }, 1_200_000);

  it("promotes pg-2 (dc1, priority 100) when pg-1 stops; pg-3 and the witnesses follow; at most the asynchronous tail lost", async () => {
    // A settled cluster: every witness knows every node (see waitForWitnessViews).
    log(`witnesses list every node after ${(await waitForWitnessViews((h, c) => labExec(state!, h, c, { timeoutMs: 30_000 }), d)).toFixed(1)} s more`);
    const r = await labDrill(state!, { log });
    log(JSON.stringify({ ...r, clusterShow: undefined }));
    expect([r.oldPrimary, r.newPrimary]).toEqual(["pg-1", "pg-2"]);
    expect(r.failoverSeconds!).toBeLessThan(failoverBound(d).oneRerun);
    expect(r.rowsAcknowledged).toBeGreaterThan(10);
    expectOnlyTheAsyncTailLost(r);
    expect(r.rejoined).toBe(true);
    expect(r.writablePrimaries).toBe(1);
    expect(r.clusterShowPrimaries).toBe(1);
    for (const n of ["pg-1", "pg-3"]) expect(r.clusterShow).toMatch(new RegExp(`${n}\\s*\\|\\s*standby\\s*\\|\\s*running\\s*\\|\\s*pg-2`));
    for (const n of ["pgw-1", "pgw-2"]) expect(r.clusterShow).toMatch(new RegExp(`${n}\\s*\\|\\s*witness\\s*\\|\\s*\\* running\\s*\\|\\s*pg-2`));
  }, 600_000);

  it("re-applies with no changes after the failover", async () => {
    const r = await labReapply(state!, deployed!.stackDir, log);
    expect([r.added, r.changed, r.destroyed]).toEqual([0, 0, 0]);
  }, 600_000);
});
