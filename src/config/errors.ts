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
}

export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out || "(root)";
}

function show(value: unknown): string {
  if (value === undefined) return "(missing)";
  const s = JSON.stringify(value);
  if (s === undefined) return String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export class ConfigError extends Error {
  /** Exit code the CLI uses for bad input. */
  static readonly EXIT_CODE = 2;
  constructor(public readonly issues: ReadonlyArray<ConfigIssue>, source?: string) {
    super(ConfigError.describe(issues, source));
    this.name = "ConfigError";
  }

  static describe(issues: ReadonlyArray<ConfigIssue>, source?: string): string {
    const where = issues.every((i) => i.path.startsWith("--")) ? "on the command line" : `in the deployment${source ? ` (${source})` : ""}`;
    const head = `${issues.length} error${issues.length === 1 ? "" : "s"} ${where}:`;
    const lines = issues.map((i) => `  - ${i.path}: ${i.message} (got ${show(i.value)}). Fix: ${i.fix}`);
    return [head, ...lines].join("\n");
  }
}
