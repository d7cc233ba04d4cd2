/** The deployment a command works on: --config, else $EMS_HA_CONFIG, else ./ems-ha.config.{ts,js,json}. */
import { resolveConfigPath } from "../config/load";
import { type ParsedArgs, stringFlag, usageError } from "./args";
import type { CliIo } from "./command";

export function configPath(args: ParsedArgs, io: Pick<CliIo, "cwd" | "env">): string {
  const p = resolveConfigPath(stringFlag(args, "config"), io.cwd, io.env);
  if (!p)
    throw usageError(
      "--config",
      undefined,
      "no deployment given",
      "pass --config path/to/deployment.ts (or .json), set EMS_HA_CONFIG, or create ems-ha.config.ts",
    );
  return p;
}
