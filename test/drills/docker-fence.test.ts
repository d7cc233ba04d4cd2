/**
 * Split-brain fencing on a Docker cluster, with a real network cut: examples/lab-docker.ts
 * (single-region, ssh engine, pg-1, pg-2 and pgw-1 on Docker lab hosts running the ems-postgres-ha
 * STAND-IN image, tuned failover timing) applied with real Terraform. The drill of
 * lab/lib/fence-drill.ts: the primary's host loses its port on the lab bridge while a client on that host keeps inserting into the primary's container
 * and a client outside writes to whichever node is writable. Measured: when pg-2 is promoted, when
 * the isolated pg-1 stops accepting writes (its reconciliation service's fence: PostgreSQL stopped
 * inside the running container, the container's restart policy "no" meanwhile), the time both were
 * writable, the rows pg-1 acknowledged after the cut and how many of them the cluster lost, and the
 * rejoin after the link returns (the rewind record of what was discarded, the restart policy back
 * to "always"). docs/reliability.md#split-brain-fencing holds the figures.
 *
 * Needs root, systemd-nspawn, debootstrap, iproute2, nsenter, openssh-client and terraform. On a
 * machine without them it FAILS naming what is missing; it is never skipped.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDockerDeployment } from "../../examples/lab-docker";
import type { Deployment } from "../../src/config/schema";
import { PG_DATA_DIR } from "../../src/render/docker-cli";
import { labCliEnv, labDeploy, labSecrets } from "../../lab/lib/deploy";
import { cancelledElectionDrill, fenceDrill, type FenceDrillOptions, lostOutsideTheLastInstant } from "../../lab/lib/fence-drill";
import { startFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labOk } from "../../lab/lib/lab";
import { sleep } from "../../lab/lib/exec";
import { afterDrill, expectElectionHeld } from "../helpers/fence-drills";
import type { LabState } from "../../lab/lib/state";
import { ensureStandinImages } from "../standins/ems-postgres-ha/build";

// This file's own subnets: 10.235.70-79.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.235.${70 + i}`);

let state: LabState | undefined;
let stateDir = "";
let d: Deployment;
const log = (m: string): void => console.log(`[docker-fence] ${m}`);

beforeAll(async () => {
  const image = (await ensureStandinImages({ log })).find((i) => i.tag === "7.4.4")!;
  const lab = await startFreshLab(
    { what: "the Docker fencing lab test", candidates: CANDIDATES, deployment: (p: string) => labDockerDeployment(p, image), needTerraform: true, log },
    (dir) => (stateDir = dir),
  );
  state = lab.state;
  d = lab.deployment;
  const deployed = await labDeploy(state, { log, deployment: lab.input });
  log(`apply ${deployed.apply.wallSeconds} s`);
}, 1_200_000);

afterAll(async () => {
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

/** The drill's options for the primary `isolated` (its container named after it) and the standby expected to be promoted. */
function drillOn(isolated: string, successor: string): FenceDrillOptions {
  return {
    state: state!,
    d,
    isolated,
    successor,
    sql: (statement) => `docker exec ${isolated} psql -h /tmp -U postgres -qAt -c "${statement}"`,
    running: `docker exec ${isolated} pg_ctl -D ${PG_DATA_DIR} status >/dev/null 2>&1`,
    repmgrdLog:
      "docker ps -a --format '{{.Names}} {{.Status}}'; for c in $(docker ps -aq); do docker logs --tail 400 $c 2>&1 | grep -v 'waiting for WAL'; done",
    log,
  };
}

describe("split-brain fencing on Docker hosts, with a network cut", () => {
  it("the isolated primary's container stops accepting writes within a bounded time and is kept from restarting; it rejoins when the link returns, recording what it discards", async () => {
    const f = await fenceDrill({
      ...drillOn("pg-1", "pg-2"),
      atFence: "docker inspect -f '{{.State.Running}} {{.HostConfig.RestartPolicy.Name}}' pg-1",
    });
    const policyAfter = (await labOk(state!, "pg-1", "docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' pg-1")).trim();
    const { journal, ...figures } = f;
    log(`figures ${JSON.stringify({ ...figures, restartPolicyAfter: policyAfter })}`);
    log(journal);
    expect(journal).toMatch(/FENCE: this primary has seen only 0 of the other nodes/);
    // the container runs on (repmgrd, its main process), PostgreSQL stopped in it, no restart by Docker meanwhile
    expect(f.atFence).toBe("true no");
    expect(f.stillFencedAfter15s).toBe(true);
    expect(f.fenceS).toBeLessThan(60);
    // the outside client lost nothing but, at most, what the primary acknowledged in the instant of
    // the cut and had not streamed yet (asynchronous replication), and that the rewind record keeps
    expect(lostOutsideTheLastInstant(f)).toEqual([]);
    if (f.outsideLost > 0) expect(f.rewindRecords).toBeGreaterThan(0);
    expect(f.outsideAcked).toBeGreaterThan(50);
    // what the isolated primary acknowledged after the cut is what the cluster lost, and a rewind record says so
    expect(f.rowsLostOfIsolated).toBeLessThanOrEqual(f.rowsAckedByIsolatedAfterCut);
    if (f.rowsLostOfIsolated > 0) expect(f.rewindRecords).toBeGreaterThan(0);
    // the fence lifted: the deployment's restart policy is back
    expect(policyAfter).toBe("always");
  }, 900_000);

  it("a fenced container that stops (a host or Docker restart while fenced) is looked at from a probe container, and started and joined to the new primary once the link returns, what it discards recorded first", async () => {
    // after the first drill: pg-2 primary, pg-1 its standby; its rewind record read and acknowledged
    const env = labCliEnv(labSecrets(state!));
    await afterDrill(state!, d, env, "pg-1", "pg-2");
    const f = await fenceDrill({
      ...drillOn("pg-2", "pg-1"),
      // as a host restart would leave it: the restart policy is "no" while fenced
      whileFenced: "docker stop -t 10 pg-2 >/dev/null && docker inspect -f '{{.State.Running}}' pg-2",
    });
    // the service sets the restart policy back once the container it started has settled (bounded)
    let after = "";
    for (const by = Date.now() + 60_000; Date.now() < by; await sleep(1000)) {
      after = (
        await labOk(state!, "pg-2", "docker inspect -f '{{.State.Running}} {{.HostConfig.RestartPolicy.Name}}' pg-2; docker ps -a --format '{{.Names}}'")
      ).trim();
      if (after === "true always\npg-2") break;
    }
    const said = await labOk(
      state!,
      "pg-2",
      "journalctl -u ems-ha-reconcile --no-pager | grep -E 'stopped while fenced|REPAIR|starting the container' | tail -n 5",
    );
    const { journal, ...figures } = f;
    log(`figures ${JSON.stringify({ ...figures, after })}`);
    log(said);
    expect(journal).toMatch(/FENCE: this primary has seen only 0 of the other nodes/);
    expect(said).toMatch(
      /FENCE: the container pg-2 stopped while fenced .*: looking at its data and the other nodes from the probe container pg-2-ems-ha-probe/,
    );
    expect(said).toMatch(/REPAIR: fenced since .*; pg-1 became primary/);
    expect(said).toMatch(/starting the container pg-2 \(attempt 1 of \d+\): the image's start logic joins it to pg-1/);
    // running again with the deployment's restart policy; the probe gone
    expect(after).toBe("true always\npg-2");
    // what pg-2 acknowledged after the cut is what the cluster lost, recorded before the image's rewind
    expect(f.rowsLostOfIsolated).toBeLessThanOrEqual(f.rowsAckedByIsolatedAfterCut);
    expect(f.rowsAckedByIsolatedAfterCut).toBeGreaterThan(0);
    expect(f.rewindRecords).toBeGreaterThan(0);
    expect(lostOutsideTheLastInstant(f)).toEqual([]);
  }, 900_000);

  it("an election repmgrd cancelled (the witness cut off with the primary) is held by the reconciliation service once the witness answers again", async () => {
    // after the second drill: pg-1 primary, pg-2 its standby (rewound by the image, recorded)
    const env = labCliEnv(labSecrets(state!));
    await afterDrill(state!, d, env, "pg-2", "pg-1");
    const r = await cancelledElectionDrill({
      state: state!,
      d,
      env,
      primary: "pg-1",
      witness: "pgw-1",
      standby: "pg-2",
      repmgrdLog: "docker logs pg-2",
      running: `docker exec pg-1 pg_ctl -D ${PG_DATA_DIR} status >/dev/null 2>&1`,
      log,
    });
    expectElectionHeld(r, log);
  }, 900_000);
});
