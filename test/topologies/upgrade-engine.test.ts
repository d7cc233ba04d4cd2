/**
 * upgrade-7-4-4 and database.docker.engine: the upgrade stack always drives the docker CLI over
 * SSH (terraform_data only), whatever the engine; so it plans for real here. Its stop and start
 * steps run in real bash against the docker stand-in (test/standins/docker-cli-standin): the old
 * container loses its restart policy before it is stopped, and each new container starts on its
 * node's own existing volume, with the passwords only in a 0600 env file removed afterwards.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import example from "../../examples/upgrade-7-4-4";
import type { DeploymentInput } from "../../src/config/schema";
import { container, fakeHost, onHost, runProvisioners, SECRETS, seedContainer, setRole, type FakeHost } from "../constructs/docker-engine-harness";
import { resourcesByPath, synthDeployment } from "../helpers/synth";
import { fileContent, provisioners, terraformPlan } from "./helpers";

// Real bash against the docker stand-in: seconds per step on a quiet machine, a minute or more on a
// loaded CI machine (seen: one step past 30 s); the bound is the per-command one of the harness.
vi.setConfig({ testTimeout: 300_000 });

const IMAGE = "ems-postgres-ha:latest";

function withEngine(engine: "provider" | "ssh"): DeploymentInput {
  const key = "/nonexistent/ems-ha-test/id_ed25519";
  const withKey = <T extends { ssh?: object }>(n: T) => ({ ...n, ssh: { ...n.ssh, privateKeyPath: key } });
  return {
    ...example,
    emsNodes: example.emsNodes.map(withKey),
    database: { ...example.database, docker: { engine }, nodes: example.database.nodes.map(withKey) },
  };
}

describe("upgrade-7-4-4 with either engine", () => {
  const ssh = synthDeployment(withEngine("ssh"));
  const steps = resourcesByPath(ssh.json, "terraform_data");
  const step = (node: string, s: string) => {
    const r = steps.get(`upgrade-7-4-4/${node}-${s}/run`);
    if (!r) throw new Error(`no step ${node}-${s}`);
    return r;
  };

  it("is the same docker-CLI stack for both engines, with no docker provider", () => {
    expect(ssh.text).toBe(synthDeployment(withEngine("provider")).text);
    expect(Object.keys(ssh.json.resource).filter((t) => t.startsWith("docker_"))).toEqual([]);
    expect(Object.keys(ssh.json.provider ?? {})).not.toContain("docker");
  });

  it("plans for real (terraform_data only), printing no secret", async () => {
    const r = await terraformPlan(ssh.text, SECRETS);
    expect(r.status, r.output.slice(-3000)).toBe(0);
    // 3 nodes x 4 steps (prepare, stop, load, start); the EMS upgrade is manual
    expect(r.output).toContain("Plan: 15 to add, 0 to change, 0 to destroy");
    for (const v of Object.values(SECRETS)) expect(r.output).not.toContain(v);
  }, 240_000);

  it("refuses a password with a line break at plan time", async () => {
    const r = await terraformPlan(ssh.text, { ...SECRETS, repmgr_password: "Up-Line\nX=1" });
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("must not contain line breaks");
    expect(r.output).not.toContain("Up-Line");
  }, 240_000);

  it("uploads each start step's env file into its 0700 run directory; the runner places it 0600 in a 0700 directory", () => {
    for (const n of ["pgn-1", "pgn-2", "pgnw-1"]) {
      const s = step(n, "start");
      const withVars = provisioners(s).filter((p) => JSON.stringify(p).includes("var."));
      expect(withVars.map((p) => p.file?.destination)).toEqual([expect.stringMatching(/^\.ems-ha\/run\/[\w.-]+\/secrets\/env$/)]);
      const runner = fileContent(s, /\/run\.sh$/);
      expect(runner).toContain("umask 077");
      expect(runner).toContain(`newdir 0700 /var/lib/ems-ha/secrets\ninstall -m 0600 "$here/secrets/"env /var/lib/ems-ha/secrets/${n}.env`);
    }
  });

  async function oldCluster(): Promise<FakeHost> {
    const host = fakeHost({ [IMAGE]: "sha256:new-image" });
    for (const [name, vol] of [
      ["pg-1", "pg_1_data"],
      ["pg-2", "pg_2_data"],
      ["pgw-1", "pgw_1_data"],
    ] as const) {
      seedContainer(host, name, { mounts: [`${vol}:/bitnami/postgresql`], image: "sha256:old-image", running: true, restart: "always" });
      await runProvisioners(host, {
        provisioner: [{ "remote-exec": { inline: [`mkdir -p ${host.state}/volumes/${vol} && echo data > ${host.state}/volumes/${vol}/PG_VERSION`] } }],
      });
    }
    return host;
  }

  it("stop clears the old container's restart policy before stopping it, and keeps it", async () => {
    const host = await oldCluster();
    const r = await runProvisioners(host, step("pgn-2", "stop"));
    expect(r.status, r.stderr).toBe(0);
    const verbs = r.calls.map((c) => c[0]);
    expect(verbs.indexOf("update")).toBeGreaterThanOrEqual(0);
    expect(verbs.indexOf("update")).toBeLessThan(verbs.indexOf("stop"));
    expect(r.calls.find((c) => c[0] === "update")).toEqual(["update", "--restart=no", "pg-2"]);
    expect(container(host, "pg-2")).toMatchObject({ running: false, restart: "no" });
    expect(r.calls.some((c) => c[0] === "rm" || (c[0] === "volume" && c[1] !== "inspect"))).toBe(false);
  });

  it("start runs each new container on its node's own volume, passwords from the env file only", async () => {
    const host = await oldCluster();
    for (const [node, role] of [
      ["pgn-1", "f"],
      ["pgn-2", "t"],
      ["pgnw-1", undefined],
    ] as const)
      if (role) setRole(host, node, role);
    for (const n of ["pgnw-1", "pgn-2", "pgn-1"]) expect((await runProvisioners(host, step(n, "stop"))).status).toBe(0);
    for (const [node, volume] of [
      ["pgn-1", "pg_1_data"],
      ["pgn-2", "pg_2_data"],
      ["pgnw-1", "pgw_1_data"],
    ] as const) {
      const s = step(node, "start");
      const r = await runProvisioners(host, s);
      expect(r.status, `${node}: ${r.stderr}`).toBe(0);
      const c = container(host, node)!;
      expect(
        c.mounts.filter((m) => m.endsWith(":/bitnami/postgresql")),
        node,
      ).toEqual([`${volume}:/bitnami/postgresql`]);
      expect(c).toMatchObject({ running: true, restart: "always" });
      expect(c.env).toContain("REPMGR_UPGRADE_EXTENSION=yes");
      expect(c.env).toContain(`POSTGRESQL_PASSWORD=${SECRETS.db_password}`);
      if (node !== "pgnw-1") {
        // The role check ran psql in the container (the stand-in runs the `bash -c` script for real) with
        // the deployment's user and port as arguments and the container's password.
        const log = readFileSync(join(host.state, "containers", node, "log"), "utf8");
        expect(log).toContain(`psql -U ${ssh.deployment.database.user} -p ${ssh.deployment.database.port}: select pg_is_in_recovery()`);
      }
      for (const call of r.calls) for (const a of call) for (const v of Object.values(SECRETS)) expect(a).not.toContain(v);
      const envFile = onHost(host, `/var/lib/ems-ha/secrets/${node}.env`);
      expect(() => statSync(envFile)).toThrow();
      // Again: nothing new is started.
      expect((await runProvisioners(host, s)).calls.filter((x) => x[0] === "run")).toEqual([]);
    }
    // The old containers stay, stopped and without restart policy (rollback).
    for (const old of ["pg-1", "pg-2", "pgw-1"]) expect(container(host, old)).toMatchObject({ running: false, restart: "no" });
  });

  it("start refuses while the old container runs, and refuses a missing volume instead of creating an empty one", async () => {
    const running = await oldCluster();
    const r1 = await runProvisioners(running, step("pgn-2", "start"));
    expect(r1.status).not.toBe(0);
    expect(r1.stderr).toContain("old container pg-2 still runs; the stop step must run first");
    const noVolume = fakeHost({ [IMAGE]: "sha256:new-image" });
    seedContainer(noVolume, "pg-2", { mounts: ["pg_2_data:/bitnami/postgresql"], image: "sha256:old-image", running: false, restart: "no" });
    const r2 = await runProvisioners(noVolume, step("pgn-2", "start"));
    expect(r2.status).not.toBe(0);
    expect(r2.stderr).toContain("volume pg_2_data does not exist on this host");
    expect(r2.calls.some((c) => c[0] === "run" || (c[0] === "volume" && c[1] === "create"))).toBe(false);
  });
});
