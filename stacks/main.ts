/**
 * The cdktf app. With a user deployment ($EMS_HA_CONFIG or ./ems-ha.config.{ts,js,json}) it
 * synthesizes that deployment's topology as the stack of the same name. Without one it
 * synthesizes every topology from examples/ (what CI and a fresh clone do).
 * Bad input prints every error and exits 2 before anything is written.
 */
import { App, LocalBackend, type TerraformStack } from "cdktf";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../src/config/errors";
import { loadDeployment, resolveConfigPath } from "../src/config/load";
import { TOPOLOGIES, type Deployment } from "../src/config/schema";
import { synthFindings } from "../src/analysis/rules";
import { STACKS } from "./registry";
import { cacheBinaryVersionChecks } from "./validation-cache";

export interface AppInput {
  readonly deployments: ReadonlyArray<{ readonly deployment: Deployment; readonly source: string }>;
}

/** The deployments to synthesize: the user's one, or every example. */
export function collectDeployments(cwd = process.cwd(), env = process.env): AppInput {
  const userConfig = resolveConfigPath(undefined, cwd, env);
  if (userConfig) return { deployments: [{ deployment: loadDeployment(userConfig), source: userConfig }] };
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
    synthFindings(deployment, warn ?? ((l) => process.stderr.write(`[${deployment.topology}] ${l}\n`)));
  }
}

/** Builds the app's stacks (no files written until synth). */
export function buildApp(app: App, input: AppInput): void {
  for (const { deployment, source } of input.deployments) {
    const factory = STACKS[deployment.topology];
    if (!factory) {
      throw new ConfigError([{ path: "topology", value: deployment.topology, message: "this topology has no stack yet", fix: `use one of: ${Object.keys(STACKS).join(", ")}` }], source);
    }
    const stack: TerraformStack = factory(app, deployment.topology, deployment);
    // EMS_HA_TF_STATE_DIR keeps Terraform's local state out of the working directory (the lab uses it).
    const stateDir = process.env.EMS_HA_TF_STATE_DIR;
    if (stateDir) new LocalBackend(stack, { path: join(stateDir, `terraform.${deployment.topology}.tfstate`) });
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
