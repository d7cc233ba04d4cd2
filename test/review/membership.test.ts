/**
 * plan-review of membership changes of the native cluster on real Terraform plans (v1 applied
 * without provisioners, v2 planned against that state): a node added, removed, or rebuilt at a new
 * address; the unsafe ones refused with their reason (src/review/membership.ts).
 */
import { describe, expect, it } from "vitest";
import native from "../../examples/native-single-region";
import { parseDeployment } from "../../src/config/parse";
import type { DeploymentInput } from "../../src/config/schema";
import { parsePlanJson, reviewPlan, type PlanReview } from "../../src/review";
import { planChange } from "./lib/real-plan";

type Nodes = DeploymentInput["database"]["nodes"];

function edit(change: (nodes: Nodes) => Nodes): DeploymentInput {
  const d = structuredClone(native);
  return { ...d, database: { ...d.database, nodes: change(d.database.nodes) } };
}

async function review(v2: DeploymentInput, primary?: string): Promise<PlanReview> {
  const plan = await planChange(native, v2);
  return reviewPlan(parsePlanJson(plan.json), { deployment: parseDeployment(v2), stack: plan.stack, primary });
}

const membership = (r: PlanReview) => r.findings.filter((f) => f.kind === "membership");
const dbnode3 = (nodes: Nodes, nodeId?: number): Nodes[number] => ({ ...nodes[1]!, name: "dbnode-3", address: "172.16.1.16", ...(nodeId ? { nodeId } : {}) });

describe("plan review of membership changes (native)", () => {
  it("a third data node at the end: it joins; the others re-run for a reload, with no failover or quorum finding", async () => {
    const r = await review(edit((n) => [...n, dbnode3(n)]));
    const m = membership(r);
    expect(m.map((f) => [f.severity, f.title])).toEqual([["review", "data node dbnode-3 joins the cluster"]]);
    expect(m[0]!.detail).toMatch(/cloned from the current primary/);
    expect(m[0]!.detail).toMatch(/--db_host/);
    const kinds = r.findings.map((f) => f.kind);
    expect(kinds).not.toContain("primary-restart");
    expect(kinds).not.toContain("quorum");
    expect(r.findings.filter((f) => f.kind === "node-setup").map((f) => f.node)).toEqual(["dbnode-1", "dbnode-2", "witness-1"]);
    expect(kinds).toContain("ems-db-hosts");
    expect(r.exitCode).toBe(1);
  }, 120_000);

  it("a node inserted before others renumbers them: refused, naming the ids to pin", async () => {
    const r = await review(edit((n) => [n[0]!, n[1]!, dbnode3(n), n[2]!]));
    const refused = r.findings.filter((f) => f.severity === "refused");
    expect(refused.map((f) => f.title)).toEqual(["witness-1: its repmgr node id changes from 3 to 4"]);
    expect(refused[0]!.advice).toContain("nodeId to 3");
    expect(r.exitCode).toBe(2);
    // with the ids pinned, the same insertion is accepted
    const pinned = await review(edit((n) => [{ ...n[0]!, nodeId: 1 }, { ...n[1]!, nodeId: 2 }, dbnode3(n, 4), { ...n[2]!, nodeId: 3 }]));
    expect(pinned.exitCode).toBe(1);
  }, 240_000);

  it("removing the current primary is refused, and so is leaving one data node", async () => {
    // the current primary comes from `ems-ha status` (--primary): the new deployment's initial primary is another node
    const r = await review(
      edit((n) => [
        { ...n[1]!, nodeId: 2 },
        { ...n[2]!, nodeId: 3 },
      ]),
      "dbnode-1",
    );
    expect(r.findings.filter((f) => f.severity === "refused").map((f) => f.title)).toEqual(
      expect.arrayContaining(["dbnode-1 is removed, but it is the current primary", "only 1 data node would be left"]),
    );
    // After a switchover to dbnode-2, removing dbnode-1 still leaves one data node: refused for that alone.
    const after = await review(
      edit((n) => [
        { ...n[1]!, nodeId: 2 },
        { ...n[2]!, nodeId: 3 },
      ]),
      "dbnode-2",
    );
    expect(after.findings.filter((f) => f.severity === "refused").map((f) => f.title)).toEqual(["only 1 data node would be left"]);
  }, 240_000);

  it("removing the witness of two data nodes loses the election majority: refused by the failover model", async () => {
    const r = await review(edit((n) => [n[0]!, n[1]!]));
    const refused = r.findings.filter((f) => f.severity === "refused");
    expect(refused.map((f) => f.title)).toEqual(["after the removal, the election has no majority when the primary dbnode-1 is lost"]);
    expect(refused[0]!.detail).toMatch(/repmgr failover model/);
  }, 120_000);

  it("a standby at a new address is rebuilt (reviewed); the current primary at a new address is refused", async () => {
    const moved = edit((n) => n.map((x) => (x.name === "dbnode-2" ? { ...x, address: "172.16.1.99" } : x)));
    const r = await review(moved);
    expect(membership(r).map((f) => [f.severity, f.title])).toEqual([["review", "dbnode-2 is rebuilt at 172.16.1.99 (was 172.16.1.15)"]]);
    expect(r.findings.map((f) => f.kind)).not.toContain("standby-restart");
    const p = await review(moved, "dbnode-2");
    expect(membership(p).map((f) => f.severity)).toEqual(["refused"]);
    expect(p.exitCode).toBe(2);
  }, 240_000);
});
