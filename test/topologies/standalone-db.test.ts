import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import example from "../../examples/standalone-db";
import type { DeploymentInput } from "../../src/config/schema";
import { resourcesByPath, synthDeployment } from "../helpers/synth";
import { configError, dependsOn, fileContent, provisioners, refersTo, terraformPlan } from "./helpers";

describe("standalone-db stack", () => {
  const { json, text } = synthDeployment(example);
  const td = resourcesByPath(json, "terraform_data");
  const setup = td.get("standalone-db/database/setup");
  const script = fileContent(setup, /\/script\.sh$/);

  it("installs EMS with --db_host/--db_port of the one server: ems-1 deploys the DB, ems-2 skips it", () => {
    for (const name of ["ems-1", "ems-2"]) {
      const s = fileContent(td.get(`standalone-db/${name}/install`), /\/script\.sh$/);
      expect(s).toContain('--db_host 192.168.1.30 --db_port 5432 --db_user postgres --db_pass "$DB_PASS" --skip_db_install');
      expect(s.includes("--skip_db_deploy")).toBe(name === "ems-2");
    }
    expect(json.output!.installer_command_lines!.value).toEqual([
      "./forticlientems_7.4.4.2034.F.bin -- --db_host 192.168.1.30 --db_port 5432 --db_user postgres --db_pass \"$DB_PASS\" --skip_db_install --allowed_hosts '*' --enable_remote_https",
      "./forticlientems_7.4.4.2034.F.bin -- --db_host 192.168.1.30 --db_port 5432 --db_user postgres --db_pass \"$DB_PASS\" --skip_db_install --skip_db_deploy --allowed_hosts '*' --enable_remote_https",
    ]);
  });

  it("orders: server setup, reachability from ems-1, ems-1, ems-2, FortiGate", () => {
    expect(refersTo(dependsOn(td.get("standalone-db/db-reachable")), "terraform_data", "database_setup")).toBe(true);
    expect(refersTo(dependsOn(td.get("standalone-db/ems-1/install")), "terraform_data", "db-reachable")).toBe(true);
    expect(refersTo(dependsOn(td.get("standalone-db/ems-2/install")), "terraform_data", "ems-1_install")).toBe(true);
    expect(fileContent(td.get("standalone-db/db-reachable"), /\/script\.sh$/)).toContain("/dev/tcp/192.168.1.30/5432");
    expect((td.get("standalone-db/db-reachable")!.connection as Record<string, unknown>).host).toBe("192.168.1.10");
  });

  it("sets up the server natively: packages, extensions, key kept, listen address, pg_hba before Debian's lines, the password from a sensitive file", () => {
    expect((setup!.connection as Record<string, unknown>).host).toBe("192.168.1.30");
    expect(fileContent(setup, /\/secrets\/db_password$/)).toBe("${var.db_password}");
    const upload = provisioners(setup)
      .map((p) => p.file)
      .find((f) => f?.destination === ".ems-ha/run/standalone-db/files/0");
    expect(upload?.source).toBe(join(process.cwd(), "ems_pg_extensions.tar.gz"));
    expect(fileContent(setup, /\/run\.sh$/)).toContain('mv -f "$here/files/0" /var/lib/ems-ha/ems_pg_extensions.tar.gz');
    expect(script).toContain("apt-get install -y --no-install-recommends postgresql-15");
    expect(script).toContain("apt.postgresql.org");
    expect(script).toContain("if [ ! -s /var/lib/postgresql/15/symmetric_key.txt ]; then");
    expect(script).toContain("listen_addresses = 'localhost,192.168.1.30'");
    expect(script).toContain("work_mem = 480kB");
    expect(script).toContain("host    all    postgres    192.168.1.10/32    scram-sha-256");
    expect(script).toContain("host    all    postgres    192.168.1.11/32    scram-sha-256");
    // The managed block is written first and the old block removed from the rest: first match wins.
    expect(script.indexOf("cat <<'EMS_HA_HBA'")).toBeLessThan(script.indexOf(`sed '/^# BEGIN ems-ha standalone`));
    expect(script).toContain("ALTER ROLE postgres WITH PASSWORD :'pw';");
    expect(script).not.toContain("var.db_password");
    expect(json.variable!.repmgr_password).toBeUndefined();
  });

  it("changes nothing on a healthy server: every step checks first, and the JSON is stable", () => {
    expect(script).toMatch(/^if ! dpkg -s postgresql-15 >\/dev\/null 2>&1; then$/m);
    expect(script).toMatch(/^if \[ ! -f \/etc\/postgresql\/15\/main\/postgresql.conf \]; then$/m);
    expect(script).toContain("if cmp -s /etc/postgresql/15/main/conf.d/ems-ha.conf.new");
    expect(script).toContain(`if [ "$restart" = yes ]; then svc restart;`);
    expect(script).toContain("if [ ! -f /var/lib/ems-ha/extensions-0000000000000000000000000000000000000000000000000000000000000000 ]; then");
    expect(synthDeployment(example).text).toBe(text);
    const r = spawnSync("bash", ["-n"], { input: script, encoding: "utf8", timeout: 10_000 });
    expect(r.status, r.stderr).toBe(0);
  });

  it("with an existing server only points EMS at it", () => {
    const input = structuredClone(example) as DeploymentInput;
    input.standalone = { mode: "existing" };
    const { json: j } = synthDeployment(input);
    const t = resourcesByPath(j, "terraform_data");
    expect(t.has("standalone-db/database/setup")).toBe(false);
    expect(dependsOn(t.get("standalone-db/db-reachable"))).toEqual([]);
    expect(fileContent(t.get("standalone-db/ems-1/install"), /\/script\.sh$/)).toContain("--db_host 192.168.1.30 --db_port 5432");
  });

  it("plans with real Terraform without the FortiGate (terraform_data only), no secret in the plan", async () => {
    const input = structuredClone(example) as DeploymentInput;
    delete input.fortigate;
    const r = await terraformPlan(synthDeployment(input).text, { db_password: "Plan-Db-Secret-3" });
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("Plan: 4 to add, 0 to change, 0 to destroy.");
    expect(r.output).not.toContain("Plan-Db-Secret-3");
  });

  it("rejects a missing standalone section and more than one server", () => {
    const none = structuredClone(example) as DeploymentInput;
    delete none.standalone;
    expect(configError(none).message).toContain("standalone: topology standalone-db needs the remote PostgreSQL server's mode");
    const two = structuredClone(example) as DeploymentInput;
    two.database.nodes.push({ name: "emsdb-2", address: "192.168.1.31", role: "data" });
    expect(configError(two).message).toContain("database.nodes: topology standalone-db uses exactly one remote PostgreSQL server");
  });
});
