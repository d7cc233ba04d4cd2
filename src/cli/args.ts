/**
 * Command-line arguments, declared once per command: each flag's name, type, whether it is
 * required, its default and its description. The parser and the usage text both come from that
 * declaration, so a command cannot accept a flag its usage does not show (or the reverse).
 *
 * Rules: `--name value` or `--name=value`; booleans take no value; `--` ends the flags. An unknown
 * flag, a flag given twice, a stray word, a missing value or a missing required flag is an error
 * (exit 2, with the command's usage); every such error of one command line is reported at once.
 */
import { ConfigError, type ConfigIssue } from "../config/errors";

/** `size`: a byte count written like 4GB, 16G, 512MB or 512M (a bare number is GB). */
export type FlagType = "string" | "number" | "integer" | "boolean" | "size";

export interface FlagSpec {
  readonly type: FlagType;
  /** One line for the usage text. */
  readonly description: string;
  /** The flag must be given. @default false */
  readonly required?: boolean;
  /** Value when the flag is absent (shown in the usage). Booleans are false when absent. */
  readonly default?: string | number;
  /** Word shown for the value in the usage, e.g. FILE or 4GB. @default derived from the type */
  readonly placeholder?: string;
  /** The only values accepted (string flags). */
  readonly choices?: ReadonlyArray<string>;
  /** Bounds of a number, integer or size flag (sizes in bytes). */
  readonly min?: number;
  readonly max?: number;
}

export interface PositionalSpec {
  /** Shown in the usage, e.g. NODE. */
  readonly name: string;
  readonly description: string;
  /** @default true */
  readonly required?: boolean;
  readonly choices?: ReadonlyArray<string>;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type ValueOf<S extends FlagSpec> = S["type"] extends "boolean" ? boolean : S["type"] extends "string" ? string : number;

/** The parsed values: required flags, flags with a default and booleans are always present. */
export type FlagValues<F extends FlagSpecs> = {
  readonly [K in keyof F]: F[K] extends { required: true } | { default: string | number } | { type: "boolean" } ? ValueOf<F[K]> : ValueOf<F[K]> | undefined;
};

export interface Parsed<F extends FlagSpecs> {
  readonly flags: FlagValues<F>;
  /** Positional words, in the order the command declares them. */
  readonly positionals: ReadonlyArray<string>;
}

/** A command-line error: exit 2 like a config error, and the CLI prints the command's usage after it. */
export class UsageError extends ConfigError {
  constructor(issues: ReadonlyArray<ConfigIssue>) {
    super(issues);
    this.name = "UsageError";
    // stray words and positionals are command-line errors too, not errors in the deployment
    this.message = ConfigError.describe(issues, undefined, true);
  }
}

/** One command-line issue naming the flag, the value and the fix. */
export function usageError(flag: string, value: unknown, message: string, fix: string): UsageError {
  return new UsageError([{ path: flag, value, message, fix }]);
}

const UNITS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "a, b or c". */
export function oneOf(choices: ReadonlyArray<string>): string {
  return choices.length <= 1 ? choices.join("") : `${choices.slice(0, -1).join(", ")} or ${choices[choices.length - 1]}`;
}

/** `4GB`, `16G`, `16GiB`, `512MB`, `512M`, `1.5TB`; a bare number is GB. Returns bytes, or undefined. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?)?\s*$/i.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[(m[2] ?? "g").toLowerCase()]!);
}

function placeholder(spec: FlagSpec): string {
  if (spec.placeholder) return spec.placeholder;
  if (spec.choices) return spec.choices.join("|");
  return spec.type === "size" ? "SIZE" : spec.type === "number" || spec.type === "integer" ? "N" : "VALUE";
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function suggestion(name: string, known: ReadonlyArray<string>): string {
  const best = known.map((k) => ({ k, d: distance(name, k) })).sort((x, y) => x.d - y.d)[0];
  if (best && best.d <= Math.max(2, Math.floor(best.k.length / 3))) return `did you mean --${best.k}?`;
  return known.length > 0 ? `use one of --${known.join(", --")}` : "this command takes no flags";
}

function convert(name: string, spec: FlagSpec, raw: string, issues: ConfigIssue[]): string | number | undefined {
  const flag = `--${name}`;
  const bounds = () =>
    `${spec.min !== undefined ? ` >= ${spec.min}` : ""}${spec.min !== undefined && spec.max !== undefined ? " and" : ""}${spec.max !== undefined ? ` <= ${spec.max}` : ""}`;
  if (spec.type === "string") {
    if (spec.choices && !spec.choices.includes(raw)) {
      issues.push({ path: flag, value: raw, message: "is not one of the choices", fix: `use ${oneOf(spec.choices)}` });
      return undefined;
    }
    if (raw === "") {
      issues.push({ path: flag, value: raw, message: "is empty", fix: `write ${flag} ${placeholder(spec)}` });
      return undefined;
    }
    return raw;
  }
  if (spec.type === "size") {
    const bytes = parseSize(raw);
    if (bytes === undefined) {
      issues.push({ path: flag, value: raw, message: "is not a size", fix: "write it like 4GB, 16G, 512MB or 16 (GB)" });
      return undefined;
    }
    if ((spec.min !== undefined && bytes < spec.min) || (spec.max !== undefined && bytes > spec.max)) {
      const mb = (b: number) => `${Math.round(b / 1024 ** 2)}MB`;
      issues.push({
        path: flag,
        value: raw,
        message: "is out of range",
        fix: `use a size${spec.min !== undefined ? ` >= ${mb(spec.min)}` : ""}${spec.max !== undefined ? ` <= ${mb(spec.max)}` : ""}`,
      });
      return undefined;
    }
    return bytes;
  }
  const n = raw.trim() === "" ? NaN : Number(raw);
  const integer = spec.type === "integer";
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
    issues.push({
      path: flag,
      value: raw,
      message: `is not ${integer ? "a whole number" : "a number"} in range`,
      fix: `use ${integer ? "a whole number" : "a number"}${bounds()}`,
    });
    return undefined;
  }
  return n;
}

/**
 * Parses argv against the declaration. Throws UsageError listing every problem of the command
 * line at once.
 */
export function parseCommandLine<F extends FlagSpecs>(argv: ReadonlyArray<string>, flags: F, positionals: ReadonlyArray<PositionalSpec> = []): Parsed<F> {
  const issues: ConfigIssue[] = [];
  const raw = new Map<string, string | true>();
  const words: string[] = [];
  const known = Object.keys(flags);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      words.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = a.startsWith("--") ? a.slice(2, eq > 0 ? eq : undefined) : a;
    const spec = a.startsWith("--") ? flags[name] : undefined;
    if (!spec) {
      issues.push({
        path: a.startsWith("--") ? `--${name}` : name,
        value: a,
        message: "is not a flag of this command",
        fix: suggestion(name.replace(/^-+/, ""), known),
      });
      // Skip an unknown flag's likely value so it is not also reported as a stray word.
      if (eq < 0 && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("-")) i++;
      continue;
    }
    if (raw.has(name)) issues.push({ path: `--${name}`, value: a, message: "is given more than once", fix: `give --${name} once` });
    if (spec.type === "boolean") {
      if (eq > 0) issues.push({ path: `--${name}`, value: a.slice(eq + 1), message: "takes no value", fix: `write --${name} alone` });
      raw.set(name, true);
    } else if (eq > 0) raw.set(name, a.slice(eq + 1));
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) {
        issues.push({ path: `--${name}`, value: undefined, message: "needs a value", fix: `write --${name} ${placeholder(spec)}` });
      } else {
        raw.set(name, next);
        i++;
      }
    }
  }
  positionals.forEach((p, idx) => {
    const w = words[idx];
    if (w === undefined) {
      if (p.required !== false) issues.push({ path: p.name, value: undefined, message: "is missing", fix: `give ${p.name}: ${p.description}` });
    } else if (p.choices && !p.choices.includes(w)) {
      issues.push({ path: p.name, value: w, message: "is not one of the choices", fix: `use ${oneOf(p.choices)}` });
    }
  });
  for (const w of words.slice(positionals.length)) {
    issues.push({
      path: "(argument)",
      value: w,
      message: "is an unexpected word",
      fix:
        positionals.length > 0
          ? `this command takes only ${positionals.map((p) => p.name).join(" ")}`
          : "this command takes no words besides its flags (did you forget a --flag before it?)",
    });
  }
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(flags)) {
    const given = raw.get(name);
    if (spec.type === "boolean") values[name] = given === true;
    else if (typeof given === "string") values[name] = convert(name, spec, given, issues);
    else if (spec.required)
      issues.push({ path: `--${name}`, value: undefined, message: "is required", fix: `add --${name} ${placeholder(spec)} (${spec.description})` });
    else values[name] = spec.default;
  }
  if (issues.length > 0) throw new UsageError(issues);
  return { flags: values as FlagValues<F>, positionals: words };
}

/** The usage text generated from the declaration. */
export function usageText(command: string, flags: FlagSpecs, positionals: ReadonlyArray<PositionalSpec> = [], notes?: string): string {
  const entries = Object.entries(flags);
  const synopsisFlag = ([name, spec]: [string, FlagSpec]) => {
    const f = spec.type === "boolean" ? `--${name}` : `--${name} ${placeholder(spec)}`;
    return spec.required ? f : `[${f}]`;
  };
  const synopsis = [
    `ems-ha ${command}`,
    ...positionals.map((p) => (p.required === false ? `[${p.name}]` : p.choices && p.choices.length === 1 ? p.choices[0]! : p.name)),
    ...entries.filter(([, s]) => s.required).map(synopsisFlag),
    ...entries.filter(([, s]) => !s.required).map(synopsisFlag),
  ].join(" ");
  const rows: Array<[string, string]> = [
    ...positionals.map((p): [string, string] => [p.name, p.description]),
    ...entries.map(([name, spec]): [string, string] => {
      const left = spec.type === "boolean" ? `--${name}` : `--${name} ${placeholder(spec)}`;
      const tail = spec.required ? " (required)" : spec.default !== undefined ? ` (default ${spec.default})` : "";
      // Choices hidden behind a placeholder are listed in the description.
      const choices = spec.choices && spec.placeholder ? `: ${oneOf(spec.choices)}` : "";
      return [left, `${spec.description}${choices}${tail}`];
    }),
  ];
  const width = Math.min(34, Math.max(0, ...rows.map(([l]) => l.length)));
  const lines = rows.map(([l, r]) => (l.length > width ? `  ${l}\n  ${"".padEnd(width)}  ${r}` : `  ${l.padEnd(width)}  ${r}`));
  return [synopsis, ...(lines.length > 0 ? ["", "Options:", ...lines] : []), ...(notes ? ["", notes] : [])].join("\n");
}

// ---------------------------------------------------------------------------------------------
// The loose form below is kept for src/cli/config-arg.ts (the one --config resolver); commands use
// parseCommandLine.

export interface ParsedArgs {
  readonly positional: string[];
  readonly flags: Record<string, string | boolean>;
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw usageError(`--${name}`, v, "needs a value", `write --${name} <value>`);
  return v;
}
