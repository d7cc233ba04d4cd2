/**
 * Many deployments from one repository: deployments/*.{ts,json} (or $EMS_HA_DEPLOYMENTS) become
 * one stack per deployment named after its `name`, each with its own state; duplicates refused;
 * `ems-ha plan-review` and `ems-ha report` per deployment (--stack) and for all (--all), run as a
 * user runs them (bin/ems-ha.js, real synthesis, real terraform for the plans).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnAsync } from "../../src/spawn-async";
import native from "../../examples/native-single-region";
import standalone from "../../examples/standalone-db";
import appliances from "../../examples/vm-appliances";
import { tempDir } from "../helpers/tmp";
import { SECRETS, terraformOrFail } from "./lib/real-plan";

const ROOT = join(__dirname, "..", "..");
const TSX = join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");

function project(files: Record<string, unknown>): { dir: string; state: string } {
  const dir = tempDir("ems-ha-deployments-");
  const state = join(dir, "..", `${dir.split("/").pop()}-state`); // outside the project
  mkdirSync(join(dir, "deployments"));
  for (const [name, d] of Object.entries(files)) writeFileSync(join(dir, "deployments", name), JSON.stringify(d, null, 2));
  return { dir, state };
}

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CHECKPOINT_DISABLE: "1",
    TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE ?? "/dev/null",
    ...extra,
  };
  for (const [k, v] of Object.entries(SECRETS)) e[`TF_VAR_${k}`] = v;
  return e;
}

async function synth(cwd: string, extra: Record<string, string> = {}) {
  const out = join(cwd, "cdktf.out");
  const r = await spawnAsync(process.execPath, [TSX, join(ROOT, "stacks", "main.ts")], {
    cwd,
    env: env({ CDKTF_OUTDIR: out, ...extra }),
    timeoutMs: 120_000,
  });
  return { ...r, out };
}

function cli(cwd: string, args: string[], input?: string, extra: Record<string, string> = {}) {
  return spawnAsync(process.execPath, [join(ROOT, "bin", "ems-ha.js"), ...args], { cwd, env: env(extra), input, timeoutMs: 300_000 });
}

/**
 * The example as a user's deployment: no FortiGate, its own state, and the local files it names
 * (installer, extensions, SSH key) present in `filesDir` with matching sha256, since a user
 * deployment's files are checked at synth (the examples name placeholders).
 */
const clean = (d: any, name: string, stateDir: string, filesDir?: string) => {
  const c = structuredClone(d);
  delete c.fortigate;
  if (filesDir) {
    const put = (file: string, text: string) => {
      writeFileSync(join(filesDir, file), text);
      return createHash("sha256").update(text).digest("hex");
    };
    if (c.installer.source.kind === "file") c.installer.source.sha256 = put(c.installer.source.path, "installer stand-in\n");
    for (const x of [c.native?.extensions, c.standalone?.extensions]) if (x) x.sha256 = put(x.path, "extensions stand-in\n");
    put("id_ed25519", "key stand-in\n");
    for (const n of [...c.emsNodes, ...c.database.nodes]) if (n.ssh?.privateKeyPath) n.ssh.privateKeyPath = "./id_ed25519";
  }
  return { ...c, name, state: { kind: "local", dir: stateDir } };
};

describe("deployments directory", () => {
  it("synthesizes one stack per deployment, named after it, each with its own state outside the project", async () => {
    const p = project({});
    const files = {
      "prod-a.json": clean(native, "prod-a", p.state, join(p.dir, "deployments")),
      "prod-b.json": clean(standalone, "prod-b", p.state, join(p.dir, "deployments")),
      "lab-c.json": clean(appliances, "lab-c", p.state, join(p.dir, "deployments")),
    };
    for (const [f, d] of Object.entries(files)) writeFileSync(join(p.dir, "deployments", f), JSON.stringify(d));
    // a TypeScript deployment file too, and files the loader ignores
    writeFileSync(join(p.dir, "deployments", "prod-d.ts"), `export default ${JSON.stringify(clean(native, "prod-d", p.state, join(p.dir, "deployments")))};\n`);
    writeFileSync(join(p.dir, "deployments", "_shared.ts"), "export const x = 1;\n");
    writeFileSync(join(p.dir, "deployments", "README.md"), "notes\n");
    const r = await synth(p.dir);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(r.out, "stacks")).sort()).toEqual(["lab-c", "prod-a", "prod-b", "prod-d"]);
    for (const name of ["lab-c", "prod-a", "prod-b", "prod-d"]) {
      const json = JSON.parse(readFileSync(join(r.out, "stacks", name, "cdk.tf.json"), "utf8"));
      expect(json.terraform.backend.local.path).toBe(join(p.state, name, "terraform.tfstate"));
    }
  });

  it("EMS_HA_DEPLOYMENTS points at another directory", async () => {
    const p = project({});
    const other = join(p.dir, "envs");
    mkdirSync(other);
    writeFileSync(join(other, "x.json"), JSON.stringify(clean(native, "site-x", p.state, other)));
    const r = await synth(p.dir, { EMS_HA_DEPLOYMENTS: other });
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(r.out, "stacks"))).toEqual(["site-x"]);
  });

  it("refuses two deployments with one name, naming both files, and writes nothing", async () => {
    const p = project({ "a.json": clean(native, "prod", "/tmp/x"), "b.json": clean(standalone, "prod", "/tmp/x") });
    const r = await synth(p.dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("name: is the name of 2 deployments");
    expect(r.stderr).toContain(join(p.dir, "deployments", "a.json"));
    expect(r.stderr).toContain(join(p.dir, "deployments", "b.json"));
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(r.out)).toBe(false);
  });

  it("collects the errors of every file at once", async () => {
    const bad = clean(native, "bad-1", "/tmp/x");
    bad.database.port = 0;
    const bad2 = clean(standalone, "BAD", "/tmp/x");
    const p = project({ "one.json": bad, "two.json": bad2 });
    const r = await synth(p.dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("one.json: database.port");
    expect(r.stderr).toContain("two.json: name");
  });

  it("plan-review --all plans every deployment with real terraform; --stack one; report --all writes one report each", async () => {
    terraformOrFail();
    const p = project({});
    writeFileSync(join(p.dir, "deployments", "prod-a.json"), JSON.stringify(clean(native, "prod-a", p.state, join(p.dir, "deployments"))));
    writeFileSync(join(p.dir, "deployments", "prod-b.json"), JSON.stringify(clean(standalone, "prod-b", p.state, join(p.dir, "deployments"))));
    const all = await cli(p.dir, ["plan-review", "--all"]);
    expect(all.stderr).toBe("");
    expect(all.status).toBe(0); // a first apply only creates
    expect(all.stdout).toContain("### ems-ha plan review: prod-a");
    expect(all.stdout).toContain("### ems-ha plan review: prod-b");
    expect(all.stdout).toContain("Terraform: 15 to add"); // prod-a: 3 hosts × (prepare + setup), 2 EMS installs, 2 key exchanges, 5 rolling-restart steps
    for (const v of Object.values(SECRETS)) expect(all.stdout).not.toContain(v);
    const one = await cli(p.dir, ["plan-review", "--stack", "prod-b", "--json"]);
    expect(one.status, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ stack: "prod-b", verdict: "safe", exitCode: 0 });
    const wrong = await cli(p.dir, ["plan-review", "--stack", "nope"]);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain("use one of: prod-a, prod-b");
    const rep = await cli(p.dir, ["report", "--all", "--out", "reports"]);
    expect(rep.status, rep.stderr).toBe(0);
    expect(readFileSync(join(p.dir, "reports", "prod-a", "report.md"), "utf8")).toContain("prod-a");
    expect(existsSync(join(p.dir, "reports", "prod-b", "topology.svg"))).toBe(true);
  }, 300_000);
});
