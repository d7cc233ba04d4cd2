/** Validation of a deployment: every error at once, each with path, value and fix. */
import type { ZodIssue } from "zod";
import { ConfigError, type ConfigIssue, formatPath } from "./errors";
import { deploymentSchema, type Deployment, type DeploymentInput } from "./schema";
import { semanticIssues } from "./semantics";

function valueAt(input: unknown, path: ReadonlyArray<string | number>): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

function fixFor(issue: ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.received === "undefined" ? `add this field (${issue.expected})` : `use a ${issue.expected}`;
    case "invalid_enum_value":
      return `use one of: ${issue.options.join(", ")}`;
    case "invalid_union_discriminator":
      return `set kind to one of: ${issue.options.join(", ")}`;
    case "unrecognized_keys":
      return `remove ${issue.keys.join(", ")} (check the spelling against docs/configuration.md)`;
    case "too_small":
      return issue.type === "array" ? `give at least ${issue.minimum} item(s)` : `use a value of at least ${issue.minimum}`;
    case "too_big":
      return `use a value of at most ${issue.maximum}`;
    default:
      return "see docs/configuration.md";
  }
}

export function zodIssues(err: { issues: ZodIssue[] }, input: unknown): ConfigIssue[] {
  return err.issues.map((i) => ({
    path: formatPath(i.path),
    value: i.code === "unrecognized_keys" ? i.keys : valueAt(input, i.path),
    message: i.message,
    fix: fixFor(i),
  }));
}

/** Result form, for callers that report rather than throw. */
export function safeParseDeployment(input: unknown): { ok: true; deployment: Deployment } | { ok: false; issues: ConfigIssue[] } {
  const res = deploymentSchema.safeParse(input);
  if (!res.success) return { ok: false, issues: zodIssues(res.error, input) };
  const issues = semanticIssues(res.data);
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, deployment: res.data };
}

/** Validates and fills defaults; throws ConfigError with every issue. */
export function parseDeployment(input: DeploymentInput | unknown, source?: string): Deployment {
  const r = safeParseDeployment(input);
  if (!r.ok) throw new ConfigError(r.issues, source);
  return r.deployment;
}

/** Identity helper that gives editors the types when writing a deployment module. */
export function defineDeployment(input: DeploymentInput): DeploymentInput {
  return input;
}
