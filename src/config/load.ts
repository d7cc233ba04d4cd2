/** Loading a deployment from a TypeScript module or a JSON file. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";
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

/** Extensions a deployment file may have; anything else is refused by name, never loaded. */
export const CONFIG_EXTENSIONS = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs", ".json"] as const;

function fileError(path: string, message: string, fix: string): ConfigError {
  return new ConfigError([{ path: "(file)", value: path, message, fix }], path);
}

/** The loader's message, on one line and bounded. */
function loaderMessage(e: unknown): string {
  const text = e instanceof Error ? `${e.name === "Error" ? "" : `${e.name}: `}${e.message}` : String(e);
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
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

/** Reads the raw (unvalidated) deployment object from a file. Every failure is a ConfigError naming the file. */
export function readDeploymentInput(path: string): unknown {
  if (!existsSync(path)) throw fileError(path, "the config file does not exist", "pass the path of a .ts, .js or .json deployment");
  const ext = extname(path).toLowerCase();
  if (!(CONFIG_EXTENSIONS as ReadonlyArray<string>).includes(ext)) {
    throw fileError(
      path,
      `the file's extension ${ext ? `"${ext}"` : "(none)"} is not one of ${CONFIG_EXTENSIONS.join(", ")}; it is not loaded`,
      "write the deployment as a .ts or .js module (export default { ... }) or as .json, and name the file accordingly",
    );
  }
  if (ext === ".json") {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw fileError(path, `cannot read the file: ${loaderMessage(e)}`, "check the path and its permissions");
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      throw fileError(path, `not valid JSON: ${loaderMessage(e)}`, "correct the JSON syntax");
    }
  }
  let mod: Record<string, unknown>;
  try {
    mod = requireModule(path);
  } catch (e) {
    throw fileError(
      path,
      `loading the module failed: ${loaderMessage(e)}`,
      "fix the module so it loads (run it with `npx tsx` to see the error); a JSON deployment must be named .json",
    );
  }
  let value: unknown;
  try {
    value = mod?.default ?? mod?.deployment;
    // Plain data only: getters run once here, functions and cycles are refused.
    value = value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  } catch (e) {
    throw fileError(
      path,
      `the exported deployment is not plain data: ${loaderMessage(e)}`,
      "export a plain object of strings, numbers, booleans, arrays and objects",
    );
  }
  if (value === undefined) {
    throw fileError(path, "the module exports neither default nor deployment", "add `export default { ... }` with the deployment");
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
