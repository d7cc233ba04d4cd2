import { spawn } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import example from "../../examples/vm-appliances";
import type { DeploymentInput } from "../../src/config/schema";
import { resourcesByPath, synthDeployment } from "../helpers/synth";
import { StandinAppliance, StandinDatabase } from "../standins/ems-appliance-cli";
import { configError, dependsOn, provisioners, refersTo, TERRAFORM } from "./helpers";
import { tempDir } from "../helpers/tmp";

describe("vm-appliances stack", () => {
  const { json, text } = synthDeployment(example);
  const td = resourcesByPath(json, "terraform_data");
  const redirect = (n: string) => td.get(`vm-appliances/${n}/redirect`);

  it("redirects the primary before the secondaries, one after the other", () => {
    expect(dependsOn(redirect("ems-1"))).toEqual([]);
    expect(refersTo(dependsOn(redirect("ems-2")), "terraform_data", "ems-1_redirect")).toBe(true);
    const three = structuredClone(example) as DeploymentInput;
    three.emsNodes.push({ name: "ems-3", address: "172.19.201.163", ssh: { user: "ems" } });
    const t = resourcesByPath(synthDeployment(three).json, "terraform_data");
    expect(refersTo(dependsOn(t.get("vm-appliances/ems-3/redirect")), "terraform_data", "ems-2_redirect")).toBe(true);
    const cmd = (n: string) => provisioners(t.get(`vm-appliances/${n}/redirect`))[1]!["local-exec"]!.command as string;
    expect(cmd("ems-1")).toContain("--role primary");
    expect(cmd("ems-2")).toContain("--role secondary");
    expect(cmd("ems-3")).toContain("--role secondary");
  });

  it("gives the runner the guide's redirect target and no secret; the secrets go to one-run files", () => {
    const [write, run] = provisioners(redirect("ems-1")).map((p) => p["local-exec"]!);
    expect(write!.environment).toEqual({ EMS_HA_DB_PASSWORD: "${var.db_password}", EMS_HA_APPLIANCE_PASSWORD: "${var.appliance_password}" });
    expect(write!.command).toMatch(/^umask 077 && /);
    const cmd = run!.command as string;
    expect(cmd).toMatch(
      /bin\/ems-ha\.js appliance run --host 172\.19\.201\.161 --port 22 --user ems --role primary --hostname EMS-1 --db-host 172\.19\.201\.160 --db-port 5432 --db-user postgres --db-password-file \.ems-ha-secrets\/ems-1\.db --password-file \.ems-ha-secrets\/ems-1\.login /,
    );
    expect(cmd).toContain("--known-hosts '~/.ssh/known_hosts'");
    expect(run!.environment).toBeUndefined();
    expect(cmd).not.toContain("var.");
    expect(json.variable!.appliance_password).toMatchObject({ sensitive: true, default: "" });
    expect(json.variable!.repmgr_password).toBeUndefined();
  });

  it("puts the appliances behind the FortiGate", () => {
    const vip = Object.values(json.resource.fortios_firewall_vip!)[0]!;
    expect((vip.realservers as Array<{ ip: string }>).map((r) => r.ip)).toEqual(["172.19.201.161", "172.19.201.162"]);
    expect(refersTo(dependsOn(vip), "terraform_data", "ems-2_redirect")).toBe(true);
    expect(text).toBe(synthDeployment(example).text);
  });

  it("rejects root as the appliance login and a second DB server", () => {
    const root = structuredClone(example) as DeploymentInput;
    root.emsNodes[1]!.ssh = { user: "root" };
    expect(configError(root).message).toContain("emsNodes[1].ssh.user: an EMS VM appliance is logged in to as its CLI user, not root");
    const two = structuredClone(example) as DeploymentInput;
    two.database.nodes.push({ name: "emsdb-2", address: "172.19.201.170", role: "data" });
    expect(configError(two).message).toContain("uses exactly one remote PostgreSQL server");
    const hn = structuredClone(example) as DeploymentInput;
    hn.appliances!.hostnames = { "ems-1": "EMS-1", "ems-2": "ems-1", "ems-9": "X" };
    const m = configError(hn).message;
    expect(m).toContain("appliances.hostnames.ems-9: no EMS node has this name");
    expect(m).toContain("appliances.hostnames.ems-2: hostname already used by ems-1");
  });

  describe("applied by real Terraform against two stand-in appliances", () => {
    const stops: Array<() => Promise<void>> = [];
    afterAll(async () => Promise.all(stops.map((s) => s())));

    it("redirects both (primary first), shows the runner's output with secrets masked, and a re-apply changes nothing", async () => {
      expect(existsSync(TERRAFORM), `terraform is needed at ${TERRAFORM}`).toBe(true);
      const DB_PASS = "Tf-Db-Secret-3c9d";
      const LOGIN = "Tf-Login-Secret-81aa";
      const db = new StandinDatabase("10.77.0.5", 5432, "postgres", DB_PASS);
      const apps = [
        new StandinAppliance({ db, password: LOGIN, listenAddress: "127.0.0.1" }),
        new StandinAppliance({ db, password: LOGIN, listenAddress: "127.0.0.2" }),
      ];
      for (const a of apps) {
        await a.start();
        stops.push(() => a.stop());
      }
      const dir = tempDir("ems-ha-tf-appl-");
      const kh = join(dir, "known_hosts");
      writeFileSync(kh, apps.map((a) => a.knownHostsLine()).join("\n") + "\n");
      const input = structuredClone(example) as DeploymentInput;
      delete input.fortigate;
      input.emsNodes = apps.map((a, i) => ({ name: `ems-${i + 1}`, address: `127.0.0.${i + 1}`, ssh: { user: "ems", port: a.port } }));
      input.database.nodes = [{ name: "emsdb-1", address: "10.77.0.5", role: "data" }];
      input.appliances = { ...input.appliances, knownHostsPath: kh, commandTimeoutSeconds: 10, redirectTimeoutSeconds: 30 };
      writeFileSync(join(dir, "main.tf.json"), synthDeployment(input).text);
      const env = {
        ...process.env,
        CHECKPOINT_DISABLE: "1",
        TF_CLI_CONFIG_FILE: join(dir, "none.tfrc"),
        TF_IN_AUTOMATION: "1",
        TF_VAR_db_password: DB_PASS,
        TF_VAR_appliance_password: LOGIN,
      };
      // Asynchronous: the stand-ins answer from this process's event loop while Terraform runs.
      const tf = (...args: string[]) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          const p = spawn(TERRAFORM, [...args, "-no-color"], { cwd: dir, env, timeout: 240_000 });
          let stdout = "";
          let stderr = "";
          p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
          p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
          p.on("close", (status) => resolve({ status, stdout, stderr }));
        });
      const init = await tf("init", "-input=false");
      expect(init.status, init.stderr).toBe(0);

      const apply = await tf("apply", "-auto-approve", "-input=false");
      const out = apply.stdout + apply.stderr;
      expect(apply.status, out).toBe(0);
      expect(out).toContain("127.0.0.1: redirect ended with Exit Success");
      expect(out).toContain("127.0.0.2: ha get nodes shows EMS-2 as standby, online");
      expect(out.indexOf("127.0.0.1: redirected as primary")).toBeLessThan(out.indexOf("127.0.0.2: redirect to"));
      expect(out).not.toContain(DB_PASS);
      expect(out).not.toContain(LOGIN);
      expect(db.emsNodes).toEqual([
        { name: "EMS-1", role: "primary" },
        { name: "EMS-2", role: "standby" },
      ]);
      expect(readdirSync(join(dir, ".ems-ha-secrets"))).toEqual([]);

      const sent = apps.map((a) => a.received.length);
      const again = await tf("apply", "-auto-approve", "-input=false");
      expect(again.status, again.stdout + again.stderr).toBe(0);
      expect(again.stdout).toContain("0 added, 0 changed, 0 destroyed");
      expect(apps.map((a) => a.received.length)).toEqual(sent);
    }, 240_000);
  });
});
