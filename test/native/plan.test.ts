/**
 * Real `terraform init && terraform plan` of the synthesized native-single-region stack, as a
 * review pipeline runs it: no SSH key file, dummy secrets in TF_VAR_*, no provider download.
 */
import { Testing } from "cdktf";
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnAsync } from "../../src/spawn-async";
import { DUMMY_SECRETS, exampleDeployment, nativeStack } from "./helpers";
import { tempDir } from "../helpers/tmp";

function terraformBinary(): string {
  const r = spawnSync("terraform", ["version"], { encoding: "utf8", timeout: 20_000 });
  if (r.error || r.status !== 0) {
    throw new Error("terraform is not installed or not on PATH: this test needs Terraform >= 1.4 (terraform_data); install it from releases.hashicorp.com");
  }
  return "terraform";
}

describe("terraform plan of native-single-region", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let planOutput = "";
  const keyPath = "/nonexistent/ems-ha-test/id_ed25519";

  beforeAll(async () => {
    const tf = terraformBinary();
    dir = tempDir("ems-ha-native-plan-");
    const d = exampleDeployment((i) => ({
      ...i,
      emsNodes: i.emsNodes.map((n) => ({ ...n, ssh: { ...n.ssh, privateKeyPath: keyPath } })),
      database: { ...i.database, nodes: i.database.nodes.map((n) => ({ ...n, ssh: { ...n.ssh, privateKeyPath: keyPath } })) },
      native: { ...i.native, extensions: { path: "/nonexistent/ems_pg_extensions.tar.gz", sha256: "a".repeat(64) } },
    }));
    writeFileSync(join(dir, "main.tf.json"), Testing.synth(nativeStack(d)));
    const cliConfig = join(dir, "empty.tfrc");
    writeFileSync(cliConfig, "");
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      CHECKPOINT_DISABLE: "1",
      TF_CLI_CONFIG_FILE: cliConfig,
      TF_IN_AUTOMATION: "1",
      TF_VAR_db_password: DUMMY_SECRETS.db_password,
      TF_VAR_repmgr_password: DUMMY_SECRETS.repmgr_password,
      TF_VAR_symmetric_key: DUMMY_SECRETS.symmetric_key,
    };
    const init = await spawnAsync(tf, ["init", "-input=false", "-no-color"], { cwd: dir, env, timeoutMs: 120_000 });
    if (init.status !== 0) throw new Error(`terraform init failed (${init.error?.message ?? `exit ${init.status}`}):\n${init.stderr}${init.stdout}`);
    const plan = await spawnAsync(tf, ["plan", "-input=false", "-no-color", "-out=plan.bin"], { cwd: dir, env, timeoutMs: 180_000 });
    planOutput = `${plan.stdout}\n${plan.stderr}`;
    if (plan.status !== 0) throw new Error(`terraform plan failed (exit ${plan.status}):\n${planOutput.slice(0, 4000)}`);
    const show = await spawnAsync(tf, ["show", "-no-color", "plan.bin"], { cwd: dir, env, timeoutMs: 120_000 });
    planOutput += `\n${show.stdout}\n${show.stderr}`;
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("plans every node, the key exchange and EMS without an SSH key file or extension tarball", () => {
    // 3 DB nodes (prepare + join each) + an SSH key sync per data node (2) + the rolling restart
    // (one step per node, then one per data node: 5) + 2 EMS nodes
    expect(planOutput).toMatch(/Plan: 15 to add, 0 to change, 0 to destroy/);
    for (const addr of ["dbnode-1", "dbnode-2", "witness-1", "ssh-keys", "rolling-restart", "ems-1", "ems-2"]) expect(planOutput).toContain(addr);
  });

  it("prints no secret value", () => {
    for (const v of Object.values(DUMMY_SECRETS)) expect(planOutput).not.toContain(v);
  });

  it("needed no provider", () => {
    const providers = join(dir, ".terraform", "providers");
    let entries: string[];
    try {
      entries = readdirSync(providers);
    } catch {
      entries = [];
    }
    expect(entries).toEqual([]);
  });
});
