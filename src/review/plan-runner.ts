/**
 * `ems-ha plan-review --stack S`: synthesize, `terraform init`, `terraform plan -out`, and
 * `terraform show -json`, in a private temporary directory that is removed afterwards (the plan
 * file and its JSON hold the sensitive variables in clear). Framework-free: the cdktf app runs as
 * a child process, as `cdktf synth` runs it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, what: string): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024, timeout: 30 * 60_000 });
  if (r.error || r.status !== 0) {
    // Terraform's error text names variables, never their values.
    throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${(r.stderr || r.stdout || "").trim().slice(-4000)}`);
  }
  return r.stdout;
}

/** Synthesizes once, then plans each stack; the temporary directory is removed in every case. */
export function synthAndPlan(opts: PlanRunOptions): PlannedStack[] {
  const tf = opts.terraform ?? opts.env.EMS_HA_TERRAFORM ?? "terraform";
  const out = mkdtempSync(join(tmpdir(), "ems-ha-plan-review-")); // mode 0700
  try {
    const env = { ...opts.env, CDKTF_OUTDIR: out, TF_IN_AUTOMATION: "1" };
    run("sh", ["-c", opts.app ?? appCommand(opts.cwd)], opts.cwd, env, "synthesis");
    const available = existsSync(join(out, "stacks")) ? readdirSync(join(out, "stacks")).sort() : [];
    const missing = opts.stacks.filter((s) => !available.includes(s));
    if (missing.length > 0) throw new Error(`no stack ${missing.join(", ")} was synthesized; stacks: ${available.join(", ") || "(none)"}`);
    return opts.stacks.map((stack) => {
      const dir = join(out, "stacks", stack);
      run(tf, ["init", "-input=false", "-no-color"], dir, env, `terraform init (${stack})`);
      run(tf, ["plan", "-input=false", "-no-color", `-lock-timeout=${opts.lockTimeoutSeconds ?? 60}s`, "-out=plan.bin"], dir, env, `terraform plan (${stack})`);
      return { stack, planJson: run(tf, ["show", "-json", "plan.bin"], dir, env, `terraform show (${stack})`) };
    });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
