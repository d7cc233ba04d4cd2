/**
 * The whole story on real parts: boot Debian 12 hosts, synthesize the lab deployment and
 * `terraform apply` the native-single-region stack over SSH (PostgreSQL 15 + repmgr natively,
 * the EMS installer stand-in), check `ems-ha status`, run a failover drill with a writer,
 * re-apply (no changes), and take the lab down.
 *
 * Needs root, systemd-nspawn, debootstrap, iproute2, openssh-client and terraform. On a machine
 * without them it FAILS naming what is missing; it is never skipped.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDeployment } from "../../examples/lab";
import { parseDeployment } from "../../src/config/parse";
import { gatherStatus } from "../../src/ops/status";
import { spawnAsync } from "../../src/spawn-async";
import { labCliEnv, labDeploy, labPlan, labReapply, labSecrets, type DeployResult } from "../../lab/lib/deploy";
import { labDrill } from "../../lab/lib/drill";
import { bootFreshLab, chooseFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labExec, labOk } from "../../lab/lib/lab";
import { nativeLayout } from "../../src/render/native/layout";
import { REPO_ROOT } from "../../lab/lib/paths";
import type { LabState } from "../../lab/lib/state";
import { expectOnlyTheAsyncTailLost } from "../helpers/drill-loss";

// Apart from the default lab (10.231.7) and from lab-hosts.test.ts (10.231.200-219).
const CANDIDATES = Array.from({ length: 20 }, (_, i) => `10.231.${220 + i}`);

let state: LabState | undefined;
let stateDir = "";
let deployed: DeployResult | undefined;
const log = (m: string): void => console.log(`[lab-e2e] ${m}`);

beforeAll(async () => {
  const options = { what: "the lab end-to-end test", candidates: CANDIDATES, deployment: (p: string) => labDeployment(p), needTerraform: true, log };
  const chosen = chooseFreshLab(options);
  stateDir = chosen.stateDir;
  state = (await bootFreshLab(options, chosen)).state;
}, 900_000);

afterAll(async () => {
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("lab end to end", () => {
  it("deploys the native-single-region stack with terraform apply: hosts prepared at once, the primary first, EMS last", async () => {
    deployed = await labDeploy(state!, { log });
    // prepare + setup per DB node (6), key sync per data node (2), the rolling restart (5), EMS (2)
    expect(deployed.apply.added).toBe(15);
    const order = [...deployed.apply.steps]
      .sort((a, b) => a.startSeconds - b.startSeconds)
      .map((s) => s.address.replace(/_[0-9A-F]{8}$/, "").replace(/^terraform_data\./, ""));
    // Every host prepares at once, before any join starts.
    const byName = new Map(deployed.apply.steps.map((s) => [s.address.replace(/_[0-9A-F]{8}$/, "").replace(/^terraform_data\./, ""), s]));
    const prepares = ["dbnode-1_prepare", "dbnode-2_prepare", "witness-1_prepare"].map((n) => byName.get(n)!);
    expect(Math.max(...prepares.map((p) => p.startSeconds)) - Math.min(...prepares.map((p) => p.startSeconds))).toBeLessThan(5);
    expect(order.indexOf("dbnode-1_setup")).toBeLessThan(order.indexOf("dbnode-2_setup"));
    expect(order.indexOf("dbnode-1_setup")).toBeLessThan(order.indexOf("witness-1_setup"));
    expect(order.indexOf("dbnode-2_setup")).toBeLessThan(order.indexOf("ems-1_install"));
    expect(order.indexOf("witness-1_setup")).toBeLessThan(order.indexOf("ems-1_install"));
    expect(order.indexOf("ems-1_install")).toBeLessThan(order.indexOf("ems-2_install"));
    expect(existsSync(join(deployed.stackDir, "cdk.tf.json"))).toBe(true);
  }, 1_200_000);

  it("reports a healthy cluster with `ems-ha status`: one primary, a streaming standby, the witness, EMS services per role", async () => {
    const secrets = labSecrets(state!);
    const d = parseDeployment(labDeployment(state!.prefix));
    const env = labCliEnv(secrets);
    const s = await gatherStatus(d, { env });
    expect(s.degraded, s.reasons.join("; ")).toBe(false);
    expect(s.writablePrimaries).toEqual(["dbnode-1"]);
    const roles = Object.fromEntries(s.dbNodes.map((n) => [n.name, n.role]));
    expect(roles).toEqual({ "dbnode-1": "primary", "dbnode-2": "standby", "witness-1": "witness" });
    // /etc/repmgr.conf of both data nodes names the failover validation script
    expect(Object.fromEntries(s.dbNodes.map((n) => [n.name, n.failoverValidation]))).toEqual({ "dbnode-1": true, "dbnode-2": true, "witness-1": undefined });
    expect(s.emsNodes.map((e) => [e.name, e.role, e.missing.length])).toEqual([
      ["ems-1", "primary", 0],
      ["ems-2", "secondary", 0],
    ]);
    // every DB node's data directory, as df sees it on the host
    expect((s.disks ?? []).map((u) => [u.node, u.path]).sort()).toEqual([
      ["dbnode-1", "/var/lib/postgresql/15/main"],
      ["dbnode-2", "/var/lib/postgresql/15/main"],
      ["witness-1", "/var/lib/postgresql/15/main"],
    ]);
    for (const u of s.disks!) expect(u.sizeKb > 0 && u.availableKb <= u.sizeKb && u.usedPercent >= 0 && u.usedPercent <= 100, JSON.stringify(u)).toBe(true);
    log(`data filesystems: ${s.disks!.map((u) => `${u.node} ${u.usedPercent}% of ${u.sizeKb} kB (${u.mount})`).join(", ")}`);
    // repmgr's slot for the standby on the primary, in use, within the deployment's cap
    expect((s.slots ?? []).map((x) => [x.name, x.node, x.active, x.walStatus])).toEqual([["repmgr_slot_2", "dbnode-2", true, "reserved"]]);
    const cap = await labExec(state!, "dbnode-1", `cd /tmp && sudo -u postgres psql -XtAc "show max_slot_wal_keep_size"`, { timeoutMs: 30_000 });
    expect(cap.stdout.trim()).toBe("2GB");
    // The CLI itself, as a user runs it: exit 0 when healthy.
    const cli = await spawnAsync(process.execPath, [join(REPO_ROOT, "bin/ems-ha.js"), "status", "--config", join(state!.stateDir, "deployment.json")], {
      env,
      timeoutMs: 120_000,
    });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout + cli.stderr).not.toContain(secrets.db_password);
  }, 300_000);

  it("rotates repmgrd's log with the real logrotate, and repmgrd writes on into the new file", async () => {
    const conf = nativeLayout().repmgrdLogrotate;
    const dir = nativeLayout().repmgrLogDir;
    await labOk(state!, "witness-1", `test -s ${dir}/repmgr.log && test -f ${conf}`);
    await labOk(state!, "witness-1", `logrotate -f ${conf}`);
    expect((await labOk(state!, "witness-1", `ls ${dir}`)).split("\n").filter(Boolean).sort()).toEqual(["repmgr.log", "repmgr.log.1"]);
    expect((await labOk(state!, "witness-1", `stat -c '%U %a %s' ${dir}/repmgr.log`)).trim()).toMatch(/^postgres 640 \d+$/);
    // the postrotate HUP made repmgrd reopen its file: what it logs at the next HUP lands in the new one
    const t0 = Date.now();
    let newLog = "";
    for (let i = 0; i < 15 && !/SIGHUP/.test(newLog); i++) {
      await labOk(state!, "witness-1", "systemctl reload repmgrd");
      await new Promise((r) => setTimeout(r, 2_000));
      newLog = await labOk(state!, "witness-1", `cat ${dir}/repmgr.log`);
    }
    log(`repmgrd wrote into the new log ${((Date.now() - t0) / 1000).toFixed(1)} s after the rotation: ${newLog.trim().split("\n")[0]}`);
    expect(newLog).toMatch(/SIGHUP/);
    expect(await labOk(state!, "witness-1", "systemctl is-active repmgrd")).toBe("active\n");
  }, 120_000);

  it("fails over when the primary stops abruptly, loses at most the asynchronous tail, and rejoins the old primary", async () => {
    const r = await labDrill(state!, { log });
    log(JSON.stringify({ ...r, clusterShow: undefined }));
    expect(r.oldPrimary).toBe("dbnode-1");
    expect(r.newPrimary).toBe("dbnode-2");
    expect(r.failoverSeconds).not.toBeNull();
    expect(r.failoverSeconds!).toBeLessThan(60);
    expect(r.rowsAcknowledged).toBeGreaterThan(10);
    expectOnlyTheAsyncTailLost(r);
    expect(r.rejoined).toBe(true);
    expect(r.writablePrimaries).toBe(1);
    expect(r.clusterShowPrimaries).toBe(1);
    expect(r.clusterShow).toMatch(/dbnode-1\s*\|\s*standby\s*\|\s*running\s*\|\s*dbnode-2/);
    // dbnode-2's repmgrd ran the failover validation script before promoting (docs/reliability.md#two-standbys-promoted-at-once)
    const v = await labExec(state!, "dbnode-2", "grep -E 'failover validation command|no other data node answers' /var/log/repmgr/repmgr.log | tail -5", {
      timeoutMs: 30_000,
    });
    log(`dbnode-2's validation: ${v.stdout.trim()}`);
    expect(v.stdout).toMatch(/no other data node answers as primary and no standby ranks above this node/);
    // the witness arbitrated: dbnode-2's claim to succeed dbnode-1 is on it
    expect(v.stdout).toMatch(/claimed the succession of node 1 on witness witness-1/);
    expect(v.stdout).toMatch(/failover validation command returned zero/);
  }, 600_000);

  it("re-applies with no changes after the failover: plan empty, nothing re-cloned, nothing reinstalled, dbnode-2 stays primary", async () => {
    const inRecovery = async (): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      for (const n of ["dbnode-1", "dbnode-2"])
        out[n] = (await labExec(state!, n, `cd /tmp && sudo -u postgres psql -XtAc "select pg_is_in_recovery()"`, { timeoutMs: 30_000 })).stdout.trim();
      return out;
    };
    expect(await inRecovery()).toEqual({ "dbnode-1": "t", "dbnode-2": "f" });
    const plan = await labPlan(state!, labDeployment(state!.prefix, "tuned"), log);
    log(`day-2 plan: exit ${plan.exitCode}, ${plan.seconds} s, changes: ${plan.changes.join(", ") || "none"}`);
    expect(plan.changes).toEqual([]);
    expect(plan.exitCode).toBe(0);
    const r = await labReapply(state!, deployed!.stackDir, log);
    expect([r.added, r.changed, r.destroyed]).toEqual([0, 0, 0]);
    expect(r.steps).toEqual([]);
    expect(await inRecovery()).toEqual({ "dbnode-1": "t", "dbnode-2": "f" });
  }, 600_000);
});
