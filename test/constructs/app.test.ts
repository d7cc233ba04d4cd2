/**
 * The cdktf app as users run it: every example synthesizes; no secret value reaches cdktf.out;
 * a bad deployment exits 2 and writes nothing.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnAsync } from "../../src/spawn-async";
import example from "../../examples/single-region";
import { tempDir } from "../helpers/tmp";

const ROOT = join(__dirname, "../..");
const SECRETS = {
  TF_VAR_db_password: "Sentinel-DbPass-7f3a9c",
  TF_VAR_repmgr_password: "Sentinel-Repmgr-51be02",
  TF_VAR_fortigate_token: "Sentinel-FgtToken-c0ffee",
  TF_VAR_symmetric_key: "Sentinel-SymKey-1d2e3f",
  EMS_HA_DB_PASSWORD: "Sentinel-EnvPass-99aa11",
};

function runApp(env: Record<string, string>, cwd = ROOT) {
  return spawnAsync(process.execPath, [join(ROOT, "node_modules/tsx/dist/cli.mjs"), join(ROOT, "stacks/main.ts")], {
    cwd,
    env: { ...process.env, CHECKPOINT_DISABLE: "1", EMS_HA_CONFIG: "", ...env },
    timeoutMs: 120_000,
  });
}

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? allFiles(p) : [p];
  });
}

describe("cdktf app", () => {
  it("synthesizes every example stack and no secret value appears anywhere in the output", async () => {
    const out = join(tempDir("ems-ha-out-"), "cdktf.out");
    const r = await runApp({ ...SECRETS, CDKTF_OUTDIR: out });
    expect(r.status, r.stderr).toBe(0);
    const stacks = readdirSync(join(out, "stacks"));
    expect(stacks).toContain("single-region");
    for (const s of stacks) expect(existsSync(join(out, "stacks", s, "cdk.tf.json"))).toBe(true);
    const files = allFiles(out);
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      for (const [name, value] of Object.entries(SECRETS)) expect(text.includes(value), `${name} found in ${f}`).toBe(false);
    }
    for (const [name, value] of Object.entries(SECRETS)) {
      expect(r.stdout.includes(value) || r.stderr.includes(value), `${name} printed`).toBe(false);
    }
  });

  it("synthesizes the user's deployment from EMS_HA_CONFIG as the stack of its topology", async () => {
    const dir = tempDir("ems-ha-user-");
    const cfg = join(dir, "mine.json");
    writeFileSync(cfg, JSON.stringify({ ...example, emsNodes: [...example.emsNodes, { name: "ems-3", address: "192.168.1.12" }] }));
    const out = join(dir, "out");
    const r = await runApp({ EMS_HA_CONFIG: cfg, CDKTF_OUTDIR: out, EMS_HA_OFFLINE_FILES: "1" });
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(out, "stacks"))).toEqual(["single-region"]);
    const json = JSON.parse(readFileSync(join(out, "stacks/single-region/cdk.tf.json"), "utf8"));
    expect(Object.keys(json.resource.terraform_data).filter((k) => k.startsWith("ems-3_install"))).toHaveLength(1);
  });

  it("prints topology rule warnings at synth on stdout (cdktf shows stderr as [ERROR]), labelled warning, with the nodes and the fix", async () => {
    const dir = tempDir("ems-ha-warn-");
    const cfg = join(dir, "two-nodes.json");
    writeFileSync(cfg, JSON.stringify({ ...example, database: { ...example.database, nodes: example.database.nodes.filter((n) => n.role === "data") } }));
    const r = await runApp({ EMS_HA_CONFIG: cfg, CDKTF_OUTDIR: join(dir, "out"), EMS_HA_OFFLINE_FILES: "1" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\[single-region\] warning: even-voting-nodes \[pg-1, pg-2\]: .*Fix: /m);
    expect(r.stdout.match(/even-voting-nodes/g)).toHaveLength(1);
    expect(r.stdout).toContain(`ems-ha: deployment ${cfg} (from $EMS_HA_CONFIG)`);
    expect(r.stderr).toBe("");
  });

  describe("local files", () => {
    /** A user deployment whose files exist next to it, named by relative paths. */
    function withFiles(dir: string, installerBytes = "installer stand-in\n") {
      writeFileSync(join(dir, "ems.bin"), installerBytes);
      writeFileSync(join(dir, "fg-ca.pem"), "-----BEGIN CERTIFICATE-----\n");
      mkdirSync(join(dir, "keys"));
      writeFileSync(join(dir, "keys", "id"), "key\n", { mode: 0o600 });
      const sha = createHash("sha256").update("installer stand-in\n").digest("hex");
      const ssh = { user: "root", privateKeyPath: "keys/id" };
      return {
        ...example,
        emsNodes: example.emsNodes.map((n) => ({ ...n, ssh })),
        database: { ...example.database, nodes: example.database.nodes.map((n) => ({ ...n, ssh })) },
        installer: { ...example.installer, source: { kind: "file", path: "./ems.bin", sha256: sha } },
        fortigate: { ...example.fortigate!, caBundleFile: "fg-ca.pem" },
      };
    }

    it("makes every local path absolute, relative to the deployment file (cdktf runs Terraform in cdktf.out/stacks/<stack>)", async () => {
      const dir = tempDir("ems-ha-paths-");
      const cfg = join(dir, "deployment.json");
      writeFileSync(cfg, JSON.stringify(withFiles(dir)));
      const out = join(dir, "out");
      // Run from another directory: the paths must not depend on where cdktf is started.
      const r = await runApp({ EMS_HA_CONFIG: cfg, CDKTF_OUTDIR: out }, tempDir("ems-ha-cwd-"));
      expect(r.status, r.stderr).toBe(0);
      const json = JSON.parse(readFileSync(join(out, "stacks/single-region/cdk.tf.json"), "utf8"));
      const install = Object.entries(
        json.resource.terraform_data as Record<string, { provisioner: Array<Record<string, { source?: string }>>; connection: { private_key: string } }>,
      ).find(([k]) => k.startsWith("ems-1_install"))![1];
      expect(install.provisioner.map((p) => p.file?.source).filter(Boolean)).toEqual([join(dir, "ems.bin")]);
      expect(install.connection.private_key).toContain(`file("${join(dir, "keys/id")}")`);
      expect(json.provider.fortios[0]).toMatchObject({ insecure: false, cabundlefile: join(dir, "fg-ca.pem") });
      expect(json.provider.docker[0].ssh_opts).toEqual(expect.arrayContaining(["-i", join(dir, "keys/id")]));
    });

    it("exits 2 naming the field when a local file is missing or its sha256 does not match, and writes nothing", async () => {
      const dir = tempDir("ems-ha-files-");
      const cfg = join(dir, "deployment.json");
      const d = withFiles(dir, "another installer\n");
      writeFileSync(cfg, JSON.stringify({ ...d, fortigate: { ...d.fortigate, caBundleFile: "missing-ca.pem" } }));
      const out = join(dir, "out");
      const r = await runApp({ EMS_HA_CONFIG: cfg, CDKTF_OUTDIR: out });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("installer.source.path");
      expect(r.stderr).toMatch(/sha256 is [0-9a-f]{64}/);
      expect(r.stderr).toContain("fortigate.caBundleFile");
      expect(r.stderr).toContain(join(dir, "missing-ca.pem"));
      expect(r.stderr).toContain("EMS_HA_OFFLINE_FILES=1");
      expect(existsSync(out)).toBe(false);
      // Offline mode: the same deployment synthesizes, with warnings.
      const off = await runApp({ EMS_HA_CONFIG: cfg, CDKTF_OUTDIR: out, EMS_HA_OFFLINE_FILES: "1" });
      expect(off.status, off.stderr).toBe(0);
      expect(off.stdout).toMatch(/warning: installer\.source\.path/);
      expect(off.stderr).toBe("");
    });
  });

  it("still refuses to synthesize without Terraform (the version check runs once, not once per resource)", async () => {
    const out = join(tempDir("ems-ha-notf-"), "cdktf.out");
    const r = await runApp({ CDKTF_OUTDIR: out, PATH: "/usr/bin:/bin" });
    expect(r.status).not.toBe(0);
    const mentions = r.stderr.match(/Could not determine version of terraform/g) ?? [];
    expect(mentions.length).toBeGreaterThan(0);
  });

  it("exits 2 with every error and writes nothing for a bad deployment", async () => {
    const dir = tempDir("ems-ha-bad-");
    const cfg = join(dir, "bad.json");
    writeFileSync(cfg, JSON.stringify({ ...example, ems: { fqdn: "x.example.com", vip: "not-an-ip", keepaliveSeconds: 99 } }));
    const out = join(dir, "out");
    const r = await runApp({ EMS_HA_CONFIG: cfg, CDKTF_OUTDIR: out });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("ems.vip");
    expect(r.stderr).toContain("ems.keepaliveSeconds");
    expect(r.stderr).toContain("Fix:");
    expect(existsSync(out)).toBe(false);
  });
});
