/**
 * The cdktf app. With a user deployment ($EMS_HA_CONFIG or ./ems-ha.config.{ts,js,json}) it
 * synthesizes that deployment's topology as the stack of the same name. With a deployments
 * directory ($EMS_HA_DEPLOYMENTS or ./deployments/) it synthesizes one stack per deployment file,
 * named after the deployment's `name`. Without either it synthesizes every topology from
 * examples/ (what CI and a fresh clone do). Each stack gets the backend its deployment's `state`
 * chooses (stacks/backend.ts).
 * Bad input prints every error once and exits 2 before anything is written (`cdktf synth` turns
 * the app's 2 into its own exit code 1: docs/configuration.md, "Exit codes").
 * What the app says goes to stdout (cdktf shows the app's stderr as [ERROR]): which deployment
 * file it read, and the topology rules' warnings, each once, labelled "warning".
 */
import { App, type TerraformStack } from "cdktf";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../src/config/errors";
import { deploymentsDir, resolveDeployments } from "../src/config/deployments";
import { loadDeployment, resolveConfigPath } from "../src/config/load";
import { checkLocalFiles, offlineFiles, OFFLINE_FILES_ENV } from "../src/config/local-files";
import { TOPOLOGIES, type Deployment } from "../src/config/schema";
import { synthFindings } from "../src/analysis/rules";
import { printSynthError } from "../src/cli/cdktf-stderr";
import { deploymentSource } from "../src/cli/deployment-file";
import { applyStateBackend } from "./backend";
import { STACKS } from "./registry";
import { cacheBinaryVersionChecks } from "./validation-cache";

export interface AppInput {
  readonly deployments: ReadonlyArray<{
    readonly deployment: Deployment;
    readonly source: string;
    /** @default the topology */
    readonly stackId?: string;
    /** One of the shipped examples (placeholder files: checked in offline mode). */
    readonly example?: boolean;
  }>;
}

/**
 * The deployments to synthesize: the user's one, a deployments directory, or every example.
 * loadDeployment makes local paths (installer, extensions, keys, CA bundle, known_hosts) absolute
 * relative to the deployment file, because cdktf runs Terraform in cdktf.out/stacks/<stack>/.
 */
export function collectDeployments(cwd = process.cwd(), env = process.env): AppInput {
  const user = resolveDeployments(undefined, cwd, env);
  if (user) return { deployments: user };
  const examples = join(__dirname, "..", "examples");
  const deployments = [];
  for (const t of TOPOLOGIES) {
    const p = join(examples, `${t}.ts`);
    if (STACKS[t] && existsSync(p)) deployments.push({ deployment: loadDeployment(p), source: p, example: true });
  }
  return { deployments };
}

/**
 * Checks the local files of every deployment: a missing file or a wrong sha256 is an error
 * (ConfigError, exit 2), or a warning with EMS_HA_OFFLINE_FILES=1. The shipped examples name
 * placeholder files, so they are always checked in offline mode.
 */
export function checkDeploymentFiles(input: AppInput, env = process.env, warn: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): void {
  for (const { deployment, source, example } of input.deployments) {
    const issues = checkLocalFiles(deployment);
    if (issues.length === 0) continue;
    if (example) {
      warn(
        `[${deployment.topology}] example: ${issues.length} placeholder file(s) missing (${issues.map((i) => i.path).join(", ")}); replace them before deploying`,
      );
    } else if (offlineFiles(env)) {
      for (const i of issues)
        warn(
          `[${deployment.topology}] warning: ${i.path}: ${String(i.value)}: ${i.message} (${OFFLINE_FILES_ENV}=1: synthesized anyway; the deploy needs it). Fix: ${i.fix}`,
        );
    } else {
      throw new ConfigError(issues, source);
    }
  }
}

/**
 * Runs the topology rules of every deployment: warnings print, errors throw ConfigError.
 * Acknowledged findings (deployment.acknowledgements) are not printed.
 */
export function checkRules(input: AppInput, warn: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): void {
  for (const { deployment } of input.deployments) {
    const label = input.deployments.length > 1 ? `${deployment.name}/${deployment.topology}` : deployment.topology;
    synthFindings(deployment, (l) => warn(`[${label}] ${l.replace(/^\[Warning\]/, "warning:")}`));
  }
}

/** Builds the app's stacks (no files written until synth). */
export function buildApp(app: App, input: AppInput, cwd = process.cwd(), env = process.env): void {
  for (const { deployment, source, stackId } of input.deployments) {
    const factory = STACKS[deployment.topology];
    if (!factory) {
      throw new ConfigError(
        [{ path: "topology", value: deployment.topology, message: "this topology has no stack yet", fix: `use one of: ${Object.keys(STACKS).join(", ")}` }],
        source,
      );
    }
    const id = stackId ?? deployment.topology;
    const stack: TerraformStack = factory(app, id, deployment);
    applyStateBackend(stack, id, deployment, cwd, env);
  }
}

/** Which deployment the app synthesizes, and why that one; a missing Terraform CLI config file. */
export function announceDeployments(cwd = process.cwd(), env = process.env): string[] {
  const lines: string[] = [];
  const userConfig = resolveConfigPath(undefined, cwd, env);
  const dir = deploymentsDir(cwd, env);
  if (userConfig && (env.EMS_HA_CONFIG || !env.EMS_HA_DEPLOYMENTS))
    lines.push(`ems-ha: deployment ${userConfig} (${deploymentSource(undefined, { cwd, env }, userConfig)})`);
  else if (dir) lines.push(`ems-ha: deployments directory ${dir}: one stack per deployment, named after its \`name\``);
  else lines.push("ems-ha: no $EMS_HA_CONFIG and no ./ems-ha.config.{ts,js,json}: synthesizing every example of examples/");
  const rc = env.TF_CLI_CONFIG_FILE;
  if (rc && !existsSync(rc)) {
    lines.push(
      `warning: TF_CLI_CONFIG_FILE=${rc} does not exist: every terraform call warns about it (cdktf shows those as [ERROR]). Create the file (npm run setup does) or unset the variable.`,
    );
  }
  return lines;
}

export function main(): number {
  // Held back until synthesis goes ahead: on failure they are printed once, with the errors
  // (cdktf repeats a failed app's stdout; see src/cli/cdktf-stderr.ts).
  const notes: string[] = [];
  let input: AppInput;
  try {
    notes.push(...announceDeployments());
    input = collectDeployments();
    checkDeploymentFiles(input, process.env, (line) => notes.push(line));
    checkRules(input, (line) => notes.push(line));
  } catch (e) {
    if (e instanceof ConfigError) {
      printSynthError([...notes, e.message].join("\n"));
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
      printSynthError([...notes, e.message].join("\n"));
      return ConfigError.EXIT_CODE;
    }
    throw e;
  }
  if (notes.length > 0) process.stdout.write(`${notes.join("\n")}\n`);
  app.synth();
  return 0;
}

if (require.main === module) {
  process.exitCode = main();
}
