import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import example from "../../examples/upgrade-7-4-4";
import type { DeploymentInput } from "../../src/config/schema";
import { resourcesByPath, synthDeployment } from "../helpers/synth";
import { configError, dependsOn, fileContent, parseDockerRun, refersTo, terraformPlan } from "./helpers";

const NODES = ["pgn-1", "pgn-2", "pgnw-1"] as const;
/** "terraform_data.pgn-1-stop_run_0A1B2C3D" -> "terraform_data.pgn-1-stop" */
const stepId = (dep: string) => dep.replace(/_run(_[0-9A-F]{8})?$/, "");

describe("upgrade-7-4-4 stack", () => {
  const { json, text } = synthDeployment(example);
  const td = resourcesByPath(json, "terraform_data");
  const step = (node: string, s: string) => td.get(`upgrade-7-4-4/${node}-${s}/run`);
  const script = (node: string, s: string) => fileContent(step(node, s), /\/script\.sh$/);
  const runOf = (node: string) => parseDockerRun(/^ {2}docker run .*$/m.exec(script(node, "start"))![0]);

  it("starts each node's new container on that node's OWN existing volume (not pg_1_data everywhere, as the guide's step 7)", () => {
    expect(NODES.map((n) => runOf(n).volumes[0])).toEqual(["pg_1_data:/bitnami/postgresql", "pg_2_data:/bitnami/postgresql", "pgw_1_data:/bitnami/postgresql"]);
    for (const n of NODES) {
      const s = script(n, "start");
      expect(s).toContain('docker volume inspect "$VOLUME" >/dev/null 2>&1 || fail "volume $VOLUME does not exist on this host');
    }
  });

  it("keeps the witness in the partner list and sets REPMGR_UPGRADE_EXTENSION=yes", () => {
    for (const n of NODES) {
      const f = runOf(n);
      expect(f.env.REPMGR_PARTNER_NODES).toBe("pgn-1,pgn-2,pgnw-1:5432");
      expect(f.env.REPMGR_UPGRADE_EXTENSION).toBe("yes");
      expect(f.env.REPMGR_PRIMARY_HOST).toBe("pgn-1");
      expect(f.name).toBe(n);
      expect(f.addHosts).toEqual(["pgn-1:192.168.1.21", "pgn-2:192.168.1.22", "pgnw-1:192.168.1.23"]);
      expect(f.envFiles).toEqual([`/var/lib/ems-ha/secrets/${n}.env`]);
    }
    expect(runOf("pgnw-1").env).toMatchObject({ REPMGR_NODE_TYPE: "witness", REPMGR_NODE_ID_START_SEED: "2000" });
    expect(runOf("pgn-1").volumes[1]).toBe("/home/ems/conf.d:/bitnami/postgresql/conf/conf.d");
  });

  it("stops the new containers like every other DB container: SIGINT (fast shutdown) with the long grace, not docker's 10 s then SIGKILL", () => {
    for (const n of NODES) expect({ n, signal: runOf(n).stopSignal, timeout: runOf(n).stopTimeout }).toEqual({ n, signal: "SIGINT", timeout: "120" });
  });

  it("runs the guide's steps in order: ALTER SYSTEM, stop (witness, standby, primary last), load, start primary + register, standbys, witness", () => {
    expect(script("pgn-2", "prepare")).toContain("ALTER SYSTEM SET shared_preload_libraries TO pg_stat_statements, repmgr;");
    for (const n of NODES) expect(dependsOn(step(n, "prepare"))).toEqual([]);
    expect(NODES.every((n) => refersTo(dependsOn(step("pgnw-1", "stop")), "terraform_data", `${n}-prepare_run`))).toBe(true);
    expect(refersTo(dependsOn(step("pgn-2", "stop")), "terraform_data", "pgnw-1-stop_run")).toBe(true);
    expect(refersTo(dependsOn(step("pgn-1", "stop")), "terraform_data", "pgn-2-stop_run")).toBe(true);
    for (const n of NODES) expect(dependsOn(step(n, "load")).map(stepId)).toEqual(["terraform_data.pgn-1-stop"]);
    expect(NODES.every((n) => refersTo(dependsOn(step("pgn-1", "start")), "terraform_data", `${n}-load_run`))).toBe(true);
    expect(dependsOn(step("pgn-2", "start")).map(stepId)).toEqual(["terraform_data.pgn-1-start"]);
    expect(dependsOn(step("pgnw-1", "start")).map(stepId).sort()).toEqual(["terraform_data.pgn-1-start", "terraform_data.pgn-2-start"]);
    expect(script("pgn-1", "start")).toContain("primary register --force");
    expect(script("pgn-2", "start")).not.toContain("primary register");
    expect(script("pgn-1", "load")).toContain("docker load -i '/root/forticlientems_7.4.4.2034.F_postgres-ha.tar.gz'");
  });

  it("stops a reconciliation service already on the host before the old container, and installs it for the new containers once all run", () => {
    for (const n of NODES) {
      const stop = script(n, "stop");
      expect(stop.indexOf("systemctl stop ems-ha-reconcile")).toBeGreaterThan(0);
      expect(stop.indexOf("systemctl stop ems-ha-reconcile")).toBeLessThan(stop.indexOf('docker stop --time 60 "$OLD"'));
      const rec = td.get(`upgrade-7-4-4/${n}-reconcile`);
      expect(dependsOn(rec).map(stepId).sort()).toEqual(NODES.map((x) => `terraform_data.${x}-start`).sort());
      const install = fileContent(rec, /\/script\.sh$/);
      expect(install).toContain(`CONTAINER=${n}`);
      expect(install).toContain("systemctl enable --quiet ems-ha-reconcile");
    }
  });

  it("skips every step on a node whose new container already runs, and keeps the old container out of any restart", () => {
    expect(script("pgn-1", "prepare")).toMatch(/^if new_running; then log "already upgraded/m);
    expect(script("pgn-1", "stop")).toMatch(/^if new_exists; then log "already upgraded: nothing to stop"; exit 0; fi$/m);
    expect(script("pgn-1", "stop")).toContain('docker update --restart=no "$OLD"');
    expect(script("pgn-1", "start")).toMatch(/^if ! new_exists; then$/m);
    expect(script("pgn-1", "start")).toContain("if [ ! -f /var/lib/ems-ha/upgrade-registered-pgn-1 ]; then");
    expect(synthDeployment(example).text).toBe(text);
  });

  it("checks that the old container mounts the configured volume and is in the expected role before touching it", () => {
    const s = script("pgn-2", "prepare");
    expect(s).toContain(`[ "$got" = "$VOLUME" ] || fail`);
    expect(s).toContain('[ "$r" = "t" ] || fail "$OLD is not a standby');
    expect(script("pgn-1", "prepare")).toContain('[ "$r" = "f" ] || fail "$OLD is not the primary');
  });

  it("renames the old container when the new one keeps its name", () => {
    const input = structuredClone(example) as DeploymentInput;
    input.database.nodes = input.database.nodes.map((n, i) => ({ ...n, name: ["pg-1", "pg-2", "pgw-1"][i]! }));
    delete input.upgrade;
    const { json: j } = synthDeployment(input);
    const stop = fileContent(resourcesByPath(j, "terraform_data").get("upgrade-7-4-4/pg-2-stop/run"), /\/script\.sh$/);
    expect(stop).toContain(`if [ "$OLD" = pg-2 ]; then docker rename "$OLD" pg-2-pre-upgrade;`);
  });

  it("passes the passwords only through the sensitive env file", () => {
    expect(fileContent(step("pgn-2", "start"), /\/secrets\/env$/)).toBe("POSTGRESQL_PASSWORD=${var.db_password}\nREPMGR_PASSWORD=${var.repmgr_password}\n");
    for (const n of NODES) for (const s of ["prepare", "stop", "load", "start"]) expect(script(n, s)).not.toMatch(/\$\{var\.|PASSWORD=(?!["$])/);
  });

  it("renders scripts bash accepts", () => {
    for (const n of NODES) {
      for (const s of ["prepare", "stop", "load", "start"]) {
        const r = spawnSync("bash", ["-n"], { input: script(n, s), encoding: "utf8", timeout: 10_000 });
        expect(r.status, `${n} ${s}: ${r.stderr}`).toBe(0);
      }
    }
  });

  it("plans with real Terraform (15 steps: 4 per node and the reconciliation services), no secret in the plan", async () => {
    const r = await terraformPlan(text, { db_password: "Plan-Db-Secret-1", repmgr_password: "Plan-Repmgr-Secret-2" });
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("Plan: 15 to add, 0 to change, 0 to destroy.");
    expect(r.output).not.toMatch(/Plan-(Db|Repmgr)-Secret/);
  });

  it("rejects two nodes on one volume (the guide's step 7)", () => {
    const input = structuredClone(example) as DeploymentInput;
    input.upgrade!.previous![1] = { node: "pgn-2", container: "pg-2", volume: "pg_1_data" };
    expect(configError(input).message).toContain(
      "upgrade.previous[1]: volume pg_1_data is also the volume of pgn-1: a node must start on its own existing volume",
    );
  });
});
