/**
 * The Docker switchover's sequence against a simulated cluster (the commands each host receives
 * and the node states they lead to): the order that keeps every acknowledged row (clean shutdown,
 * target past the shutdown checkpoint, then promotion), the way back when the target does not catch
 * up, the dry run that changes nothing, and the refusals. The lab test
 * (test/drills/docker-ops.test.ts) runs it for real under a writer.
 */
import { describe, expect, it } from "vitest";
import { fourNodeDeployment } from "./lib/status-fixture";
import type { DbNodeConfig } from "../../src/config/schema";
import { dockerSwitchover, parseControlData, receivedPast } from "../../src/ops/docker-switchover";
import type { DbProbe } from "../../src/ops/pg";
import type { ClusterStatus } from "../../src/ops/status";

const d = fourNodeDeployment("single-region");

const CONTROLDATA = (state: string) => `pg_control version number:            1300
Database cluster state:               ${state}
Latest checkpoint location:           0/5000028
Latest checkpoint's REDO location:    0/5000028
`;

const view = ["pg-1", "pg-2", "pg-3", "pgw-1"].map((n, i) => ({
  nodeId: n === "pgw-1" ? 2001 : 1001 + i,
  nodeName: n,
  type: n === "pg-1" ? "primary" : n === "pgw-1" ? "witness" : "standby",
  active: true,
  upstreamNodeId: n === "pg-1" ? null : 1001,
  location: "default",
  priority: 100,
}));

function statusOf(primary: string, oldStreaming: boolean, degraded = false): ClusterStatus {
  const other = primary === "pg-1" ? "pg-2" : "pg-1";
  const primaryAddress = d.database.nodes.find((n) => n.name === primary)!.address;
  return {
    name: "x",
    topology: "single-region",
    dbNodes: [
      { name: primary, address: primaryAddress, kind: "data", reachable: true, role: "primary", repmgrView: view },
      {
        name: other,
        address: "x",
        kind: "data",
        reachable: true,
        role: "standby",
        streaming: oldStreaming,
        upstream: primary,
        lagBytes: 0,
        lagSeconds: 0,
        repmgrView: view,
      },
      { name: "pg-3", address: "10.0.0.13", kind: "data", reachable: true, role: "standby", streaming: true, upstream: primary, lagBytes: 0, lagSeconds: 0 },
      { name: "pgw-1", address: "10.0.0.14", kind: "witness", reachable: true, role: "witness" },
    ],
    writablePrimaries: [primary],
    emsNodes: [],
    rewinds: [],
    fenced: [],
    degraded,
    reasons: degraded ? ["standby pg-1 is not streaming from a primary"] : [],
    warnings: [],
  } as ClusterStatus;
}

/** A simulated cluster: the hosts' commands change the state that status and probe report. */
function simulated(opts: { catchUp?: boolean; containerDown?: string } = {}) {
  const calls: string[] = [];
  const state = { pg1Pg: "running", promoted: false, pg1Rejoined: false, received: "0/4000000" };
  const run = async (node: DbNodeConfig, command: string) => {
    calls.push(`${node.name}: ${command}`);
    if (command.startsWith("docker container inspect")) return { code: 0, output: node.name === opts.containerDown ? "false always" : "true always" };
    if (command.includes("pg_ctl stop")) {
      state.pg1Pg = "shut down";
      if (opts.catchUp !== false) state.received = "0/50000A0";
      return { code: 0, output: "waiting for server to shut down.... done" };
    }
    if (command.includes("pg_controldata")) return { code: 0, output: CONTROLDATA(state.pg1Pg === "running" ? "in production" : state.pg1Pg) };
    if (command.includes("standby promote")) {
      state.promoted = true;
      return { code: 0, output: "NOTICE: STANDBY PROMOTE successful" };
    }
    if (command.includes("--action=start")) {
      state.pg1Pg = "running";
      return { code: 0, output: "" };
    }
    if (command === "docker start pg-1") state.pg1Rejoined = true;
    return { code: 0, output: "" };
  };
  const status = async () => (state.promoted ? statusOf("pg-2", state.pg1Rejoined) : statusOf("pg-1", true));
  const probe = async (n: DbNodeConfig): Promise<DbProbe> =>
    n.name === "pg-2" ? { reachable: true, inRecovery: !state.promoted, receiveLsn: state.promoted ? undefined : state.received } : { reachable: false };
  return { calls, state, deps: { run, status, probe } };
}

const env = {};

describe("ems-ha switchover (Docker topologies)", () => {
  it("reads pg_controldata and compares received WAL with the shutdown checkpoint", () => {
    expect(parseControlData(CONTROLDATA("shut down"))).toEqual({ state: "shut down", checkpoint: "0/5000028" });
    expect(parseControlData("nothing")).toEqual({ state: undefined, checkpoint: undefined });
    expect(receivedPast({ reachable: true, receiveLsn: "0/5000028" }, "0/5000028")).toBe(false);
    expect(receivedPast({ reachable: true, receiveLsn: "0/50000A0" }, "0/5000028")).toBe(true);
    expect(receivedPast({ reachable: true, receiveLsn: null }, "0/5000028")).toBe(false);
  });

  it("pauses, stops the old primary cleanly, promotes only once the target holds its shutdown checkpoint, re-points the others, resumes, restarts the old primary", async () => {
    const sim = simulated();
    const r = await dockerSwitchover(d, "pg-2", { env, deps: sim.deps, verifyTimeoutMs: 1000, rejoinTimeoutSeconds: 1 });
    expect(r.message).toMatch(/^pg-2 is the primary; pg-1 follows it as a standby \(writes stopped \d+\.\d s/);
    expect(r.ok).toBe(true);
    const changes = sim.calls.filter((c) => !c.includes("docker container inspect"));
    const repmgr = "docker exec pg-1 /opt/bitnami/scripts/postgresql-repmgr/entrypoint.sh repmgr -f /opt/bitnami/repmgr/conf/repmgr.conf";
    expect(changes[0]).toBe(`pg-1: ${repmgr} service pause`);
    const index = (re: RegExp) => changes.findIndex((c) => re.test(c));
    const order = [
      /^pg-1: .*service pause/,
      /^pg-1: docker update --restart=no pg-1/,
      /^pg-1: docker exec pg-1 pg_ctl stop -D \/bitnami\/postgresql\/data -m fast -w/,
      /^pg-1: docker exec pg-1 pg_controldata/,
      /^pg-2: .*standby promote/,
      /^pg-1: docker stop --time 120 pg-1/,
      /^pg-3: .*standby follow --upstream-node-id=1002/,
      /^pgw-1: .*witness register --force -h pg-2 -p 5432/,
      /^pg-2: .*service unpause/,
      /^pg-1: docker update --restart=always pg-1/,
      /^pg-1: docker start pg-1/,
      /^pgw-1: docker restart --time 120 pgw-1/,
    ].map(index);
    expect(
      order.every((i) => i >= 0),
      changes.join("\n"),
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // The old primary kept its pause (repmgr stores it with the data): resumed again once it streams.
    expect(changes.at(-1)).toMatch(/^pg-2: .*service unpause/);
  });

  it("does not promote when the target lacks the shutdown checkpoint: the old primary starts again, policy restored, repmgrd resumed", async () => {
    const sim = simulated({ catchUp: false });
    const r = await dockerSwitchover(d, "pg-2", { env, deps: sim.deps, catchUpTimeoutSeconds: 1 });
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(
      /pg-2 did not receive pg-1's shutdown checkpoint \(0\/5000028\).*nothing was promoted: pg-1 was started again as the primary, repmgrd resumed/,
    );
    expect(sim.calls.some((c) => c.includes("standby promote"))).toBe(false);
    const tail = sim.calls.slice(-3);
    expect(tail[0]).toMatch(/^pg-1: .*node service --action=start/);
    expect(tail[1]).toBe("pg-1: docker update --restart=always pg-1");
    expect(tail[2]).toMatch(/^pg-1: .*service unpause/);
    expect(sim.state.pg1Pg).toBe("running");
  });

  it("dry run: checks and prints the steps, changes nothing", async () => {
    const sim = simulated();
    const r = await dockerSwitchover(d, "pg-2", { env, deps: sim.deps, dryRun: true });
    expect(r.ok).toBe(true);
    expect(r.message).toMatch(/^dry run: pg-2 can take over from pg-1; nothing was changed/);
    expect(r.message).toMatch(/standby follow --upstream-node-id=1002/);
    expect(sim.calls.every((c) => c.includes("docker container inspect"))).toBe(true);
  });

  it("refuses (changing nothing) an unhealthy cluster, a stopped container, a witness or unknown target, the upgrade stack", async () => {
    const sim = simulated();
    const sick = await dockerSwitchover(d, "pg-2", { env, deps: { ...sim.deps, status: async () => statusOf("pg-1", true, true) } });
    expect(sick).toMatchObject({ ok: false, refused: true });
    expect(sick.message).toMatch(/^refused: the cluster is not healthy/);
    const down = simulated({ containerDown: "pgw-1" });
    const r = await dockerSwitchover(d, "pg-2", { env, deps: down.deps });
    expect(r).toMatchObject({ ok: false, refused: true });
    expect(r.message).toMatch(/^refused: the container pgw-1 on 10\.0\.0\.14 does not run/);
    expect([...sim.calls, ...down.calls].every((c) => c.includes("docker container inspect"))).toBe(true);
    await expect(dockerSwitchover(d, "pgw-1", { env, deps: sim.deps })).rejects.toThrow(/a witness holds no data/);
    await expect(dockerSwitchover(d, "pg-9", { env, deps: sim.deps })).rejects.toThrow(/no DB node has this name/);
    await expect(dockerSwitchover(d, "pg-1", { env, deps: sim.deps })).resolves.toMatchObject({
      refused: true,
      message: "refused: pg-1 is already the primary",
    });
  });
});
