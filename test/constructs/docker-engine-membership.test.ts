/**
 * Membership changes in the ssh engine's container step (src/render/docker-membership.ts), run in
 * real bash against the docker stand-in: a change the registered cluster cannot follow is refused
 * before any container is touched; the primary's step unregisters the nodes that left
 * database.nodes; a member's retired container gets its restart policy back.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import example from "../../examples/single-region";
import type { DeploymentInput } from "../../src/config/schema";
import { container, containerStep, fakeHost, runStep, setRole, type FakeHost } from "./docker-engine-harness";

// Real bash against the docker stand-in: seconds per step on a quiet machine, a minute or more on a
// loaded CI machine (seen: one step past 30 s); the bound is the per-command one of the harness.
vi.setConfig({ testTimeout: 300_000 });

type Nodes = DeploymentInput["database"]["nodes"];

function withNodes(edit: (nodes: Nodes) => Nodes): DeploymentInput {
  return { ...example, database: { ...example.database, docker: { engine: "ssh" }, nodes: edit(example.database.nodes.map((n) => ({ ...n }))) } };
}

const step = containerStep;

/** The records ("id|name|type|active") the stand-in's psql answers for repmgr.nodes in `name`'s container, now and once recreated. */
function setRecords(host: FakeHost, name: string, records: string[]): void {
  const text = records.map((r) => `${r}\n`).join("");
  mkdirSync(join(host.state, "records"), { recursive: true });
  writeFileSync(join(host.state, "records", name), text);
  writeFileSync(join(host.state, "containers", name, "records"), text);
}

const base = withNodes((n) => n);
/** `node`'s step once pg-4 joins: a new partner list, so the container is recreated. */
const withPg4 = (node: string) =>
  step(
    withNodes((n) => [...n, { ...n[1]!, name: "pg-4", address: "10.0.0.99" }]),
    node,
  );
const log = (host: FakeHost, name: string) => readFileSync(join(host.state, "containers", name, "log"), "utf8");
const changing = (calls: string[][]) => calls.filter((c) => ["stop", "rm", "run"].includes(c[0]!));

describe("membership in the ssh engine's container step (real bash, docker stand-in)", () => {
  it("refuses, before any container is touched, a change that drops the current primary from database.nodes", async () => {
    const host = fakeHost();
    expect((await runStep(host, step(base, "pg-1"))).status).toBe(0);
    // pg-2 is the current primary (a failover happened); the new deployment replaces pg-2 by pg-3.
    setRecords(host, "pg-1", ["1001|pg-1|standby|t", "1002|pg-2|primary|t", "2001|pgw-1|witness|t"]);
    const shrunk = withNodes((n) => n.map((x) => (x.name === "pg-2" ? { ...x, name: "pg-3" } : x)));
    const r = await runStep(host, step(shrunk, "pg-1"));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(
      "REFUSED: pg-2 (repmgr node id 1002) is the current primary and is no longer in database.nodes: switch over to a data node that stays (ems-ha switchover --to NAME), then apply again",
    );
    expect(r.stderr).toContain("the change is refused (reasons in");
    expect(changing(r.calls)).toEqual([]);
    expect(container(host, "pg-1")!.running).toBe(true);
    expect(readFileSync(join(host.root, "membership-refused"), "utf8")).toMatch(/^pg-2 \(repmgr node id 1002\) is the current primary/);
    // Without the primary's removal the same step goes ahead, and the reasons file is gone.
    setRecords(host, "pg-1", ["1001|pg-1|primary|t", "1002|pg-2|standby|t", "2001|pgw-1|witness|t"]);
    const ok = await runStep(host, step(shrunk, "pg-1"));
    expect(ok.status, ok.stderr).toBe(0);
    expect(changing(ok.calls).map((c) => c[0])).toEqual(["stop", "rm", "run"]);
    expect(existsSync(join(host.root, "membership-refused"))).toBe(false);
  });

  it("refuses a node id change of a registered node, naming the nodeId to set", async () => {
    const host = fakeHost();
    expect((await runStep(host, step(base, "pg-1"))).status).toBe(0);
    setRecords(host, "pg-1", ["1001|pg-1|primary|t", "1002|pg-2|standby|t", "2001|pgw-1|witness|t"]);
    const renumbered = withNodes((n) => n.map((x) => (x.name === "pg-1" ? { ...x, nodeId: 7 } : x)));
    const r = await runStep(host, step(renumbered, "pg-1"));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(
      "pg-1 is registered with repmgr node id 1001, but the deployment now gives it id 7: set database.nodes[name=pg-1].nodeId to 1001",
    );
    expect(changing(r.calls)).toEqual([]);
  });

  it("the primary's step unregisters the nodes that left database.nodes (standby and witness) and leaves members alone", async () => {
    const host = fakeHost();
    setRole(host, "pg-1", "f");
    expect((await runStep(host, step(base, "pg-1"))).status).toBe(0);
    setRecords(host, "pg-1", ["1001|pg-1|primary|t", "1002|pg-2|standby|t", "1003|pg-3|standby|t", "2001|pgw-1|witness|t", "2002|pgw-2|witness|t"]);
    // The deployment without pg-3 and pgw-2 (they were members before: the partner list changes).
    const r = await runStep(host, withPg4("pg-1"));
    expect(r.status, r.stderr).toBe(0);
    const repmgr = log(host, "pg-1")
      .split("\n")
      .filter((l) => l.includes("unregister"));
    expect(repmgr).toEqual([
      expect.stringMatching(/repmgr\.conf standby unregister --node-id 1003$/),
      expect.stringMatching(/repmgr\.conf witness unregister --node-id 2002 --force$/),
    ]);
    expect(r.stdout).toContain("unregistered pg-3 (repmgr node id 1003, standby): it is no longer in database.nodes");
    expect(r.stdout).toContain("unregistered pgw-2 (repmgr node id 2002, witness)");
  });

  it("when repmgr service pause fails (a node moved), the primary's step pauses every member at its address, skipping those that do not answer", async () => {
    const host = fakeHost();
    setRole(host, "pg-1", "f");
    for (const n of ["pg-2", "pgw-1"]) expect((await runStep(host, step(base, n))).status).toBe(0);
    expect((await runStep(host, step(base, "pg-1"))).status).toBe(0);
    writeFileSync(join(host.state, "repmgr-fails"), "service pause");
    const r = await runStep(host, withPg4("pg-1"));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      "repmgr service pause failed (a node does not answer where its partners look for it): pausing every member at its address instead",
    );
    // The stand-in's hosts are containers, not addresses: every address is a node that does not answer.
    expect(r.stdout).toContain("10.0.0.99 does not answer: skipped (its repmgrd cannot promote without its PostgreSQL)");
    expect(changing(r.calls).map((c) => c[0])).toEqual(["stop", "rm", "run"]);
    expect(r.stdout).toContain("repmgrd resumed on every node");
  });

  it("refuses to create the initial primary without data while other data nodes answer but none as the primary (a second cluster)", async () => {
    const host = fakeHost();
    // pg-2 runs as a standby (its primary, pg-1, was lost with its volume) and answers at its address.
    expect((await runStep(host, step(base, "pg-2"))).status).toBe(0);
    mkdirSync(join(host.state, "addresses"), { recursive: true });
    writeFileSync(join(host.state, "addresses", example.database.nodes[1]!.address), "pg-2");
    const r = await runStep(host, step(base, "pg-1"));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(
      "REFUSED: pg-1 is the initial primary (REPMGR_PRIMARY_HOST) and has no data, and 1 other data node(s) answer but none as the primary: its image would initialise a second cluster",
    );
    expect(r.calls.filter((c) => c[0] === "volume" && c[1] === "create")).toEqual([]);
    expect(container(host, "pg-1")).toBeUndefined();
    // Once pg-2 is the primary (a promotion), pg-1 is created and its image clones it from pg-2.
    setRole(host, "pg-2", "f");
    const ok = await runStep(host, step(base, "pg-1"));
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("pg-1 has no data: its image clones it from the primary among its partners");
    expect(container(host, "pg-1")!.running).toBe(true);
  });

  it("a standby's step unregisters nothing", async () => {
    const host = fakeHost();
    const pg2 = step(base, "pg-2");
    expect((await runStep(host, pg2)).status).toBe(0);
    setRecords(host, "pg-2", ["1001|pg-1|primary|t", "1002|pg-2|standby|t", "1003|pg-3|standby|t"]);
    const r = await runStep(host, withPg4("pg-2"));
    expect(r.status, r.stderr).toBe(0);
    expect(log(host, "pg-2")).not.toContain("unregister");
  });

  it("a member's container retired with restart policy no gets policy always back when it is started again", async () => {
    const host = fakeHost();
    const pg2 = step(base, "pg-2");
    expect((await runStep(host, pg2)).status).toBe(0);
    const d = join(host.state, "containers", "pg-2");
    writeFileSync(join(d, "running"), "false\n");
    writeFileSync(join(d, "restart"), "no\n");
    const r = await runStep(host, pg2);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("started the existing pg-2");
    expect(readFileSync(join(d, "restart"), "utf8").trim()).toBe("always");
  });
});
