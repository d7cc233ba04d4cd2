/**
 * The README's path for a newcomer, on a fresh clone of this repository:
 * - CI runs exactly the README's quick-start commands;
 * - copying examples/single-region.ts to ems-ha.config.ts and changing values (not imports) gives
 *   a deployment that `ems-ha check` accepts, that type-checks, and that the cdktf app (what
 *   `npx cdktf synth` runs) synthesizes as the user's own stack, with the user's values.
 * The clone is `git clone` of this checkout's committed HEAD into a temporary directory, with
 * node_modules hard-linked (`cp -al`) from the checkout (a symbolic link when /tmp is another file
 * system); needs git and cp.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnAsync } from "../../src/spawn-async";
import { tempDir } from "../helpers/tmp";

const ROOT = join(__dirname, "..", "..");

/** The commands of the first ```sh block under "## Quick start" in README.md (comments dropped). */
export function readmeQuickStart(readme: string): string[] {
  const section = readme.split(/^## Quick start\s*$/m)[1];
  if (!section) throw new Error('README.md has no "## Quick start" section');
  const block = /```sh\n([\s\S]*?)```/.exec(section.split(/^## /m)[0]!);
  if (!block) throw new Error("the quick start has no ```sh block");
  return commands(block[1]!);
}

/** The commands between the "README quick start" markers of .ci/run. */
export function ciCommands(script: string): string[] {
  const m = /^# README quick start.*\n([\s\S]*?)^# end of README quick start/m.exec(script);
  if (!m) throw new Error(".ci/run has no '# README quick start' ... '# end of README quick start' section");
  return commands(m[1]!);
}

function commands(text: string): string[] {
  return text
    .split("\n")
    .map((l) =>
      l
        .replace(/\s+#.*$/, "")
        .replace(/^#.*$/, "")
        .trim(),
    )
    .filter(Boolean);
}

async function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000) {
  const r = await spawnAsync(cmd, args, { cwd, env: { ...process.env, CHECKPOINT_DISABLE: "1", EMS_HA_CONFIG: "", ...env }, timeoutMs });
  if (r.error) throw new Error(`${cmd} could not run (${r.error.message}): the quick-start test needs it`);
  return r;
}

describe("CI runs the README's quick start", () => {
  it("the commands of .ci/run are the README quick start's commands, in order", () => {
    const readme = readmeQuickStart(readFileSync(join(ROOT, "README.md"), "utf8"));
    const ci = ciCommands(readFileSync(join(ROOT, ".ci/run"), "utf8"));
    expect(readme).toEqual(["npm run setup", "npm ci", "npx cdktf synth", "npm test"]);
    expect(ci).toEqual(readme);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.setup).toBe("bash scripts/setup.sh");
    expect(existsSync(join(ROOT, "scripts/setup.sh"))).toBe(true);
  });

  it("scripts/setup.sh installs every Debian package the tests name (and is valid bash)", async () => {
    const setup = readFileSync(join(ROOT, "scripts/setup.sh"), "utf8");
    for (const p of ["postgresql-15", "postgresql-15-repmgr", "openssh-server", "debootstrap", "systemd-container", "iproute2"]) {
      expect(setup).toMatch(new RegExp(`PKGS=\\([^)]*\\b${p.replace(/[.-]/g, "\\$&")}\\b`));
    }
    const r = await run("bash", ["-n", join(ROOT, "scripts/setup.sh")], ROOT);
    expect(r.status, r.stderr).toBe(0);
  });
});

describe("a newcomer's own deployment on a fresh clone", () => {
  let clone = "";

  beforeAll(async () => {
    const work = tempDir("ems-ha-clone-");
    clone = join(work, "ems-ha");
    const c = await run("git", ["clone", "--quiet", "--no-hardlinks", ROOT, clone], work);
    expect(c.status, `git clone: ${c.stderr}`).toBe(0);
    const l = await run("cp", ["-al", join(ROOT, "node_modules"), join(clone, "node_modules")], work);
    if (l.status !== 0) {
      // Hard links cannot cross file systems (a tmpfs /tmp): link the directory instead.
      rmSync(join(clone, "node_modules"), { recursive: true, force: true });
      symlinkSync(join(ROOT, "node_modules"), join(clone, "node_modules"), "dir");
    }
    // The user's step: copy the example and change values, not imports.
    const text = readFileSync(join(clone, "examples/single-region.ts"), "utf8");
    expect(text).toContain('"192.168.1.10"');
    expect(text).toContain('"192.168.1.21"');
    writeFileSync(join(clone, "ems-ha.config.ts"), text.replace('"192.168.1.21"', '"10.20.30.41"').replace('"192.168.1.10"', '"10.20.30.40"'));
  }, 180_000);

  afterAll(() => {
    if (clone) rmSync(clone, { recursive: true, force: true });
  });

  it("`ems-ha check` accepts the copied example without --config and names the file", async () => {
    const r = await run(process.execPath, [join(clone, "bin/ems-ha.js"), "check"], clone);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`ems-ha: deployment ${join(clone, "ems-ha.config.ts")} (found in the working directory)`);
    expect(r.stdout).toMatch(/0 error\(s\)/);
  });

  it("the copied file type-checks: its import resolves in the checkout without a build", async () => {
    writeFileSync(
      join(clone, "tsconfig.user.json"),
      JSON.stringify({ extends: "./tsconfig.json", include: [], files: ["ems-ha.config.ts"], compilerOptions: { noEmit: true } }),
    );
    const r = await run(process.execPath, [join(clone, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.user.json"], clone);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(existsSync(join(clone, "dist")), "no build happened").toBe(false);
  }, 120_000);

  it("the cdktf app synthesizes the user's deployment, only it, with the user's values", async () => {
    const out = join(clone, "cdktf.out");
    // What `npx cdktf synth` runs (cdktf.json "app"), with the directory cdktf gives it.
    const app = (JSON.parse(readFileSync(join(clone, "cdktf.json"), "utf8")) as { app: string }).app;
    expect(app).toBe("npx tsx stacks/main.ts");
    const r = await run(process.execPath, [join(clone, "node_modules/tsx/dist/cli.mjs"), "stacks/main.ts"], clone, {
      CDKTF_OUTDIR: out,
      EMS_HA_OFFLINE_FILES: "1",
    });
    expect(r.status, r.stderr).toBe(0);
    // The newcomer has no installer, CA bundle or keys yet: README step 3 names the offline mode.
    expect(r.stdout).toMatch(/warning: installer\.source\.path: .*does not exist/);
    expect(r.stdout).toContain(`ems-ha: deployment ${join(clone, "ems-ha.config.ts")} (found in the working directory)`);
    expect(r.stderr).toBe("");
    expect(readdirSync(join(out, "stacks"))).toEqual(["single-region"]);
    const tf = readFileSync(join(out, "stacks/single-region/cdk.tf.json"), "utf8");
    expect(tf).toContain("10.20.30.40");
    expect(tf).toContain("--db_host 10.20.30.41,192.168.1.22");
    expect(tf).not.toContain("192.168.1.21");
  }, 120_000);

  it("`ems-ha init` in the clone refuses to overwrite the user's file", async () => {
    const before = readFileSync(join(clone, "ems-ha.config.ts"), "utf8");
    const r = await run(process.execPath, [join(clone, "bin/ems-ha.js"), "init"], clone);
    expect(r.status).toBe(2);
    expect(readFileSync(join(clone, "ems-ha.config.ts"), "utf8")).toBe(before);
    copyFileSync(join(clone, "examples/geo-redundant.ts"), join(clone, "geo.ts"));
    const geo = await run(process.execPath, [join(clone, "bin/ems-ha.js"), "check", "--config", "geo.ts"], clone);
    expect(geo.status, geo.stderr).toBe(0);
  });
});
