/** Loading a deployment from a TypeScript module or a JSON file. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigError } from "./errors";
import { resolveLocalPaths } from "./local-files";
import { parseDeployment } from "./parse";
import type { Deployment } from "./schema";

export const CONFIG_ENV = "EMS_HA_CONFIG";
export const DEFAULT_CONFIG_FILES = ["ems-ha.config.ts", "ems-ha.config.js", "ems-ha.config.json"];

/** The config a user points at: explicit path, then $EMS_HA_CONFIG, then ./ems-ha.config.{ts,js,json}. */
export function resolveConfigPath(explicit?: string, cwd = process.cwd(), env = process.env): string | undefined {
  if (explicit) return resolve(cwd, explicit);
  const fromEnv = env[CONFIG_ENV];
  if (fromEnv) return resolve(cwd, fromEnv);
  for (const f of DEFAULT_CONFIG_FILES) {
    const p = resolve(cwd, f);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Loads a .js module natively and a .ts module through tsx, whatever runs this code. */
function requireModule(path: string): Record<string, unknown> {
  if (/\.[cm]?ts$/.test(path)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tsx = require("tsx/cjs/api") as { require: (id: string, from: string) => unknown };
    return tsx.require(path, __filename) as Record<string, unknown>;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path) as Record<string, unknown>;
}

/** Reads the raw (unvalidated) deployment object from a file. */
export function readDeploymentInput(path: string): unknown {
  if (!existsSync(path)) {
    throw new ConfigError([{ path: "(file)", value: path, message: "the config file does not exist", fix: "pass the path of a .ts, .js or .json deployment" }]);
  }
  if (path.endsWith(".json")) {
    try {
      return JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new ConfigError([{ path: "(file)", value: path, message: `not valid JSON: ${(e as Error).message}`, fix: "correct the JSON syntax" }]);
    }
  }
  const mod = requireModule(path);
  const value = mod.default ?? mod.deployment;
  if (value === undefined) {
    throw new ConfigError([{ path: "(file)", value: path, message: "the module exports neither default nor deployment", fix: "add `export default { ... }` with the deployment" }]);
  }
  return value;
}

/**
 * Reads and validates a deployment file. Throws ConfigError listing every issue. Local paths
 * (installer, extensions, private keys, CA bundle, known_hosts) come back absolute, relative
 * to the file's directory (src/config/local-files.ts).
 */
export function loadDeployment(path: string): Deployment {
  return resolveLocalPaths(parseDeployment(readDeploymentInput(path), path), dirname(resolve(path)));
}
