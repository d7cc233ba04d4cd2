/**
 * The deployment file a command reads, announced on stderr: which file, and why that one (--config,
 * $EMS_HA_CONFIG, or the first of ./ems-ha.config.{ts,js,json}, naming the ones it won over).
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { CONFIG_ENV, DEFAULT_CONFIG_FILES, type Deployment, loadDeployment } from "../config";
import type { FlagSpec } from "./args";
import type { CliIo } from "./command";
import { configPath } from "./config-arg";

/** The --config flag every command that reads a deployment declares. */
export const CONFIG_FLAG = {
  type: "string",
  placeholder: "FILE",
  description: `the deployment (.ts, .js or .json); else $${CONFIG_ENV}, else ./${DEFAULT_CONFIG_FILES.join(", ./")} (first found)`,
} as const satisfies FlagSpec;

/** The --verify-timeout flag of the commands that wait for the cluster after acting on it (1 s to 1 h). */
export function verifyTimeoutFlag(seconds: number, description: string) {
  return { type: "number", default: seconds, placeholder: "SECONDS", description, min: 1, max: 3600 } as const satisfies FlagSpec;
}

/** Where a deployment file came from, in words. */
export function deploymentSource(explicit: string | undefined, io: Pick<CliIo, "cwd" | "env">, path: string): string {
  if (explicit) return "from --config";
  if (io.env[CONFIG_ENV]) return `from $${CONFIG_ENV}`;
  const others = DEFAULT_CONFIG_FILES.filter((f) => existsSync(resolve(io.cwd, f)) && resolve(io.cwd, f) !== path);
  return others.length === 0
    ? "found in the working directory"
    : `found in the working directory; it wins over ${others.join(" and ")}, which ${others.length === 1 ? "is" : "are"} ignored`;
}

/** Resolves the deployment file and says on stderr which one it is. */
export function deploymentFile(explicit: string | undefined, io: CliIo): string {
  const path = configPath({ positional: [], flags: explicit === undefined ? {} : { config: explicit } }, io);
  io.err(`ems-ha: deployment ${path} (${deploymentSource(explicit, io, path)})`);
  return path;
}

/** Resolves, announces, loads and validates the deployment. */
export function readDeployment(explicit: string | undefined, io: CliIo): { readonly path: string; readonly deployment: Deployment } {
  const path = deploymentFile(explicit, io);
  return { path, deployment: loadDeployment(path) };
}
