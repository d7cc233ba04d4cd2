/** Booting a lab of its own for a test or a benchmark: checks, a free subnet, `labUp`. */
import { spawnSync } from "node:child_process";
import { parseDeployment } from "../../src/config/parse";
import type { Deployment, DeploymentInput } from "../../src/config/schema";
import { labUp, type Log } from "./lab";
import { labStateDir } from "./paths";
import { preflightProblems } from "./preflight";
import type { LabState } from "./state";
import { suggestFreeSubnet } from "./subnet";

export interface FreshLabOptions {
  /** Who needs the lab, for the error message ("the lab end-to-end test"). */
  readonly what: string;
  /** Subnet prefixes to choose from (each user of the lab has its own range). */
  readonly candidates: readonly string[];
  /** The deployment for the chosen subnet prefix. */
  readonly deployment: (prefix: string) => DeploymentInput;
  /** Also require terraform on PATH (to apply a stack). @default false */
  readonly needTerraform?: boolean;
  readonly log?: Log;
}

export interface FreshLab {
  readonly state: LabState;
  readonly stateDir: string;
  readonly input: DeploymentInput;
  readonly deployment: Deployment;
  readonly upSeconds: number;
}

/**
 * The state directory the lab will use, chosen before booting so a caller can always take it
 * down (even when `labUp` fails half way). Throws naming what is missing on this machine.
 */
export function chooseFreshLab(o: FreshLabOptions): { prefix: string; stateDir: string } {
  const problems = preflightProblems("/var/tmp");
  if (o.needTerraform && spawnSync("terraform", ["version"], { timeout: 20_000 }).status !== 0)
    problems.push("terraform is not on PATH (Terraform >= 1.5 is needed to apply the stack)");
  if (problems.length > 0) throw new Error(`${o.what} cannot run on this machine:\n${problems.join("\n")}`);
  const prefix = suggestFreeSubnet(o.candidates);
  if (!prefix) throw new Error(`no free lab subnet among ${o.candidates[0]}-${o.candidates.at(-1)}.0/24`);
  return { prefix, stateDir: labStateDir(prefix) };
}

export async function bootFreshLab(o: FreshLabOptions, chosen = chooseFreshLab(o)): Promise<FreshLab> {
  const input = o.deployment(chosen.prefix);
  const deployment = parseDeployment(input);
  const t0 = Date.now();
  const state = await labUp(deployment, { log: o.log, stateDir: chosen.stateDir });
  return { state, stateDir: chosen.stateDir, input, deployment, upSeconds: (Date.now() - t0) / 1000 };
}

/**
 * chooseFreshLab, then bootFreshLab, for a test's beforeAll: `onChosen` gets the state directory
 * before anything boots (so the test's afterAll can take the lab down even when booting fails), and
 * the boot time is logged.
 */
export async function startFreshLab(o: FreshLabOptions, onChosen: (stateDir: string, prefix: string) => void): Promise<FreshLab> {
  const chosen = chooseFreshLab(o);
  onChosen(chosen.stateDir, chosen.prefix);
  const lab = await bootFreshLab(o, chosen);
  o.log?.(`lab up (${lab.state.hosts.length} hosts) in ${lab.upSeconds.toFixed(1)} s on ${lab.state.subnet}`);
  return lab;
}
