/**
 * Real Terraform plans of two versions of a deployment, without hosts.
 *
 * `terraform apply` of a stack runs provisioners over SSH, which needs hosts. To get the "before"
 * state, v1 is synthesized and applied with its provisioners and connections stripped (same
 * addresses, same triggers_replace, so the state is what a real apply of v1 would record), then the
 * real v2 JSON is planned against that state: Terraform computes the real replace actions, and
 * `terraform show -json` gives the plan JSON the review reads. Only terraform_data stacks plan
 * here (no provider download).
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DeploymentInput } from "../../../src/config/schema";
import { spawnAsync } from "../../../src/spawn-async";
import { synthDeployment } from "../../helpers/synth";
import { tempDir } from "../../helpers/tmp";

export const SECRETS = {
  db_password: "Rev-DB-pass-5521'q:z",
  repmgr_password: "Rev-repmgr-pass-3390",
  symmetric_key: "fedcba9876543210fedc",
  appliance_password: "Rev-appliance-pass-7142",
} as const;

export function terraformOrFail(): string {
  const r = spawnSync("terraform", ["version"], { encoding: "utf8", timeout: 20_000 });
  if (r.error || r.status !== 0) throw new Error("terraform is not installed or not on PATH: these tests need Terraform >= 1.4 (terraform_data)");
  return "terraform";
}

export function tfEnv(dir: string, secrets: Record<string, string> = SECRETS): NodeJS.ProcessEnv {
  const cliConfig = join(dir, "empty.tfrc");
  writeFileSync(cliConfig, "");
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, CHECKPOINT_DISABLE: "1", TF_CLI_CONFIG_FILE: cliConfig, TF_IN_AUTOMATION: "1" };
  for (const [k, v] of Object.entries(secrets)) env[`TF_VAR_${k}`] = v;
  return env;
}

export async function tf(dir: string, env: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  const r = await spawnAsync("terraform", args, { cwd: dir, env, timeoutMs: 180_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error || r.status !== 0)
    throw new Error(`terraform ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`}):\n${(r.stderr + r.stdout).slice(0, 4000)}`);
  return r.stdout;
}

/** The stack JSON with every provisioner and connection removed (what creates the "before" state). */
export function stripProvisioners(json: Record<string, any>): Record<string, any> {
  const copy = structuredClone(json);
  for (const byId of Object.values((copy.resource ?? {}) as Record<string, Record<string, Record<string, unknown>>>)) {
    for (const r of Object.values(byId)) {
      delete r.provisioner;
      delete r.connection;
    }
  }
  return copy;
}

/** Variables the stack declares, with the test's values for them. */
function secretsFor(json: Record<string, any>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(json.variable ?? {})) if (name in SECRETS) out[name] = SECRETS[name as keyof typeof SECRETS];
  return out;
}

export interface RealPlan {
  readonly dir: string;
  /** `terraform show -json` of the plan of v2 against v1's state. */
  readonly json: string;
  readonly stack: string;
}

/** Applies v1 (provisioners stripped), plans v2 for real, returns the plan JSON. */
export async function planChange(v1: DeploymentInput, v2: DeploymentInput, secretsV2?: Record<string, string>, planArgs: string[] = []): Promise<RealPlan> {
  terraformOrFail();
  const dir = tempDir("ems-ha-review-plan-");
  const a = synthDeployment(v1);
  const b = synthDeployment(v2);
  const env1 = tfEnv(dir, secretsFor(a.json));
  writeFileSync(join(dir, "main.tf.json"), JSON.stringify(stripProvisioners(a.json as Record<string, any>), null, 2));
  await tf(dir, env1, ["init", "-input=false", "-no-color"]);
  await tf(dir, env1, ["apply", "-input=false", "-no-color", "-auto-approve"]);
  writeFileSync(join(dir, "main.tf.json"), b.text);
  const env2 = tfEnv(dir, { ...secretsFor(b.json), ...(secretsV2 ?? {}) });
  await tf(dir, env2, ["plan", "-input=false", "-no-color", "-out=plan.bin", ...planArgs]);
  const json = await tf(dir, env2, ["show", "-json", "plan.bin"]);
  return { dir, json, stack: b.deployment.topology };
}
