/**
 * The ems-ha binary as a user runs it (node bin/ems-ha.js: the TypeScript sources through tsx, no
 * build): unknown flags, stray words and missing required flags are errors with the command's
 * usage for every command; `init` writes a starter and never overwrites; every command that reads a
 * deployment says which file it used.
 */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { usageText } from "../../src/cli/args";
import { COMMANDS } from "../../src/cli/commands";
import { tempDir } from "../helpers/tmp";

const ROOT = join(__dirname, "..", "..");
const BIN = join(ROOT, "bin", "ems-ha.js");
const EXAMPLE = join(ROOT, "examples", "single-region.ts");

interface Run {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

/** Runs the real binary (bounded), without EMS_HA_CONFIG from the caller's environment. */
function ems(args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, EMS_HA_CONFIG: "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

const dirs: string[] = [];
function dir(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("every command rejects what it does not declare", () => {
  // Arguments that satisfy each command's required flags, so the only error is the one under test.
  const valid: Record<string, string[]> = {
    pgtune: ["--ram", "4GB", "--cpus", "4", "--storage", "ssd"],
    failover: ["--config", EXAMPLE, "--down", "pg-1"],
    report: ["--config", EXAMPLE, "--out", "never-written"],
    promote: ["pg-2", "--config", EXAMPLE],
    appliance: ["run", "--host", "192.0.2.1", "--role", "primary", "--hostname", "EMS-1", "--db-host", "192.0.2.2"],
    init: ["--out", "never-written.ts"],
    switchover: ["--config", EXAMPLE, "--to", "pg-2"],
    "ack-rewind": ["pg-2", "--config", EXAMPLE],
    backup: ["--config", EXAMPLE, "--out", "never-written"],
    restore: ["--config", EXAMPLE, "--from", "never-written"],
    "check-backups": ["--config", EXAMPLE, "--dir", "never-written"],
    // PLAN is a positional: with one given, "stray" is a second word; --out would be written by a run
    "plan-review": ["plan.json", "--config", EXAMPLE, "--out", "never-written"],
  };
  const argsOf = (name: string) => valid[name] ?? ["--config", EXAMPLE];

  it("covers every command", () => {
    expect(COMMANDS.map((c) => c.name).sort()).toEqual(
      [
        "ack-rewind",
        "appliance",
        "backup",
        "check",
        "check-backups",
        "checklist",
        "failover",
        "fortios-cli",
        "init",
        "pause",
        "pgtune",
        "plan-review",
        "promote",
        "report",
        "restore",
        "resume",
        "rolling-restart",
        "scenarios",
        "set-passwords",
        "status",
        "switchover",
        "wait-primary",
      ].sort(),
    );
  });

  for (const cmd of COMMANDS) {
    it(`${cmd.name}: an unknown flag and a stray word exit 2 with the usage, and nothing runs`, async () => {
      const cwd = dir("ems-ha-cli-");
      const r = await ems([cmd.name, ...argsOf(cmd.name), "stray", "--no-such-flag"], cwd);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(/^2 errors on the command line:/);
      expect(r.err).toMatch(/--no-such-flag: is not a flag of this command/);
      expect(r.err).toMatch(/\(argument\): is an unexpected word \(got "stray"\)/);
      expect(r.err).toContain(`Usage: ems-ha ${cmd.name}`);
      expect(r.out).toBe("");
      expect(existsSync(join(cwd, "never-written")) || existsSync(join(cwd, "never-written.ts"))).toBe(false);
    });
  }
});

describe("the misspellings of the issue", () => {
  it("pgtune --conections 50 is an error naming --connections, not max_connections = 1092", async () => {
    const r = await ems(["pgtune", "--ram", "4GB", "--cpus", "4", "--storage", "ssd", "--conections", "50"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--conections: is not a flag of this command");
    expect(r.err).toContain("did you mean --connections?");
    expect(r.out).not.toContain("max_connections");
  });

  it("failover --primay pg-2 is an error, not an answer for the initial primary", async () => {
    const r = await ems(["failover", "--config", EXAMPLE, "--primay", "pg-2", "--down", "pg-1"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("did you mean --primary?");
    expect(r.out).toBe("");
  });

  it("pgtune --storage is required (no silent ssd), and every missing flag is named at once", async () => {
    const r = await ems(["pgtune", "--ram", "4GB"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/2 errors on the command line/);
    expect(r.err).toMatch(/--cpus: is required/);
    expect(r.err).toMatch(/--storage: is required.*ssd\|hdd\|san/);
  });

  it("--ram 16G is accepted like 16GB", async () => {
    const g = await ems(["pgtune", "--ram", "16G", "--cpus", "4", "--storage", "ssd"]);
    const gb = await ems(["pgtune", "--ram", "16GB", "--cpus", "4", "--storage", "ssd"]);
    expect(g.code, g.err).toBe(0);
    expect(g.out).toContain("shared_buffers = 4GB");
    expect(g.out).toBe(gb.out);
  });

  it("a flag without its value, and a flag given twice, are errors", async () => {
    const r = await ems(["failover", "--config", EXAMPLE, "--down", "pg-1", "--down", "pg-2", "--primary"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--down: is given more than once/);
    expect(r.err).toMatch(/--primary: needs a value/);
  });
});

describe("usage is generated from the declaration", () => {
  it("every command's help shows the usage that its parser enforces", async () => {
    for (const cmd of COMMANDS) expect(cmd.usage.startsWith(`ems-ha ${cmd.name}`), cmd.name).toBe(true);
    const r = await ems(["help", "pgtune"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Usage: ems-ha pgtune --ram SIZE --cpus N --storage ssd|hdd|san [--connections N]");
    expect(r.out).toMatch(/--connections N\s+max_connections .*\(default 1092\)/);
  });

  it("marks required flags and shows defaults", () => {
    const text = usageText("x", {
      a: { type: "string", required: true, description: "A" },
      b: { type: "integer", default: 3, description: "B" },
      c: { type: "boolean", description: "C" },
    });
    expect(text.split("\n")[0]).toBe("ems-ha x --a VALUE [--b N] [--c]");
    expect(text).toMatch(/--a VALUE\s+A \(required\)/);
    expect(text).toMatch(/--b N\s+B \(default 3\)/);
  });
});

describe("ems-ha init", () => {
  it("writes a commented starter that `ems-ha check` accepts as it is, and refuses to overwrite it (exit 2)", async () => {
    const cwd = dir("ems-ha-init-");
    const w = await ems(["init"], cwd);
    expect(w.code, w.err).toBe(0);
    const path = join(cwd, "ems-ha.config.ts");
    const text = readFileSync(path, "utf8");
    expect(text).toMatch(/^\/\/ Starter deployment written by `ems-ha init --topology single-region`/);
    expect(text).toContain('import type { DeploymentInput } from "ems-ha/config";');
    expect(text).toContain('topology: "single-region"');
    const c = await ems(["check"], cwd);
    expect(c.code, c.err).toBe(0);
    expect(c.err).toContain(`ems-ha: deployment ${path} (found in the working directory)`);
    writeFileSync(path, text + "// mine\n");
    const again = await ems(["init", "--topology", "geo-redundant"], cwd);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/--out: already exists and is never overwritten/);
    expect(readFileSync(path, "utf8")).toBe(text + "// mine\n");
  });

  it("writes any topology to --out, and rejects an unknown topology", async () => {
    const cwd = dir("ems-ha-init-");
    const w = await ems(["init", "--topology", "native-single-region", "--out", "native.ts"], cwd);
    expect(w.code, w.err).toBe(0);
    expect(readFileSync(join(cwd, "native.ts"), "utf8")).toContain('topology: "native-single-region"');
    expect((await ems(["check", "--config", "native.ts"], cwd)).code).toBe(0);
    const bad = await ems(["init", "--topology", "multi-region"], cwd);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--topology: is not one of the choices/);
    expect(existsSync(join(cwd, "ems-ha.config.ts"))).toBe(false);
  });
});

describe("which deployment file a command read", () => {
  it("names the file and, when ems-ha.config.ts and .json both exist, the one that won", async () => {
    const cwd = dir("ems-ha-which-");
    copyFileSync(EXAMPLE, join(cwd, "ems-ha.config.ts"));
    writeFileSync(join(cwd, "ems-ha.config.json"), "{}");
    for (const args of [["check"], ["checklist"], ["scenarios"], ["failover", "--down", "pg-1"], ["fortios-cli"]]) {
      const r = await ems(args, cwd);
      expect(r.code, `${args[0]}: ${r.err}`).toBe(0);
      expect(r.err, args[0]).toContain(
        `ems-ha: deployment ${join(cwd, "ems-ha.config.ts")} (found in the working directory; it wins over ems-ha.config.json, which is ignored)`,
      );
    }
  });

  it("says when the file came from $EMS_HA_CONFIG or --config", async () => {
    const cwd = dir("ems-ha-which-");
    const env = await ems(["checklist"], cwd, { EMS_HA_CONFIG: EXAMPLE });
    expect(env.err).toContain(`ems-ha: deployment ${EXAMPLE} (from $EMS_HA_CONFIG)`);
    const flag = await ems(["checklist", "--config", EXAMPLE], cwd);
    expect(flag.err).toContain(`ems-ha: deployment ${EXAMPLE} (from --config)`);
    const none = await ems(["checklist"], cwd);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/--config: no deployment given/);
  });
});
