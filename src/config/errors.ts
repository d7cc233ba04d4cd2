/** Errors of a deployment description, all collected at once. */

export interface ConfigIssue {
  /** Dotted path of the field, e.g. database.nodes[1].address */
  readonly path: string;
  /** The value received (already safe to print: secrets are never config fields). */
  readonly value: unknown;
  /** What is wrong. */
  readonly message: string;
  /** How to fix it. */
  readonly fix: string;
  /** Id of the check that found it (the rule id `ems-ha check` prints); absent for schema errors. */
  readonly rule?: string;
  /** Names of the nodes the issue is about, when it is about nodes. */
  readonly nodes?: ReadonlyArray<string>;
}

export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out || "(root)";
}

/** Longest printed form of a value in an error message. */
const SHOW_MAX = 80;
/** Nesting printed before an object or array is abbreviated. */
const SHOW_DEPTH = 3;

/**
 * A short, single-line form of any value: strings JSON-quoted (control characters escaped),
 * objects and arrays abbreviated below SHOW_DEPTH, never more than SHOW_MAX characters. It
 * never recurses deeper than SHOW_DEPTH, so a 10,000-deep value prints as quickly as a flat one.
 */
export function showValue(value: unknown): string {
  if (value === undefined) return "(missing)";
  const s = preview(value, 0);
  return s.length > SHOW_MAX ? `${s.slice(0, SHOW_MAX - 3)}...` : s;
}

function preview(value: unknown, depth: number): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > SHOW_MAX * 2 ? value.slice(0, SHOW_MAX * 2) : value);
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    case "undefined":
      return "undefined";
    case "function":
      return "(function)";
    case "symbol":
      return "(symbol)";
  }
  if (depth >= SHOW_DEPTH) return Array.isArray(value) ? "[...]" : "{...}";
  const parts: string[] = [];
  let length = 0;
  if (Array.isArray(value)) {
    for (const item of value) {
      if (length > SHOW_MAX) {
        parts.push("...");
        break;
      }
      const p = preview(item, depth + 1);
      parts.push(p);
      length += p.length + 1;
    }
    return `[${parts.join(",")}]`;
  }
  for (const key of Object.keys(value as object)) {
    if (length > SHOW_MAX) {
      parts.push("...");
      break;
    }
    let item: unknown;
    try {
      item = (value as Record<string, unknown>)[key];
    } catch {
      item = "(unreadable)";
    }
    const p = `${JSON.stringify(key.slice(0, SHOW_MAX))}:${preview(item, depth + 1)}`;
    parts.push(p);
    length += p.length + 1;
  }
  return `{${parts.join(",")}}`;
}

export class ConfigError extends Error {
  /** Exit code the CLI uses for bad input. */
  static readonly EXIT_CODE = 2;
  constructor(
    public readonly issues: ReadonlyArray<ConfigIssue>,
    source?: string,
  ) {
    super(ConfigError.describe(issues, source));
    this.name = "ConfigError";
  }

  /** `commandLine`: every issue is about the command line (flags, positional words), whatever its path. */
  static describe(issues: ReadonlyArray<ConfigIssue>, source?: string, commandLine = false): string {
    const where = commandLine || issues.every((i) => i.path.startsWith("--")) ? "on the command line" : `in the deployment${source ? ` (${source})` : ""}`;
    const head = `${issues.length} error${issues.length === 1 ? "" : "s"} ${where}:`;
    const lines = issues.map((i) => `  - ${i.path}: ${i.message} (got ${showValue(i.value)}). Fix: ${i.fix}`);
    return [head, ...lines].join("\n");
  }
}
