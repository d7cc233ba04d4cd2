/**
 * `ems-ha plan-review --stack S`: synthesize, `terraform init`, `terraform plan -out`, and
 * `terraform show -json`, in a private temporary directory that is removed afterwards (the plan
 * file and its JSON hold the sensitive variables in clear). Framework-free: the cdktf app runs as
 * a child process, as `cdktf synth` runs it.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnAsync } from "../spawn-async";

export interface PlanRunOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Stack ids to plan. */
  readonly stacks: ReadonlyArray<string>;
  /** The command that synthesizes (CDKTF_OUTDIR is set for it). @default cdktf.json's "app" in cwd, else this package's stacks/main.ts */
  readonly app?: string;
  /** Terraform binary. @default "terraform" (or $EMS_HA_TERRAFORM) */
  readonly terraform?: string;
  /** Seconds to wait for a state lock. @default 60 */
  readonly lockTimeoutSeconds?: number;
}

export interface PlannedStack {
  readonly stack: string;
  /** `terraform show -json` output. Holds secrets: never write it anywhere shared. */
  readonly planJson: string;
}

function appCommand(cwd: string): string {
  const cfg = join(cwd, "cdktf.json");
  if (existsSync(cfg)) {
    const app = (JSON.parse(readFileSync(cfg, "utf8")) as { app?: string }).app;
    if (app) return app;
  }
  const root = join(__dirname, "..", "..");
  const main = existsSync(join(root, "stacks", "main.ts")) ? join(root, "stacks", "main.ts") : join(root, "stacks", "main.js");
  return `${JSON.stringify(process.execPath)} ${JSON.stringify(require.resolve("tsx/cli"))} ${JSON.stringify(main)}`;
}

async function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, what: string): Promise<string> {
  const r = await spawnAsync(cmd, args, { cwd, env, maxBuffer: 256 * 1024 * 1024, timeoutMs: 30 * 60_000 });
  if (r.error || r.status !== 0) {
    // Terraform's error text names variables, never their values.
    throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${(r.stderr || r.stdout || "").trim().slice(-4000)}`);
  }
  return r.stdout;
}

/** Synthesizes once, then plans each stack; the temporary directory is removed in every case. */
export async function synthAndPlan(opts: PlanRunOptions): Promise<PlannedStack[]> {
  const tf = opts.terraform ?? opts.env.EMS_HA_TERRAFORM ?? "terraform";
  const out = mkdtempSync(join(tmpdir(), "ems-ha-plan-review-")); // mode 0700
  try {
    const env = { ...opts.env, CDKTF_OUTDIR: out, TF_IN_AUTOMATION: "1" };
    await run("sh", ["-c", opts.app ?? appCommand(opts.cwd)], opts.cwd, env, "synthesis");
    const available = existsSync(join(out, "stacks")) ? readdirSync(join(out, "stacks")).sort() : [];
    const missing = opts.stacks.filter((s) => !available.includes(s));
    if (missing.length > 0) throw new Error(`no stack ${missing.join(", ")} was synthesized; stacks: ${available.join(", ") || "(none)"}`);
    const planned: PlannedStack[] = [];
    // One stack after the other, as before: a failure stops at that stack.
    for (const stack of opts.stacks) {
      const dir = join(out, "stacks", stack);
      await run(tf, ["init", "-input=false", "-no-color"], dir, env, `terraform init (${stack})`);
      await run(
        tf,
        ["plan", "-input=false", "-no-color", `-lock-timeout=${opts.lockTimeoutSeconds ?? 60}s`, "-out=plan.bin"],
        dir,
        env,
        `terraform plan (${stack})`,
      );
      planned.push({ stack, planJson: await run(tf, ["show", "-json", "plan.bin"], dir, env, `terraform show (${stack})`) });
    }
    return planned;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
