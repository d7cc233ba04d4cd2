/** Minimal argument parsing shared by the CLI commands. */
import { ConfigError } from "../config/errors";

export interface ParsedArgs {
  readonly positional: string[];
  readonly flags: Record<string, string | boolean>;
}

/** Parses `--key value`, `--key=value` and boolean `--flag`. `booleans` lists flags that take no value. */
export function parseArgs(argv: ReadonlyArray<string>, booleans: ReadonlyArray<string> = []): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq > 0) {
        flags[a.slice(2, eq)] = a.slice(eq + 1);
      } else {
        const key = a.slice(2);
        const next = argv[i + 1];
        if (booleans.includes(key) || next === undefined || next.startsWith("--")) flags[key] = true;
        else {
          flags[key] = next;
          i++;
        }
      }
    } else positional.push(a);
  }
  return { positional, flags };
}

/** A usage error: names the flag, the value and the fix; exits 2 like a config error. */
export function usageError(flag: string, value: unknown, message: string, fix: string): ConfigError {
  return new ConfigError([{ path: flag, value, message, fix }]);
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw usageError(`--${name}`, v, "needs a value", `write --${name} <value>`);
  return v;
}

export function numberFlag(args: ParsedArgs, name: string, min?: number, max?: number): number | undefined {
  const s = stringFlag(args, name);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
    throw usageError(`--${name}`, s, "is not a number in range", `use a number${min !== undefined ? ` >= ${min}` : ""}${max !== undefined ? ` and <= ${max}` : ""}`);
  }
  return n;
}
