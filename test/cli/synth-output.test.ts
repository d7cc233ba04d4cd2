/**
 * What `cdktf synth` (the real cdktf CLI) prints around the app: a bad deployment's errors once
 * each and a non-zero exit (1: the CLI turns the app's 2 into 1); a deployment with rule warnings
 * synthesizes with each warning once, labelled "warning", and nothing under [ERROR].
 * Needs bash, and Terraform on PATH (cdktf's App.synth runs `terraform version`).
 */
import { spawn } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import example from "../../examples/single-region";
import { tempDir } from "../helpers/tmp";

const ROOT = join(__dirname, "..", "..");

/**
 * Runs `cdktf synth` with its output through a pipe (`| cat`), as a terminal or a shell pipeline
 * sees it. (Under a parent that captures output with a socket pair, as Node's child_process does,
 * the app cannot reach the CLI's stderr and each error is printed twice: src/cli/cdktf-stderr.ts.)
 */
function cdktfSynth(config: string, out: string): Promise<{ code: number | null; text: string }> {
  return new Promise((resolve, reject) => {
    const cdktf = join(ROOT, "node_modules/cdktf-cli/bundle/bin/cdktf");
    const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    const child = spawn("bash", ["-c", `set -o pipefail; ${q(process.execPath)} ${q(cdktf)} synth --output ${q(out)} 2>&1 | cat`], {
      cwd: ROOT,
      // CI=1: no spinner. TF_CLI_CONFIG_FILE unset: Terraform's own warnings about it are not under test.
      env: { ...process.env, CI: "1", CHECKPOINT_DISABLE: "1", EMS_HA_CONFIG: config, EMS_HA_OFFLINE_FILES: "1", TF_CLI_CONFIG_FILE: "", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout.on("data", (c: Buffer) => (text += c.toString()));
    child.stderr.on("data", (c: Buffer) => (text += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, text });
    });
  });
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe("cdktf synth output", () => {
  it("a bad deployment: every error exactly once, nothing under [ERROR] default, exit 1", async () => {
    const dir = tempDir("ems-ha-synth-bad-");
    const cfg = join(dir, "bad.json");
    writeFileSync(cfg, JSON.stringify({ ...example, name: "Bad Name", database: { ...example.database, port: 70000 } }));
    const r = await cdktfSynth(cfg, join(dir, "out"));
    expect(r.code, r.text).toBe(1);
    expect(count(r.text, "name: must be lowercase letters, digits or '-' (got \"Bad Name\")"), r.text).toBe(1);
    expect(count(r.text, "database.port:"), r.text).toBe(1);
    expect(count(r.text, `ems-ha: deployment ${cfg} (from $EMS_HA_CONFIG)`), r.text).toBe(1);
    expect(r.text).not.toContain("[ERROR] default");
    expect(r.text).toContain("non-zero exit code 2");
    expect(readdirSync(dir)).toEqual(["bad.json"]);
  }, 150_000);

  it("a deployment with rule warnings: each warning once, labelled warning, nothing alarming", async () => {
    const dir = tempDir("ems-ha-synth-warn-");
    const cfg = join(dir, "two-nodes.json");
    writeFileSync(cfg, JSON.stringify({ ...example, database: { ...example.database, nodes: example.database.nodes.filter((n) => n.role === "data") } }));
    const r = await cdktfSynth(cfg, join(dir, "out"));
    expect(r.code, r.text).toBe(0);
    expect(count(r.text, "warning: even-voting-nodes"), r.text).toBe(1);
    expect(r.text).not.toMatch(/\[ERROR\]|Error/);
    expect(readdirSync(join(dir, "out", "stacks"))).toEqual(["single-region"]);
  }, 150_000);
});
