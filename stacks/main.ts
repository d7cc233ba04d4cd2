/**
 * The cdktf app. With a user deployment ($EMS_HA_CONFIG or ./ems-ha.config.{ts,js,json}) it
 * synthesizes that deployment's topology as the stack of the same name. With a deployments
 * directory ($EMS_HA_DEPLOYMENTS or ./deployments/) it synthesizes one stack per deployment file,
 * named after the deployment's `name`. Without either it synthesizes every topology from
 * examples/ (what CI and a fresh clone do). Each stack gets the backend its deployment's `state`
 * chooses (stacks/backend.ts). Bad input prints every error and exits 2 before anything is written.
 */
import { App, type TerraformStack } from "cdktf";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../src/config/errors";
import { resolveDeployments } from "../src/config/deployments";
import { loadDeployment } from "../src/config/load";
import { TOPOLOGIES, type Deployment } from "../src/config/schema";
import { synthFindings } from "../src/analysis/rules";
import { applyStateBackend } from "./backend";
import { STACKS } from "./registry";
import { cacheBinaryVersionChecks } from "./validation-cache";

export interface AppInput {
  /** stackId: @default the topology */
  readonly deployments: ReadonlyArray<{ readonly deployment: Deployment; readonly source: string; readonly stackId?: string }>;
}

/** The deployments to synthesize: the user's one, a deployments directory, or every example. */
export function collectDeployments(cwd = process.cwd(), env = process.env): AppInput {
  const user = resolveDeployments(undefined, cwd, env);
  if (user) return { deployments: user };
  const examples = join(__dirname, "..", "examples");
  const deployments = [];
  for (const t of TOPOLOGIES) {
    const p = join(examples, `${t}.ts`);
    if (STACKS[t] && existsSync(p)) deployments.push({ deployment: loadDeployment(p), source: p });
  }
  return { deployments };
}

/**
 * Runs the topology rules of every deployment: warnings print, errors throw ConfigError.
 * Acknowledged findings (deployment.acknowledgements) are not printed.
 */
export function checkRules(input: AppInput, warn?: (line: string) => void): void {
  for (const { deployment } of input.deployments) {
    synthFindings(deployment, warn ?? ((l) => process.stderr.write(`[${deployment.name}/${deployment.topology}] ${l}\n`)));
  }
}

/** Builds the app's stacks (no files written until synth). */
export function buildApp(app: App, input: AppInput, cwd = process.cwd(), env = process.env): void {
  for (const { deployment, source, stackId } of input.deployments) {
    const factory = STACKS[deployment.topology];
    if (!factory) {
      throw new ConfigError([{ path: "topology", value: deployment.topology, message: "this topology has no stack yet", fix: `use one of: ${Object.keys(STACKS).join(", ")}` }], source);
    }
    const id = stackId ?? deployment.topology;
    const stack: TerraformStack = factory(app, id, deployment);
    applyStateBackend(stack, id, deployment, cwd, env);
  }
}

export function main(): number {
  let input: AppInput;
  try {
    input = collectDeployments();
    checkRules(input);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return ConfigError.EXIT_CODE;
    }
    throw e;
  }
  cacheBinaryVersionChecks();
  const app = new App();
  try {
    buildApp(app, input);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return ConfigError.EXIT_CODE;
    }
    throw e;
  }
  app.synth();
  return 0;
}

if (require.main === module) {
  process.exitCode = main();
}
