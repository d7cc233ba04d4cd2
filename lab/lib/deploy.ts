/**
 * `lab deploy`: the real thing. Synthesizes the lab deployment with the project's cdktf app,
 * then `terraform init` and `terraform apply` of the native-single-region stack against the
 * lab hosts, streaming progress. Records how long each resource took and the critical path.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { labDeployment, type LabFailover } from "../../examples/lab";
import { parseDeployment } from "../../src/config/parse";
import type { Deployment, DeploymentInput } from "../../src/config/schema";
import { LabError, runStreaming } from "./exec";
import { REPO_ROOT } from "./paths";
import type { LabState } from "./state";

export type Log = (message: string) => void;

export interface LabSecrets {
  readonly db_password: string;
  readonly repmgr_password: string;
  /** 20 characters, as the EMS extension expects. */
  readonly symmetric_key: string;
}

export interface StepTiming {
  /** Terraform address, e.g. terraform_data.dbnode-1_setup_1A2B3C4D */
  readonly address: string;
  readonly startSeconds: number;
  readonly endSeconds: number;
  readonly seconds: number;
}

export interface ApplyResult {
  readonly wallSeconds: number;
  readonly steps: StepTiming[];
  /** The dependency chain whose durations add up to the longest time. */
  readonly criticalPath: StepTiming[];
  readonly added: number;
  readonly changed: number;
  readonly destroyed: number;
}

export interface DeployResult {
  readonly synthSeconds: number;
  readonly initSeconds: number;
  readonly apply: ApplyResult;
  readonly stackDir: string;
}

/** Per-lab secrets, generated once and kept root-only in the state directory. */
export function labSecrets(state: LabState): LabSecrets {
  const file = join(state.stateDir, "secrets.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as LabSecrets;
  const token = (n: number) =>
    randomBytes(32)
      .toString("base64")
      .replace(/[^A-Za-z0-9]/g, "")
      .slice(0, n);
  const s: LabSecrets = { db_password: `Db${token(22)}`, repmgr_password: `Rm${token(22)}`, symmetric_key: token(20) };
  writeFileSync(file, JSON.stringify(s), { mode: 0o600 });
  chmodSync(file, 0o600);
  return s;
}

/** Replaces every secret value in a line of output (defence in depth: none should appear). */
export function masker(secrets: LabSecrets): (line: string) => string {
  const values = Object.values(secrets).filter((v) => v.length >= 6);
  return (line) => values.reduce((l, v) => l.split(v).join("********"), line);
}

export function labDeploymentFor(state: LabState, failover: LabFailover = "tuned"): Deployment {
  return parseDeployment(labDeployment(state.prefix, failover));
}

/**
 * The environment the ems-ha CLI and the ops functions run with against a lab: the lab's secrets
 * as the documented variables, and host keys accepted on first use (the lab's hosts are made
 * fresh each run).
 */
export function labCliEnv(secrets: LabSecrets): NodeJS.ProcessEnv {
  return { ...process.env, EMS_HA_INSECURE_HOST_KEYS: "1", EMS_HA_DB_PASSWORD: secrets.db_password, EMS_HA_REPMGR_PASSWORD: secrets.repmgr_password };
}

/**
 * Terraform's environment for a lab stack: an empty CLI config of the lab's own, no prompts, the
 * secrets as TF_VAR_* (the FortiGate token only when given).
 */
export function terraformEnv(stateDir: string, secrets: LabSecrets & { readonly fortigate_token?: string }): NodeJS.ProcessEnv {
  const rc = join(stateDir, "terraformrc");
  if (!existsSync(rc)) writeFileSync(rc, "");
  return {
    ...process.env,
    CHECKPOINT_DISABLE: "1",
    TF_CLI_CONFIG_FILE: rc,
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    TF_VAR_db_password: secrets.db_password,
    TF_VAR_repmgr_password: secrets.repmgr_password,
    TF_VAR_symmetric_key: secrets.symmetric_key,
    ...(secrets.fortigate_token === undefined ? {} : { TF_VAR_fortigate_token: secrets.fortigate_token }),
  };
}

/** Synthesizes a lab deployment (the cdktf app, as `cdktf synth` runs it) into the state directory. */
export async function labSynth(state: LabState, deployment: DeploymentInput, log: Log): Promise<{ stackDir: string; seconds: number; stack: string }> {
  const stack = parseDeployment(deployment).topology; // fail early, with the config's own errors
  const cfg = join(state.stateDir, "deployment.json");
  writeFileSync(cfg, JSON.stringify(deployment, null, 2));
  const out = join(state.stateDir, "cdktf.out");
  const tfState = join(state.stateDir, "tfstate");
  // Terraform state holds every secret in plain text (docs/security.md): root-only.
  mkdirSync(tfState, { recursive: true, mode: 0o700 });
  chmodSync(tfState, 0o700);
  log(`synth: ${stack} from ${cfg}`);
  const t0 = Date.now();
  const r = await runStreaming(process.execPath, [join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs"), join(REPO_ROOT, "stacks/main.ts")], {
    cwd: REPO_ROOT,
    env: { ...process.env, CHECKPOINT_DISABLE: "1", EMS_HA_CONFIG: cfg, CDKTF_OUTDIR: out, EMS_HA_TF_STATE_DIR: tfState },
    timeoutMs: 180_000,
    onLine: (l) => l.trim() && log(`synth: ${l}`),
  });
  if (r.code !== 0) throw new LabError(`synth failed (exit ${r.code}):\n${r.stderr.trim().split("\n").slice(-20).join("\n")}`);
  return { stackDir: join(out, "stacks", stack), seconds: (Date.now() - t0) / 1000, stack };
}

const CREATING = /^([\w.-]+\.[\w-]+): (Creating|Destroying|Modifying)\.\.\./;
const DONE = /^([\w.-]+\.[\w-]+): (Creation|Destruction|Modifications) complete after (?:(\d+)m)?(\d+)s/;
const SUMMARY = /Apply complete! Resources: (\d+) added, (\d+) changed, (\d+) destroyed/;

/** The longest chain of dependent steps (by the synthesized depends_on). */
export function criticalPath(steps: StepTiming[], stackJson: { resource?: Record<string, Record<string, { depends_on?: string[] }>> }): StepTiming[] {
  const byAddr = new Map(steps.map((s) => [s.address, s]));
  const deps = (addr: string): string[] => {
    const [type, name] = addr.split(".");
    return (stackJson.resource?.[type!]?.[name!]?.depends_on ?? []).filter((d) => byAddr.has(d));
  };
  const memo = new Map<string, { total: number; path: StepTiming[] }>();
  const longest = (addr: string, depth = 0): { total: number; path: StepTiming[] } => {
    const hit = memo.get(addr);
    if (hit) return hit;
    if (depth > steps.length) throw new Error("dependency cycle");
    const self = byAddr.get(addr)!;
    let best = { total: 0, path: [] as StepTiming[] };
    for (const d of deps(addr)) {
      const c = longest(d, depth + 1);
      if (c.total > best.total) best = c;
    }
    const r = { total: best.total + self.seconds, path: [...best.path, self] };
    memo.set(addr, r);
    return r;
  };
  let best = { total: -1, path: [] as StepTiming[] };
  for (const s of steps) {
    const c = longest(s.address);
    if (c.total > best.total) best = c;
  }
  return best.path;
}

/** `terraform apply` with progress; returns what it created and how long each step took. */
export async function terraformApply(
  stackDir: string,
  env: NodeJS.ProcessEnv,
  log: Log,
  mask: (l: string) => string,
  extraArgs: ReadonlyArray<string> = [],
): Promise<ApplyResult> {
  const t0 = Date.now();
  const started = new Map<string, number>();
  const steps: StepTiming[] = [];
  let summary: RegExpExecArray | null = null;
  const r = await runStreaming("terraform", ["apply", "-auto-approve", "-input=false", "-no-color", ...extraArgs], {
    cwd: stackDir,
    env,
    timeoutMs: 1_200_000,
    onLine: (raw) => {
      const line = mask(raw);
      const now = (Date.now() - t0) / 1000;
      const c = CREATING.exec(line);
      if (c) started.set(c[1]!, now);
      const d = DONE.exec(line);
      if (d) {
        const secs = Number(d[3] ?? 0) * 60 + Number(d[4]);
        const start = started.get(d[1]!) ?? now - secs;
        steps.push({
          address: d[1]!,
          startSeconds: Math.round(start * 10) / 10,
          endSeconds: Math.round(now * 10) / 10,
          seconds: Math.round((now - start) * 10) / 10,
        });
      }
      const s = SUMMARY.exec(line);
      if (s) summary = s;
      if (line.trim()) log(`apply: ${line}`);
    },
  });
  const wallSeconds = (Date.now() - t0) / 1000;
  if (r.code !== 0) {
    throw new LabError(`terraform apply failed (exit ${r.code}):\n${mask((r.stderr || r.stdout).trim().split("\n").slice(-40).join("\n"))}`);
  }
  const stackJson = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8"));
  const m = summary as RegExpExecArray | null;
  return {
    wallSeconds: Math.round(wallSeconds * 10) / 10,
    steps,
    criticalPath: criticalPath(steps, stackJson),
    added: m ? Number(m[1]) : 0,
    changed: m ? Number(m[2]) : 0,
    destroyed: m ? Number(m[3]) : 0,
  };
}

/**
 * Synth, init and apply a stack against the lab: by default the native-single-region lab
 * deployment (examples/lab.ts); `deployment` applies another topology to the same hosts.
 */
export async function labDeploy(state: LabState, opts: { log?: Log; failover?: LabFailover; deployment?: DeploymentInput } = {}): Promise<DeployResult> {
  const log = opts.log ?? (() => undefined);
  const secrets = labSecrets(state);
  const mask = masker(secrets);
  const env = terraformEnv(state.stateDir, secrets);
  const synth = await labSynth(state, opts.deployment ?? labDeployment(state.prefix, opts.failover ?? "tuned"), (l) => log(mask(l)));
  log("terraform init");
  const t0 = Date.now();
  const init = await runStreaming("terraform", ["init", "-input=false", "-no-color"], { cwd: synth.stackDir, env, timeoutMs: 300_000 });
  if (init.code !== 0)
    throw new LabError(
      `terraform init failed:\n${mask(init.stdout + init.stderr)
        .split("\n")
        .slice(-20)
        .join("\n")}`,
    );
  const initSeconds = (Date.now() - t0) / 1000;
  log("terraform apply");
  const apply = await terraformApply(synth.stackDir, env, log, mask);
  return { synthSeconds: synth.seconds, initSeconds, apply, stackDir: synth.stackDir };
}

/**
 * Re-applies without changing the deployment (a healthy deployment must show no changes), with the
 * secrets of the lab's state; `extraArgs` such as `-replace=ADDRESS`.
 */
export async function labReapply(state: LabState, stackDir: string, log: Log = () => undefined, extraArgs: ReadonlyArray<string> = []): Promise<ApplyResult> {
  const secrets = labSecrets(state);
  return terraformApply(stackDir, terraformEnv(state.stateDir, secrets), log, masker(secrets), extraArgs);
}

export interface PlanResult {
  /** `terraform plan -detailed-exitcode`: 0 no changes, 2 changes. */
  readonly exitCode: number;
  /** Resource addresses the plan would create, change, replace or destroy. */
  readonly changes: string[];
  readonly seconds: number;
}

/**
 * Day 2: synthesizes the deployment again (as re-running the deploy does) and runs
 * `terraform plan -detailed-exitcode` against the lab's state. A healthy deployment plans no change,
 * whichever node is primary now.
 */
export async function labPlan(state: LabState, deployment: DeploymentInput, log: Log = () => undefined): Promise<PlanResult> {
  const secrets = labSecrets(state);
  const mask = masker(secrets);
  const synth = await labSynth(state, deployment, (l) => log(mask(l)));
  const env = terraformEnv(state.stateDir, secrets);
  const t0 = Date.now();
  // The synth may have replaced the stack directory: init again (terraform_data only, nothing to download).
  const init = await runStreaming("terraform", ["init", "-input=false", "-no-color"], { cwd: synth.stackDir, env, timeoutMs: 300_000 });
  if (init.code !== 0)
    throw new LabError(
      `terraform init failed:\n${mask(init.stdout + init.stderr)
        .split("\n")
        .slice(-20)
        .join("\n")}`,
    );
  const r = await runStreaming("terraform", ["plan", "-detailed-exitcode", "-input=false", "-no-color", "-lock-timeout=60s"], {
    cwd: synth.stackDir,
    env,
    timeoutMs: 600_000,
    onLine: (l) => l.trim() && log(`plan: ${mask(l)}`),
  });
  if (r.code !== 0 && r.code !== 2)
    throw new LabError(`terraform plan failed (exit ${r.code}):\n${mask((r.stderr || r.stdout).trim().split("\n").slice(-40).join("\n"))}`);
  const changes = [...r.stdout.matchAll(/^\s*# ([\w.-]+\.[\w-]+) (?:will be|must be)/gm)].map((m) => m[1]!);
  return { exitCode: r.code, changes, seconds: Math.round((Date.now() - t0) / 100) / 10 };
}

export function formatApply(a: ApplyResult): string {
  const rows = [...a.steps].sort((x, y) => x.startSeconds - y.startSeconds);
  const crit = new Set(a.criticalPath.map((s) => s.address));
  return [
    `apply: ${a.wallSeconds} s wall, ${a.added} added, ${a.changed} changed, ${a.destroyed} destroyed`,
    "| step | start s | end s | seconds | critical |",
    "|---|---|---|---|---|",
    ...rows.map(
      (s) => `| ${s.address.replace(/_[0-9A-F]{8}$/, "")} | ${s.startSeconds} | ${s.endSeconds} | ${s.seconds} | ${crit.has(s.address) ? "yes" : ""} |`,
    ),
  ].join("\n");
}
