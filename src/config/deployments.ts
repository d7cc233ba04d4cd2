/**
 * Many deployments from one repository: every `*.ts`, `*.js` or `*.json` file of a directory
 * (`deployments/`, or the directory in $EMS_HA_DEPLOYMENTS) is one deployment, synthesized as one
 * stack whose id is the deployment's `name` (docs/ci.md#many-deployments). Names must be unique:
 * the stack id keys Terraform's state, so two files with one name would share (and overwrite)
 * one state.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, type ConfigIssue } from "./errors";
import { loadDeployment, resolveConfigPath } from "./load";
import type { Deployment } from "./schema";

export const DEPLOYMENTS_ENV = "EMS_HA_DEPLOYMENTS";
export const DEFAULT_DEPLOYMENTS_DIR = "deployments";

export interface DeploymentEntry {
  readonly deployment: Deployment;
  /** The file it was read from. */
  readonly source: string;
  /** The stack id: the deployment's name in a deployments directory, the topology for a single config. */
  readonly stackId: string;
}

/** The deployments directory: $EMS_HA_DEPLOYMENTS, else ./deployments when it exists. */
export function deploymentsDir(cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env[DEPLOYMENTS_ENV];
  if (fromEnv) {
    const dir = resolve(cwd, fromEnv);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new ConfigError([
        {
          path: DEPLOYMENTS_ENV,
          value: fromEnv,
          message: "is not a directory",
          fix: "point EMS_HA_DEPLOYMENTS at a directory of deployment files, or unset it",
        },
      ]);
    }
    return dir;
  }
  const dir = resolve(cwd, DEFAULT_DEPLOYMENTS_DIR);
  return existsSync(dir) && statSync(dir).isDirectory() ? dir : undefined;
}

/** The deployment files of a directory, sorted (so stacks come out in a stable order). */
export function deploymentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.(ts|js|json)$/.test(f) && !f.endsWith(".d.ts") && !f.startsWith(".") && !f.startsWith("_"))
    .sort()
    .map((f) => join(dir, f));
}

/** Loads every deployment of a directory; every error of every file, and duplicate names, at once. */
export function loadDeploymentsDir(dir: string): DeploymentEntry[] {
  const files = deploymentFiles(dir);
  if (files.length === 0) {
    throw new ConfigError([
      { path: "(directory)", value: dir, message: "holds no deployment file", fix: "add <name>.ts or <name>.json files, one deployment each" },
    ]);
  }
  const issues: ConfigIssue[] = [];
  const entries: DeploymentEntry[] = [];
  for (const source of files) {
    try {
      const deployment = loadDeployment(source);
      entries.push({ deployment, source, stackId: deployment.name });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const i of e.issues) issues.push({ ...i, path: `${source}: ${i.path}` });
    }
  }
  const byName = new Map<string, string[]>();
  for (const e of entries) byName.set(e.stackId, [...(byName.get(e.stackId) ?? []), e.source]);
  for (const [name, sources] of byName) {
    if (sources.length < 2) continue;
    issues.push({
      path: "name",
      value: name,
      message: `is the name of ${sources.length} deployments (${sources.join(", ")}); the name is the stack id and keys the Terraform state`,
      fix: "give each deployment file its own name",
    });
  }
  if (issues.length > 0) throw new ConfigError(issues, dir);
  return entries;
}

/**
 * The deployments a command or the app works on, in this order: an explicit path, $EMS_HA_CONFIG,
 * $EMS_HA_DEPLOYMENTS, ./ems-ha.config.{ts,js,json}, ./deployments/. Undefined when none.
 * A single config keeps the topology as its stack id (as before deployments directories).
 */
export function resolveDeployments(explicit: string | undefined, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): DeploymentEntry[] | undefined {
  if (explicit || env.EMS_HA_CONFIG) {
    const p = resolveConfigPath(explicit, cwd, env)!;
    const deployment = loadDeployment(p);
    return [{ deployment, source: p, stackId: deployment.topology }];
  }
  if (env[DEPLOYMENTS_ENV]) return loadDeploymentsDir(deploymentsDir(cwd, env)!);
  const single = resolveConfigPath(undefined, cwd, env);
  if (single) {
    const deployment = loadDeployment(single);
    return [{ deployment, source: single, stackId: deployment.topology }];
  }
  const dir = deploymentsDir(cwd, env);
  return dir ? loadDeploymentsDir(dir) : undefined;
}
