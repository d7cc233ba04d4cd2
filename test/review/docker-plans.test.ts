/**
 * The plan review on the Docker and FortiGate stacks. Their providers cannot be downloaded here,
 * so these plans are built by hand (lib/docker-plan.ts) from the documented plan JSON format and
 * the resources the single-region stack really synthesizes for the two versions.
 */
import { describe, expect, it } from "vitest";
import example from "../../examples/single-region";
import { parseDeployment } from "../../src/config/parse";
import type { DeploymentInput } from "../../src/config/schema";
import { reviewMarkdown, reviewPlan, type PlanJson, type PlanReview } from "../../src/review";
import { dockerPlan } from "./lib/docker-plan";

const S1 = { db_password: "Dock-DB-pass-1187'x", repmgr_password: "Dock-repmgr-pass-6621", fortigate_token: "Dock-fgt-token-3390" };
const S2 = { ...S1, db_password: "Dock-DB-pass-NEW-9042" };

function clone(d: DeploymentInput, change: (d: any) => void = () => {}): DeploymentInput {
  const c = structuredClone(d) as any;
  change(c);
  return c;
}
const V1 = clone(example);

function run(plan: PlanJson, v2: DeploymentInput): { r: PlanReview; md: string } {
  const r = reviewPlan(plan, { deployment: parseDeployment(v2), stack: "single-region" });
  const md = reviewMarkdown(r);
  for (const v of [...Object.values(S1), ...Object.values(S2)]) {
    expect(md).not.toContain(v);
    expect(JSON.stringify(r)).not.toContain(v);
  }
  return { r, md };
}
const open = (r: PlanReview) => r.findings.filter((f) => f.severity !== "info");

describe("plan review of Docker stacks (hand-built plan JSON)", () => {
  it("renaming a standby destroys its data volume: refused (exit 2) without acknowledgement", () => {
    const v2 = clone(V1, (d) => (d.database.nodes[1].name = "pg-3"));
    const { r, md } = run(dockerPlan(V1, v2, S1), v2);
    expect(r.exitCode).toBe(2);
    expect(r.verdict).toBe("refused");
    const first = r.findings.find((f) => f.kind === "standby-reclone")!;
    expect(first).toMatchObject({ severity: "refused", kind: "standby-reclone", action: "delete", addresses: ["docker_volume.pg-2_data_63B9A20E"] });
    expect(first.title).toContain("re-cloned");
    expect(md).toContain("⛔ refused");
    expect(md).toContain('rule: "plan-data-loss"');
    // a rename is a membership change of a running Docker cluster: pg-2 leaves, pg-3 joins
    const membership = r.findings.filter((f) => f.kind === "membership");
    expect(membership.map((f) => [f.node, f.action, f.severity])).toEqual(
      expect.arrayContaining([
        ["pg-2", "delete", "refused"],
        ["pg-3", "create", "refused"],
      ]),
    );
    expect(md).toContain('rule: "plan-docker-membership"');
  });

  it("the same plan with an acknowledgement in the deployment needs review (exit 1)", () => {
    const v2 = clone(V1, (d) => {
      d.database.nodes[1].name = "pg-3";
      d.acknowledgements = [
        { rule: "plan-data-loss", reason: "pg-2 renamed to pg-3; it is re-cloned from pg-1" },
        { rule: "plan-docker-membership", reason: "pg-2 renamed to pg-3, one node at a time by hand" },
      ];
    });
    const { r } = run(dockerPlan(V1, v2, S1), v2);
    expect(r.exitCode).toBe(1);
    const reclone = r.findings.find((f) => f.kind === "standby-reclone")!;
    expect(reclone).toMatchObject({ severity: "acknowledged", kind: "standby-reclone" });
    expect(reclone.advice).toContain("pg-2 renamed to pg-3");
    expect(r.findings.filter((f) => f.kind === "membership").every((f) => f.severity === "acknowledged")).toBe(true);
  });

  it("the primary's volume replaced is data loss of the primary", () => {
    const plan = dockerPlan(V1, V1, S1);
    const vol = plan.resource_changes!.find((c) => c.address === "docker_volume.pg-1_data_84899B61")!;
    (vol.change as any).actions = ["delete", "create"];
    (vol.change as any).replace_paths = [["name"]];
    (vol.change as any).after = { ...(vol.change.after as object), name: "pg_1_data_new" };
    const { r } = run(plan, V1);
    expect(r.exitCode).toBe(2);
    expect(r.findings[0]).toMatchObject({ kind: "data-loss", node: "pg-1" });
    expect(r.findings[0]!.title).toContain("the primary's database is deleted");
    expect(r.findings[0]!.causes[0]).toMatchObject({ attribute: "name", before: "pg_1_data", after: "pg_1_data_new" });
  });

  it("a new DB password replaces every DB container in one apply: secret rotation, failover, quorum refused (provider engine); no value shown", () => {
    const { r, md } = run(dockerPlan(V1, V1, S1, S2), V1);
    const kinds = open(r).map((f) => f.kind);
    expect(kinds.slice(0, 2)).toEqual(["quorum", "primary-restart"]);
    // the docker provider may have every replaced container down at once: refused, the per-node procedure passes
    const q = r.findings.find((f) => f.kind === "quorum")!;
    expect(q.severity).toBe("refused");
    expect(q.advice).toContain("terraform apply -target=<address>");
    expect(kinds).toContain("standby-restart");
    expect(kinds).toContain("witness-restart");
    const secrets = r.findings.filter((f) => f.kind === "secret-rotation");
    expect(secrets).toHaveLength(1); // one finding per rotated secret, every container it replaces
    expect(secrets[0]!.addresses).toHaveLength(3);
    expect(secrets[0]!.title).toBe("secret rotated: TF_VAR_db_password (pg-1, pg-2, pgw-1)");
    const primary = r.findings.find((f) => f.kind === "primary-restart")!;
    expect(primary.causes).toEqual([{ attribute: "env.POSTGRESQL_PASSWORD", field: "secret TF_VAR_db_password", sensitive: true }]);
    expect(md).toContain("sensitive value changed; not shown");
    expect(r.exitCode).toBe(2);
  });

  it("the same rotation applied one container at a time (-target) is not refused", () => {
    const plan = dockerPlan(V1, V1, S1, S2);
    const one = plan.resource_changes!.filter((c) => !/^docker_container\.(pg-1|pgw-1)_/.test(c.address));
    const { r } = run({ ...plan, resource_changes: one }, V1);
    expect(r.findings.filter((f) => f.kind === "quorum")).toEqual([]);
    expect(open(r).map((f) => f.kind)).toContain("standby-restart");
    expect(r.exitCode).toBe(1);
  });

  it("a new partner list (a node added) replaces every existing container, caused by database.nodes", () => {
    const v2 = clone(V1, (d) => d.database.nodes.splice(2, 0, { name: "pg-3", address: "192.168.1.24", role: "data", priority: 100 }));
    const { r } = run(dockerPlan(V1, v2, S1), v2);
    const q = r.findings.find((f) => f.kind === "quorum")!;
    expect(q.title).toContain("3 DB nodes restart in the same apply (pg-1, pg-2, pgw-1)");
    // pg-3 is new: not a member yet, so the existing members are every copy and every voter
    expect(q.detail).toContain("Every data node (pg-1, pg-2)");
    expect(q.detail).toContain("3 of 3 voting nodes");
    const primary = r.findings.find((f) => f.kind === "primary-restart")!;
    const partner = primary.causes.find((c) => c.attribute === "env.REPMGR_PARTNER_NODES")!;
    expect(partner.field).toContain("database.nodes");
    expect(partner.after).toContain("pg-3");
    expect(primary.causes.map((c) => c.attribute)).toContain("host[3]");
    const created = r.findings.find((f) => f.kind !== "membership" && f.addresses[0]!.startsWith("docker_container.pg-3_container_"))!;
    expect(created).toMatchObject({ kind: "harmless", action: "create" });
    // adding a node to a running Docker cluster is refused unless acknowledged (not a tested operation)
    const added = r.findings.find((f) => f.kind === "membership")!;
    expect(added).toMatchObject({ severity: "refused", node: "pg-3", action: "create" });
    expect(added.title).toContain("is added to the running cluster");
    expect(r.exitCode).toBe(2);
  });

  it("a first deploy of a Docker cluster is not a membership change", () => {
    const plan = dockerPlan(V1, V1, S1);
    for (const c of plan.resource_changes!) {
      (c.change as any).actions = ["create"];
      (c.change as any).before = null;
    }
    const { r } = run(plan, V1);
    expect(r.findings.filter((f) => f.kind === "membership")).toEqual([]);
  });

  it("an edited PGTune input on a Docker node re-runs its host preparation, not a restart", () => {
    const v2 = clone(V1, (d) => (d.database.nodes[1].ramGb = 16));
    const { r } = run(dockerPlan(V1, v2, S1), v2);
    expect(open(r).map((f) => f.kind)).toEqual(["node-setup"]);
    expect(open(r)[0]!.causes[0]!.field).toContain("database.nodes[1].ramGb");
  });

  it("a new EMS node moves client traffic: every VIP's real servers change", () => {
    const v2 = clone(V1, (d) => d.emsNodes.push({ name: "ems-3", address: "192.168.1.12", ssh: { user: "root" } }));
    const { r, md } = run(dockerPlan(V1, v2, S1), v2);
    const traffic = r.findings.filter((f) => f.kind === "traffic");
    expect(traffic.length).toBe(5);
    expect(traffic[0]!.causes.some((c) => c.attribute.startsWith("realservers") && c.field === "emsNodes[].address (the real servers)")).toBe(true);
    expect(md).toContain("client traffic moves");
  });

  it("a new VIP address moves client traffic, caused by ems.vip", () => {
    const v2 = clone(V1, (d) => (d.ems.vip = "172.16.1.51"));
    const { r } = run(dockerPlan(V1, v2, S1), v2);
    const vip = r.findings.find((f) => f.kind === "traffic" && f.addresses[0]!.includes("vip-443"))!;
    expect(vip.causes).toContainEqual({ attribute: "extip", field: "ems.vip", before: "172.16.1.50", after: "172.16.1.51" });
  });

  it("a renamed FortiGate prefix replaces the health check and the VIPs: client connections drop meanwhile", () => {
    const v2 = clone(V1, (d) => (d.fortigate.namePrefix = "ems-prod"));
    const { r } = run(dockerPlan(V1, v2, S1), v2);
    const hc = r.findings.find((f) => f.kind === "traffic" && f.addresses[0]!.startsWith("fortios_firewall_ldbmonitor."))!;
    expect(hc.action).toBe("replace");
    expect(hc.title).toBe("client traffic moves: the health check is replaced (deleted, then created: connections drop meanwhile)");
    expect(hc.causes).toContainEqual({ attribute: "name", field: "fortigate.namePrefix", before: "ems-ha-tcp-8013", after: "ems-prod-tcp-8013" });
    expect(r.findings.filter((f) => f.kind === "traffic" && f.action === "replace").length).toBeGreaterThanOrEqual(6);
  });
});
