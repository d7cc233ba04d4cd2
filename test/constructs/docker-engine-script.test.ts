/**
 * The ssh engine's container step run for real in bash against the docker stand-in
 * (test/standins/docker-cli-standin): idempotent, never removes a volume, replaces a changed
 * container gracefully on the same volume, and handles the passwords only through the env file.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import example from "../../examples/single-region";
import type { DeploymentInput } from "../../src/config/schema";
import { SPEC_LABEL, STOP_TIMEOUT_SECONDS } from "../../src/render/docker-cli";
import { container, containerStep, envFileModes, fakeHost, runStep, SECRETS, seedContainer, setImage, setRole } from "./docker-engine-harness";

// Real bash against the docker stand-in: seconds per step on a quiet machine, a minute or more on a
// loaded CI machine (seen: one step past 30 s); the bound is the per-command one of the harness.
vi.setConfig({ testTimeout: 300_000 });

function sshEngine(input: DeploymentInput, change: (db: DeploymentInput["database"]) => DeploymentInput["database"] = (db) => db): DeploymentInput {
  return { ...input, database: change({ ...input.database, docker: { engine: "ssh" } }) };
}

const step = containerStep;

const verbs = (calls: string[][]) =>
  calls.map((c) =>
    c[0] === "volume" || c[0] === "container" || c[0] === "image"
      ? `${c[0]} ${c[1]}`
      : c[0] === "exec" && c[2] === "bash"
        ? "exec psql"
        : c[0] === "exec" && c[2]?.endsWith("entrypoint.sh")
          ? `exec repmgr ${c.slice(6).join(" ")}`
          : c[0]!,
  );

describe("ssh engine container script (real bash, docker stand-in)", () => {
  const base = step(sshEngine(example), "pg-1");

  it("first run creates the volume, then the container with the spec label, and removes the env file", async () => {
    const host = fakeHost();
    const r = await runStep(host, base);
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toContainEqual(["volume", "create", "pg_1_data"]);
    // (a first deploy: the throwaway container that asks the other data nodes finds none answering)
    expect(verbs(r.calls).indexOf("volume create")).toBeLessThan(r.calls.findIndex((c) => c[0] === "run" && c.includes("--name")));
    expect(existsSync(join(host.state, "implicit-volumes")), "docker run had to create a volume itself").toBe(false);
    const c = container(host, "pg-1")!;
    expect(c.running).toBe(true);
    expect(c.labels).toEqual([expect.stringMatching(/^ems-ha\.spec-sha256=[0-9a-f]{64}$/), expect.stringMatching(/^ems-ha\.secrets-sha256=[0-9a-f]{64}$/)]);
    expect(SPEC_LABEL).toBe("ems-ha.spec-sha256");
    expect(c.mounts).toContain("pg_1_data:/bitnami/postgresql");
    // The passwords reached the container's environment through the env file only.
    expect(c.env).toContain(`POSTGRESQL_PASSWORD=${SECRETS.db_password}`);
    expect(c.env).toContain(`REPMGR_PASSWORD=${SECRETS.repmgr_password}`);
    for (const call of r.calls) for (const a of call) for (const v of Object.values(SECRETS)) expect(a).not.toContain(v);
    expect(existsSync(r.envFile)).toBe(false);
    expect(statSync(join(host.root, "secrets")).mode & 0o777).toBe(0o700);
  });

  it("second run with nothing changed does nothing", async () => {
    const host = fakeHost();
    expect((await runStep(host, base)).status).toBe(0);
    const r = await runStep(host, base);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("pg-1 is up to date: nothing to do");
    expect(verbs(r.calls).filter((v) => !["volume inspect", "container inspect", "image inspect"].includes(v))).toEqual([]);
    expect(existsSync(r.envFile)).toBe(false);
  });

  it("a changed spec stops the container gracefully and recreates it on the untouched volume", async () => {
    const host = fakeHost();
    expect((await runStep(host, base)).status).toBe(0);
    writeFileSync(join(host.state, "volumes", "pg_1_data", "PG_VERSION"), "15\n");
    const changed = step(
      sshEngine(example, (db) => ({ ...db, failover: { reconnectAttempts: 4 } })),
      "pg-1",
    );
    const r = await runStep(host, changed);
    expect(r.status, r.stderr).toBe(0);
    const v = verbs(r.calls);
    // PostgreSQL's fast shutdown, then docker stop with the grace time, then rm without -v, then run.
    expect(v.filter((x) => ["exec", "stop", "rm", "run"].includes(x))).toEqual(["exec", "stop", "rm", "run"]);
    expect(r.calls.find((c) => c[0] === "exec" && c[2] !== "bash" && !c[2]!.endsWith("entrypoint.sh"))!.slice(2, 4)).toEqual(["pg_ctl", "stop"]);
    expect(r.calls.find((c) => c[0] === "stop")).toEqual(["stop", "--time", String(STOP_TIMEOUT_SECONDS), "pg-1"]);
    expect(STOP_TIMEOUT_SECONDS).toBeGreaterThanOrEqual(60);
    expect(r.calls.find((c) => c[0] === "rm")).toEqual(["rm", "pg-1"]);
    expect(v).not.toContain("volume create");
    expect(readdirSync(join(host.state, "volumes", "pg_1_data"))).toEqual(["PG_VERSION"]);
    expect(container(host, "pg-1")!.env).toContain("REPMGR_RECONNECT_ATTEMPTS=4");
    // And the new spec is stable again.
    expect(verbs((await runStep(host, changed)).calls)).not.toContain("run");
  });

  it("the current primary's replacement runs with repmgrd paused on every node, resumed once the new container answers as the primary", async () => {
    const host = fakeHost();
    expect((await runStep(host, base)).status).toBe(0);
    setRole(host, "pg-1", "f");
    const changed = step(
      sshEngine(example, (db) => ({ ...db, failover: { reconnectAttempts: 4 } })),
      "pg-1",
    );
    const r = await runStep(host, changed);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("pg-1 is the current primary: pausing repmgrd on every node while it is replaced (no failover; writes stop until it is back)");
    const v = verbs(r.calls).filter((x) => x !== "container inspect" && x !== "image inspect" && x !== "volume inspect");
    // The membership asked of the cluster, then pause before the shutdown; after docker run: asked until
    // it answers as the primary; as the primary, its node records read (nothing to unregister); then resumed.
    expect(v).toEqual([
      "exec psql",
      "exec psql",
      "exec repmgr service pause",
      "exec",
      "stop",
      "rm",
      "run",
      "exec psql",
      "exec psql",
      "exec psql",
      "exec repmgr service unpause",
    ]);
    expect(r.stdout).toContain("pg-1 answers as the primary");
    expect(r.stdout).toContain("repmgrd resumed on every node");
  });

  it("a standby's replacement pauses nothing and waits until the new container streams", async () => {
    const host = fakeHost();
    const pg2 = step(sshEngine(example), "pg-2");
    expect((await runStep(host, pg2)).status).toBe(0);
    const changed = step(
      sshEngine(example, (db) => ({ ...db, failover: { reconnectAttempts: 4 } })),
      "pg-2",
    );
    const r = await runStep(host, changed);
    expect(r.status, r.stderr).toBe(0);
    expect(verbs(r.calls).filter((x) => x.startsWith("exec repmgr"))).toEqual([]);
    expect(r.stdout).toContain("pg-2 streams as a standby");
  });

  it("fails, bounded, when the new container does not come back in its role, and resumes repmgrd it paused", async () => {
    const host = fakeHost();
    expect((await runStep(host, base)).status).toBe(0);
    // The running pg-1 is the primary; the new pg-1 answers as a standby whose WAL receiver does not stream.
    setRole(host, "pg-1", "t");
    writeFileSync(join(host.state, "containers", "pg-1", "role"), "f\n");
    mkdirSync(join(host.state, "receivers"), { recursive: true });
    writeFileSync(join(host.state, "receivers", "pg-1"), "waiting\n");
    const changed = step(
      sshEngine(example, (db) => ({ ...db, failover: { reconnectAttempts: 4 } })),
      "pg-1",
    );
    const r = await runStep(host, changed);
    expect(r.status).toBe(1);
    // Paused (no primary meanwhile): the shorter bound.
    expect(r.stderr).toContain("pg-1 does not answer as the primary or as a streaming standby after 120 s; check: docker logs pg-1");
    expect(verbs(r.calls).filter((x) => x.startsWith("exec repmgr"))).toEqual(["exec repmgr service pause", "exec repmgr service unpause"]);
    expect(existsSync(r.envFile)).toBe(false);
  });

  it("when the replaced primary's new container does not answer, repmgrd is resumed on the other nodes directly so that they fail over", async () => {
    const host = fakeHost();
    for (const n of ["pg-2", "pgw-1"]) expect((await runStep(host, step(sshEngine(example), n))).status).toBe(0);
    expect((await runStep(host, base)).status).toBe(0);
    setRole(host, "pg-1", "f");
    // The new container's PostgreSQL never answers, and repmgr in it fails.
    writeFileSync(join(host.state, "roles", "pg-1"), "down\n");
    const changed = step(
      sshEngine(example, (db) => ({ ...db, failover: { reconnectAttempts: 4 } })),
      "pg-1",
    );
    const r = await runStep(host, changed);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("repmgrd resumed on its partners directly: they fail over if pg-1 stays away");
    // Asked from inside pg-1, as the repmgr user, once per partner (pg-2, pgw-1).
    const asked = readFileSync(join(host.state, "containers", "pg-1", "log"), "utf8")
      .split("\n")
      .filter((l) => l === "psql -U repmgr -p 5432: select repmgr.repmgrd_pause(false)");
    expect(asked).toHaveLength(2);
  });

  it("new passwords (a replaced step) recreate the container; the same passwords do not", async () => {
    const host = fakeHost();
    expect((await runStep(host, base)).status).toBe(0);
    const same = await runStep(host, base);
    expect(verbs(same.calls)).not.toContain("run");
    const rotated = { ...SECRETS, db_password: "a-new-password" };
    const r = await runStep(host, base, { secrets: rotated });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("replacing pg-1: the passwords changed");
    expect(verbs(r.calls).filter((x) => ["stop", "rm", "run"].includes(x))).toEqual(["stop", "rm", "run"]);
    expect(container(host, "pg-1")!.env).toContain("POSTGRESQL_PASSWORD=a-new-password");
    expect(r.stdout + r.stderr).not.toContain("a-new-password");
    expect(verbs((await runStep(host, base, { secrets: rotated })).calls)).not.toContain("run");
  });

  it("a new image behind the same tag recreates the container; the same image does not", async () => {
    const host = fakeHost();
    expect((await runStep(host, base)).status).toBe(0);
    setImage(host, "ems-postgres-ha:latest", "sha256:image-2");
    const r = await runStep(host, base);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("is another image now");
    expect(container(host, "pg-1")!.image).toBe("sha256:image-2");
  });

  it("starts a stopped container of the same spec instead of recreating it", async () => {
    const host = fakeHost();
    expect((await runStep(host, base)).status).toBe(0);
    writeFileSync(join(host.state, "containers", "pg-1", "running"), "false\n");
    const r = await runStep(host, base);
    expect(r.status, r.stderr).toBe(0);
    expect(verbs(r.calls)).toContain("start");
    expect(verbs(r.calls)).not.toContain("run");
    expect(container(host, "pg-1")!.running).toBe(true);
  });

  it("replaces a container without the label (provider engine or by hand) that uses the node's volume", async () => {
    const host = fakeHost();
    seedContainer(host, "pg-1", { mounts: ["pg_1_data:/bitnami/postgresql"], image: "sha256:image-1", running: true });
    const r = await runStep(host, base);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("spec not recorded");
    expect(verbs(r.calls).filter((x) => ["stop", "rm", "run"].includes(x))).toEqual(["stop", "rm", "run"]);
  });

  it("replaces a stopped container of another spec without stopping it again", async () => {
    const host = fakeHost();
    seedContainer(host, "pg-1", { mounts: ["pg_1_data:/bitnami/postgresql"], image: "sha256:image-1", running: false });
    const r = await runStep(host, base);
    expect(r.status, r.stderr).toBe(0);
    expect(verbs(r.calls).filter((x) => ["exec", "stop", "rm", "run"].includes(x))).toEqual(["rm", "run"]);
    expect(verbs(r.calls).filter((x) => x.startsWith("exec repmgr"))).toEqual([]);
  });

  it("refuses to replace a container that mounts another volume at the data path", async () => {
    const host = fakeHost();
    seedContainer(host, "pg-1", { mounts: ["old_data:/bitnami/postgresql"], image: "sha256:image-1", running: true });
    const r = await runStep(host, base);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("mounts 'old_data' at /bitnami/postgresql, not pg_1_data");
    expect(verbs(r.calls).filter((x) => ["stop", "rm", "run"].includes(x))).toEqual([]);
    expect(container(host, "pg-1")!.running).toBe(true);
    expect(existsSync(r.envFile)).toBe(false);
  });

  it("refuses a password with a line break and removes the env file", async () => {
    const host = fakeHost();
    const r = await runStep(host, base, { secrets: { ...SECRETS, db_password: "line1\nREPMGR_NODE_PRIORITY=0" } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("holds 3 lines, not 2: a password contains a line break");
    expect(verbs(r.calls)).toEqual([]);
    expect(existsSync(r.envFile)).toBe(false);
  });

  it("refuses an empty password and a carriage return", async () => {
    for (const [secrets, msg] of [
      [{ ...SECRETS, repmgr_password: "" }, "line 2 of the password env file is not REPMGR_PASSWORD=<non-empty value>"],
      [{ ...SECRETS, db_password: "a\rb" }, "POSTGRESQL_PASSWORD contains a carriage return"],
    ] as const) {
      const r = await runStep(fakeHost(), base, { secrets });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(msg);
      expect(verbs(r.calls)).not.toContain("run");
    }
  });

  it("never lets others read the env file: uploaded into 0700 directories, placed 0600 in a 0700 directory, removed after the run", async () => {
    const host = fakeHost();
    const runDir = join(host.home, ".ems-ha/run/container-pg-1");
    const uploaded: string[] = [];
    const ok = await runStep(host, base, {
      afterUpload: (dir) => {
        expect(dir).toBe(runDir);
        // What Terraform uploaded: the secret file, in directories only the login user can enter.
        expect(readFileSync(join(dir, "secrets", "env"), "utf8")).toBe(
          `POSTGRESQL_PASSWORD=${SECRETS.db_password}\nREPMGR_PASSWORD=${SECRETS.repmgr_password}\n`,
        );
        for (const d of [".ems-ha", ".ems-ha/run", ".ems-ha/run/container-pg-1", ".ems-ha/run/container-pg-1/secrets"])
          uploaded.push(`${d} ${(statSync(join(host.home, d)).mode & 0o777).toString(8)}`);
      },
    });
    expect(ok.status, ok.stderr).toBe(0);
    expect(uploaded).toEqual([".ems-ha 700", ".ems-ha/run 700", ".ems-ha/run/container-pg-1 700", ".ems-ha/run/container-pg-1/secrets 700"]);
    // At every docker call (docker run reads it) the placed env file was 0600 in a 0700 directory.
    const modes = envFileModes(host);
    expect(modes.length).toBeGreaterThan(0);
    expect([...new Set(modes)]).toEqual(["600 700"]);
    // Afterwards: neither the placed file nor the uploaded one is left.
    expect(existsSync(ok.envFile)).toBe(false);
    expect(existsSync(join(runDir, "secrets"))).toBe(false);
    expect(readdirSync(join(host.root, "secrets"))).toEqual([]);
    // A file others can read, or a directory others can enter, is refused (the script checks before docker runs).
    for (const [target, mode, msg] of [
      ["file", "644", "must be mode 0600"],
      ["dir", "755", "must be mode 0700"],
    ] as const) {
      const bad = fakeHost();
      const r = await runStep(bad, base, {
        editRunner: (runner, f) => runner.replace(/^EMS_HA_SECRETS=/m, `chmod ${mode} '${target === "file" ? f : join(f, "..")}'\nEMS_HA_SECRETS=`),
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(msg);
      expect(verbs(r.calls)).not.toContain("run");
      expect(existsSync(r.envFile)).toBe(false);
    }
  });

  it("removes the env file and the uploaded secrets when the script fails", async () => {
    const host = fakeHost();
    seedContainer(host, "pg-1", { mounts: ["old_data:/bitnami/postgresql"], image: "sha256:image-1", running: true });
    const r = await runStep(host, base);
    expect(r.status).toBe(1);
    expect(existsSync(r.envFile)).toBe(false);
    expect(existsSync(join(host.home, ".ems-ha/run/container-pg-1/secrets"))).toBe(false);
    expect(existsSync(join(host.home, ".ems-ha/run/container-pg-1/script.sh"))).toBe(true);
  });

  it("fails, bounded, when the container does not stay up (must_run)", async () => {
    const host = fakeHost();
    writeFileSync(join(host.state, "run-exits"), "");
    const r = await runStep(host, base);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("pg-1 is not running steadily after 60 s; check: docker logs pg-1");
  });

  it("fails, bounded, when the container keeps restarting (restart policy always hides a crash loop)", async () => {
    const host = fakeHost();
    writeFileSync(join(host.state, "restart-loop"), "");
    const r = await runStep(host, base);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("pg-1 is not running steadily after 60 s");
  });

  it("uses only the volume of its own node and never removes one", async () => {
    for (const node of ["pg-1", "pg-2", "pgw-1"]) {
      const host = fakeHost();
      const s = step(sshEngine(example), node);
      expect((await runStep(host, s)).status).toBe(0);
      expect(readdirSync(join(host.state, "volumes"))).toEqual([`${node.replace(/-/g, "_")}_data`]);
    }
  });
});
