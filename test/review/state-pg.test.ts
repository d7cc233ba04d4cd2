/**
 * The pg state backend for real, against PostgreSQL 15 on loopback: the stack's backend comes from
 * the deployment's `state: { kind: "pg" }` (stacks/backend.ts), the connection only from libpq's
 * environment variables (no conn_str, no password anywhere in the JSON). Two applies at once:
 * the second fails at once with -lock-timeout=0s naming the lock, or waits for it. A terraform
 * killed with SIGKILL mid-apply leaves the state readable and no lock behind (the pg backend's
 * lock is a session advisory lock, released when the connection drops).
 */
import { Testing, TerraformStack, DataResource } from "cdktf";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import native from "../../examples/native-single-region";
import { parseDeployment } from "../../src/config/parse";
import { spawnAsync } from "../../src/spawn-async";
import { applyStateBackend } from "../../stacks/backend";
import { tempDir } from "../helpers/tmp";
import { freePort, LoopbackPg, requirePg } from "./lib/pg-server";
import { terraformOrFail } from "./lib/real-plan";

const DB = "tfstate";
const STACK = "lock-test";

function stackJson(trigger: string): string {
  const d = parseDeployment({ ...structuredClone(native), state: { kind: "pg" } });
  const stack = new TerraformStack(Testing.app(), STACK);
  new DataResource(stack, "slow", {
    triggersReplace: { v: trigger },
    // $EMS_HA_TEST_SLEEP: how long the apply holds the lock
    provisioners: [{ type: "local-exec", command: 'sleep "$EMS_HA_TEST_SLEEP"' }],
  });
  applyStateBackend(stack, STACK, d);
  return Testing.synth(stack);
}

async function waitFor(read: () => string, pattern: RegExp, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pattern.test(read())) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${pattern}; output:\n${read()}`);
}

function exited(p: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve(p.exitCode) : p.once("exit", (code) => resolve(code))));
}

describe("pg state backend on PostgreSQL 15 (loopback)", () => {
  let base: string;
  let pg: LoopbackPg;
  let env: NodeJS.ProcessEnv;
  const dirs: Record<string, string> = {};

  const tf = (dir: string, args: string[], sleep = "0") =>
    spawnAsync("terraform", args, { cwd: dir, env: { ...env, EMS_HA_TEST_SLEEP: sleep }, timeoutMs: 120_000 });
  const started = (dir: string, args: string[], sleep: string) => {
    let out = "";
    const p = spawn("terraform", args, { cwd: dir, env: { ...env, EMS_HA_TEST_SLEEP: sleep }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    p.stdout!.on("data", (b) => (out += b));
    p.stderr!.on("data", (b) => (out += b));
    return { p, output: () => out };
  };

  beforeAll(async () => {
    terraformOrFail();
    requirePg();
    base = tempDir("ems-ha-pg-state-");
    pg = new LoopbackPg(base, await freePort());
    await pg.start(DB);
    const cli = join(base, "empty.tfrc");
    writeFileSync(cli, "");
    env = {
      PATH: process.env.PATH,
      HOME: base,
      CHECKPOINT_DISABLE: "1",
      TF_CLI_CONFIG_FILE: cli,
      TF_IN_AUTOMATION: "1",
      PGHOST: "127.0.0.1",
      PGPORT: String(pg.port),
      PGUSER: "postgres",
      PGDATABASE: DB,
      PGSSLMODE: "disable",
    };
    // Two working directories of the same stack: two CI runners.
    for (const name of ["a", "b"]) {
      dirs[name] = join(base, name);
      mkdirSync(dirs[name]!);
      writeFileSync(join(dirs[name]!, "main.tf.json"), stackJson("1"));
      const r = await tf(dirs[name]!, ["init", "-input=false", "-no-color"]);
      if (r.status !== 0) throw new Error(`terraform init failed: ${r.stderr}${r.stdout}`);
    }
  }, 180_000);

  afterAll(() => {
    pg?.stop();
  });

  it("synthesizes a pg backend with its own schema and no connection string", () => {
    const json = JSON.parse(stackJson("1"));
    expect(json.terraform.backend).toEqual({ pg: { schema_name: "ems_ha_lock_test" } });
  });

  it("two applies at once: the second fails on the lock with a clear message, or waits for it", async () => {
    const a = started(dirs.a!, ["apply", "-auto-approve", "-input=false", "-no-color"], "6");
    await waitFor(a.output, /Provisioning with 'local-exec'/, 60_000);
    const b = await tf(dirs.b!, ["apply", "-auto-approve", "-input=false", "-no-color", "-lock-timeout=0s"]);
    expect(b.status).toBe(1);
    expect(b.stderr).toContain("Error acquiring the state lock");
    expect(b.stderr).toMatch(/Operation:\s+OperationTypeApply/);
    const waited = Date.now();
    const c = await tf(dirs.b!, ["apply", "-auto-approve", "-input=false", "-no-color", "-lock-timeout=60s"]);
    expect(c.status, c.stderr).toBe(0);
    expect(await exited(a.p)).toBe(0);
    expect(Date.now() - waited).toBeGreaterThan(1000); // it waited for a's lock
    // b planned after a's apply: nothing left to do, one state row, one resource
    expect(c.stdout).toContain("No changes.");
    expect(pg.psql(DB, "SELECT count(*) FROM ems_ha_lock_test.states")).toBe("1");
    const state = JSON.parse((await tf(dirs.b!, ["state", "pull"])).stdout);
    expect(state.resources.map((r: { name: string }) => r.name)).toEqual(["slow"]);
  }, 180_000);

  it("a SIGKILLed apply leaves the state readable and the lock released", async () => {
    const before = JSON.parse((await tf(dirs.a!, ["state", "pull"])).stdout);
    writeFileSync(join(dirs.a!, "main.tf.json"), stackJson("2"));
    const k = started(dirs.a!, ["apply", "-auto-approve", "-input=false", "-no-color"], "30");
    await waitFor(k.output, /Provisioning with 'local-exec'/, 60_000);
    process.kill(k.p.pid!, "SIGKILL"); // terraform itself crashes
    await exited(k.p);
    try {
      process.kill(-k.p.pid!, "SIGKILL"); // and the sleep it started (its process group)
    } catch {
      /* already gone */
    }
    const pulled = await tf(dirs.b!, ["state", "pull"]);
    expect(pulled.status).toBe(0);
    const after = JSON.parse(pulled.stdout);
    expect(after.lineage).toBe(before.lineage);
    expect(after.resources.length).toBe(1);
    // No force-unlock needed: a plan takes the lock at once and still sees the pending replacement.
    writeFileSync(join(dirs.b!, "main.tf.json"), stackJson("2"));
    const plan = await tf(dirs.b!, ["plan", "-input=false", "-no-color", "-lock-timeout=0s", "-detailed-exitcode"]);
    expect(plan.stderr).not.toContain("Error acquiring the state lock");
    expect(plan.status).toBe(2);
    const apply = await tf(dirs.b!, ["apply", "-auto-approve", "-input=false", "-no-color", "-lock-timeout=0s"], "0");
    expect(apply.status, apply.stderr).toBe(0);
    const final = JSON.parse((await tf(dirs.b!, ["state", "pull"])).stdout);
    expect(final.serial).toBeGreaterThan(after.serial);
    expect(final.resources[0].instances[0].attributes.triggers_replace.value).toEqual({ v: "2" });
  }, 180_000);
});
