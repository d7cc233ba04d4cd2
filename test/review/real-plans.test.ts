/**
 * The plan review on real Terraform plans: two versions of a deployment, v1 applied without
 * provisioners (lib/real-plan.ts), v2 planned for real against that state. One test per kind of
 * change the terraform_data stacks can show (native-single-region, standalone-db, vm-appliances).
 */
import { describe, expect, it } from "vitest";
import native from "../../examples/native-single-region";
import standalone from "../../examples/standalone-db";
import appliances from "../../examples/vm-appliances";
import upgrade from "../../examples/upgrade-7-4-4";
import single from "../../examples/single-region";
import { parseDeployment } from "../../src/config/parse";
import type { DeploymentInput } from "../../src/config/schema";
import { parsePlanJson, reviewMarkdown, reviewPlan, type PlanReview } from "../../src/review";
import { planChange, SECRETS } from "./lib/real-plan";

function clone(d: DeploymentInput, change: (d: any) => void): DeploymentInput {
  const c = structuredClone(d) as any;
  change(c);
  return c;
}
const nativeV1 = clone(native, () => {});
const standaloneV1 = clone(standalone, (d) => delete d.fortigate);
const appliancesV1 = clone(appliances, (d) => delete d.fortigate);
const upgradeV1 = clone(upgrade, (d) => delete d.fortigate);

async function review(v1: DeploymentInput, v2: DeploymentInput, planArgs: string[] = []): Promise<{ r: PlanReview; md: string; json: string }> {
  const plan = await planChange(v1, v2, undefined, planArgs);
  const r = reviewPlan(parsePlanJson(plan.json), { deployment: parseDeployment(v2), stack: plan.stack });
  return { r, md: reviewMarkdown(r), json: plan.json };
}

function kinds(r: PlanReview): string[] {
  return r.findings.filter((f) => f.severity !== "info").map((f) => f.kind);
}

function noSecrets(text: string): void {
  for (const v of Object.values(SECRETS)) expect(text).not.toContain(v);
}

describe("plan review on real terraform plans", () => {
  it("an unchanged deployment is safe (exit 0)", async () => {
    const { r } = await review(nativeV1, nativeV1);
    expect(r.findings).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.verdict).toBe("safe");
  }, 120_000);

  it("an edited PGTune input re-runs that standby's setup, named by the field", async () => {
    const v2 = clone(nativeV1, (d) => (d.database.nodes[1].ramGb = 16));
    const { r, md } = await review(nativeV1, v2);
    expect(kinds(r)).toEqual(["standby-restart"]);
    const f = r.findings[0]!;
    // its prepare step (which applies postgresql.conf) and its setup: one finding for the node
    expect(f.addresses).toEqual(["terraform_data.dbnode-2_prepare_371EF59A", "terraform_data.dbnode-2_setup_8C12A528"]);
    expect(f.action).toBe("replace");
    expect(f.causes.map((c) => c.attribute)).toEqual(["triggers_replace.script_sha256"]);
    expect(f.causes[0]!.field).toContain("database.nodes[1].ramGb");
    expect(f.causes[0]!.field).toContain("only this node's script changed");
    expect(r.exitCode).toBe(1);
    // the key exchange re-runs (its roster holds the scripts' hashes): harmless
    expect(r.findings.filter((x) => x.severity === "info").map((x) => x.addresses[0])).toEqual(
      expect.arrayContaining([expect.stringMatching(/^terraform_data\.ssh-keys_dbnode-1_/)]),
    );
    expect(md).toContain("standby dbnode-2");
  }, 120_000);

  it("ssh engine: a cluster-wide change replaces the DB containers one after another, the primary's without failover", async () => {
    const v1 = clone(single, (d) => {
      delete d.fortigate;
      d.database.docker = { engine: "ssh" };
    });
    const v2 = clone(v1, (d) => (d.database.failover = { reconnectAttempts: 4 }));
    const { r, md } = await review(v1, v2);
    const q = r.findings.find((f) => f.kind === "quorum")!;
    expect(q.title).toBe("3 DB nodes are replaced one after another in this apply (pg-1, pg-2, pgw-1)");
    expect(q.detail).toContain("never two DB nodes away at once");
    const p = r.findings.find((f) => f.kind === "primary-restart")!;
    expect(p.title).toBe("primary pg-1 is stopped and replaced: writes stop while it restarts (repmgrd paused, no failover)");
    expect(p.advice).toContain("ems-ha switchover --to <standby>");
    noSecrets(md);
  }, 120_000);

  it("ssh engine: a node added, removed or moved in a running Docker cluster needs review with its cost; removing the current primary is refused", async () => {
    const v1 = clone(single, (d) => {
      delete d.fortigate;
      d.database.docker = { engine: "ssh" };
    });
    const grown = clone(v1, (d) => d.database.nodes.splice(2, 0, { ...d.database.nodes[1], name: "pg-3", address: "192.168.1.24" }));
    const g = await review(v1, grown);
    const added = g.r.findings.filter((f) => f.kind === "membership");
    expect(added.map((f) => [f.node, f.action, f.severity])).toEqual([["pg-3", "create", "review"]]);
    expect(added[0]!.title).toBe("data node pg-3 joins the running cluster");
    expect(added[0]!.detail).toContain("cloned from the current primary");
    expect(added[0]!.detail).toContain("3 other containers are recreated one at a time for the new partner list and --add-host entries (pg-1, pg-2, pgw-1)");
    expect(added[0]!.detail).toContain("EMS's --db_host list changes");
    expect(g.r.exitCode).toBe(1);
    // pg-3 leaves again: unregistered by the primary's step, container retired, volume kept.
    const s = await review(grown, v1, []);
    const removed = s.r.findings.find((f) => f.kind === "membership")!;
    expect(removed).toMatchObject({ node: "pg-3", action: "delete", severity: "review" });
    expect(removed.detail).toContain("unregisters it (repmgr standby unregister --node-id)");
    expect(removed.detail).toContain("Its volume and data stay on its host");
    expect(s.r.exitCode).toBe(1);
    // A standby moved to a new address: rebuilt there; the others are recreated for --add-host.
    const moved = await review(
      v1,
      clone(v1, (d) => (d.database.nodes[1].address = "192.168.1.99")),
    );
    const m = moved.r.findings.find((f) => f.kind === "membership")!;
    expect(m).toMatchObject({ node: "pg-2", severity: "review" });
    expect(m.title).toBe("DB node pg-2 moves to another host (192.168.1.22 -> 192.168.1.99): rebuilt on the new host");
    expect(m.detail).toContain("2 other containers are recreated one at a time");
    // Removing the current primary (pg-2 after a failover, as --primary says) is refused.
    const noPrimary = clone(grown, (d) => d.database.nodes.splice(1, 1));
    const plan = await planChange(grown, noPrimary);
    const p = reviewPlan(parsePlanJson(plan.json), { deployment: parseDeployment(noPrimary), stack: plan.stack, primary: "pg-2" });
    const refused = p.findings.find((f) => f.kind === "membership" && f.node === "pg-2")!;
    expect(refused).toMatchObject({ severity: "refused", action: "delete" });
    expect(refused.advice).toContain("ems-ha switchover --to NODE");
    expect(p.exitCode).toBe(2);
  }, 240_000);

  it("a change on the primary's node says the rolling restart hands it over with one switchover, no failover", async () => {
    const v2 = clone(nativeV1, (d) => (d.database.nodes[0].cpus = 8));
    const { r, md } = await review(nativeV1, v2);
    expect(kinds(r)).toEqual(["primary-restart"]);
    expect(r.findings[0]!.title).toContain("primary dbnode-1");
    expect(r.findings[0]!.title).toContain("one switchover, no failover");
    // the rolling restart's steps look again: harmless, listed as info
    expect(r.findings.filter((x) => x.severity === "info").some((x) => /rolling-restart_primary-dbnode-1_/.test(x.addresses[0]!))).toBe(true);
    expect(md).toMatch(/primary-restart/);
  }, 120_000);

  it("a cluster-wide field re-runs every DB node's setup in one apply: restarts one after another by the rolling restart", async () => {
    const v2 = clone(nativeV1, (d) => (d.database.failover = { profile: "tuned" }));
    const { r } = await review(nativeV1, v2);
    const k = kinds(r);
    expect(k[0]).toBe("primary-restart");
    expect(k).toContain("quorum");
    expect(k.filter((x) => x === "standby-restart")).toHaveLength(1);
    expect(k).toContain("witness-restart");
    const q = r.findings.find((f) => f.kind === "quorum")!;
    expect(q.title).toContain("3 DB nodes");
    expect(q.title).toContain("one after another");
    expect(q.detail).toContain("never two data nodes down at once");
    expect(r.findings.find((f) => f.kind === "primary-restart")!.causes[0]!.field).toContain("cluster-wide");
  }, 120_000);

  it("a new EMS version reinstalls EMS on every node, caused by installer.version", async () => {
    const v2 = clone(nativeV1, (d) => {
      d.installer.version = "7.4.5.2100";
      d.installer.source.path = "./forticlientems_7.4.5.2100.F.bin";
    });
    const { r, md } = await review(nativeV1, v2);
    expect(kinds(r)).toEqual(["ems-reinstall", "ems-reinstall"]);
    const f = r.findings[0]!;
    const version = f.causes.find((c) => c.attribute === "triggers_replace.version")!;
    expect(version).toMatchObject({ field: "installer.version", before: "7.4.4.2034", after: "7.4.5.2100" });
    expect(md).toContain("`7.4.4.2034` → `7.4.5.2100`");
  }, 120_000);

  it("standalone-db: a moved DB server restarts the only database and changes EMS's database hosts", async () => {
    const v2 = clone(standaloneV1, (d) => (d.database.nodes[0].address = "192.168.1.31"));
    const { r, json } = await review(standaloneV1, v2);
    const k = kinds(r);
    expect(k[0]).toBe("primary-restart");
    expect(k.filter((x) => x === "ems-db-hosts")).toHaveLength(2);
    const ems = r.findings.find((f) => f.kind === "ems-db-hosts")!;
    expect(ems.causes.find((c) => c.attribute === "triggers_replace.dbHosts")).toMatchObject({ before: "192.168.1.30", after: "192.168.1.31" });
    noSecrets(JSON.stringify(r));
    // Terraform's plan JSON carries sensitive variables in clear (why docs/ci.md never uploads it); the review does not.
    expect(json).toContain(SECRETS.db_password);
    expect(reviewMarkdown(r)).not.toContain(SECRETS.db_password);
  }, 120_000);

  it("vm-appliances: a new appliance hostname redirects that appliance again", async () => {
    const v2 = clone(appliancesV1, (d) => (d.appliances.hostnames["ems-2"] = "EMS-B"));
    const { r } = await review(appliancesV1, v2);
    expect(kinds(r)).toEqual(["ems-reinstall"]);
    expect(r.findings[0]!.causes[0]).toMatchObject({ attribute: "triggers_replace.hostname", field: "appliances.hostnames", before: "EMS-2", after: "EMS-B" });
  }, 120_000);

  it("upgrade-7-4-4: a new target image re-runs the stop and start steps of every node: restarts and quorum", async () => {
    const v2 = clone(upgradeV1, (d) => (d.database.image.tag = "7.4.5"));
    const { r } = await review(upgradeV1, v2);
    const k = kinds(r);
    expect(k[0]).toBe("primary-restart");
    expect(k).toContain("quorum");
    expect(k).toContain("node-setup"); // the prepare and load steps
    const primary = r.findings.find((f) => f.kind === "primary-restart")!;
    expect(primary.addresses[0]).toMatch(/^terraform_data\.pgn-1-(stop|start)_run_/);
    expect(primary.causes.map((c) => c.attribute)).toContain("triggers_replace.target");
  }, 120_000);

  it("a replacement requested with -replace (how a rotated secret is applied) names the request as its cause", async () => {
    const { r } = await review(nativeV1, nativeV1, ["-replace=terraform_data.dbnode-1_setup_A8310C74"]);
    expect(kinds(r)).toEqual(["primary-restart"]);
    expect(r.findings[0]!.causes).toEqual([{ attribute: "(replace_by_request)", field: expect.stringContaining("-replace=ADDRESS") }]);
  }, 120_000);
});
