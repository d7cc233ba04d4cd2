/**
 * Validation of a deployment: every error at once, each with path, value and fix.
 *
 * Three lists are gathered in one run and reported together:
 * 1. the schema's (zod) issues;
 * 2. a walk over every string of the input: `${` and `%{` (Terraform templates) and control
 *    characters are refused in EVERY field, so a field added later cannot forget it;
 * 3. the cross-field checks of semantics.ts. When the schema rejects part of the input they run
 *    on a best-effort object (each valid part parsed with its defaults), so a typo in one field
 *    does not hide, say, the keep-alive check; issues about fields the schema already rejected
 *    are left out.
 */
import { type ZodIssue, type ZodTypeAny, z } from "zod";
import { ConfigError, type ConfigIssue, formatPath } from "./errors";
import { deploymentSchema, type Deployment, type DeploymentInput } from "./schema";
import { CONFIG_CHECKS } from "./semantics";
import { CONTROL_CHARS, TEMPLATE_MARKERS } from "./values";

type Path = ReadonlyArray<string | number>;

function valueAt(input: unknown, path: Path): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

function fixFor(issue: ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.received === "undefined" ? `add this field (${issue.expected})` : `use a ${issue.expected}`;
    case "invalid_literal":
      return `use ${JSON.stringify(issue.expected)}`;
    case "invalid_enum_value":
      return `use one of: ${issue.options.join(", ")}`;
    case "invalid_union_discriminator":
      return `set the discriminator to one of: ${issue.options.map(String).join(", ")}`;
    case "unrecognized_keys":
      return `remove ${issue.keys.join(", ")} (check the spelling against docs/configuration.md)`;
    case "too_small":
      if (issue.type === "array") return `give at least ${issue.minimum} item(s)`;
      if (issue.type === "string") return `use at least ${issue.minimum} character(s)`;
      return `use a value of at least ${issue.minimum}`;
    case "too_big":
      if (issue.type === "array") return `give at most ${issue.maximum} item(s)`;
      if (issue.type === "string") return `use at most ${issue.maximum} character(s)`;
      return `use a value of at most ${issue.maximum}`;
    case "not_finite":
      return "use a finite number";
    case "invalid_string":
      return "change the value to the form described (see docs/configuration.md)";
    case "custom": {
      const fix = (issue.params as { fix?: unknown } | undefined)?.fix;
      return typeof fix === "string" ? fix : "see docs/configuration.md";
    }
    default:
      return "see docs/configuration.md";
  }
}

/** The node a path points into (emsNodes[i] / database.nodes[i]), by the name the input gives it. */
function nodesOfPath(input: unknown, path: Path): string[] | undefined {
  const at = path[0] === "emsNodes" ? 1 : path[0] === "database" && path[1] === "nodes" ? 2 : -1;
  if (at < 0 || typeof path[at] !== "number") return undefined;
  const name = valueAt(input, [...path.slice(0, at + 1), "name"]);
  return typeof name === "string" && /^[a-z0-9-]{1,63}$/.test(name) ? [name] : undefined;
}

export function zodIssues(err: { issues: ZodIssue[] }, input: unknown): ConfigIssue[] {
  return err.issues.map((i) => {
    const nodes = nodesOfPath(input, i.path);
    return {
      path: formatPath(i.path),
      value: i.code === "unrecognized_keys" ? i.keys : valueAt(input, i.path),
      message: i.message,
      fix: fixFor(i),
      ...(nodes ? { nodes } : {}),
    };
  });
}

/** Deepest nesting the walk looks into; a deployment is at most ~6 levels deep. */
const WALK_DEPTH = 64;
/** Most values the walk visits. */
const WALK_VALUES = 200_000;

/**
 * Strings anywhere in the input (keys included) that contain a Terraform template marker or a
 * control character. Iterative, so any nesting depth is safe; values nested deeper than
 * WALK_DEPTH are one issue (no field of a deployment is that deep).
 */
export function stringIssues(input: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const stack: Array<{ value: unknown; path: Array<string | number> }> = [{ value: input, path: [] }];
  let visited = 0;
  const checkString = (s: string, path: Array<string | number>, what: string) => {
    const marker = TEMPLATE_MARKERS.find((m) => s.includes(m));
    if (marker) {
      issues.push({
        path: formatPath(path),
        value: s,
        message: `${what} contains ${marker}, which Terraform would evaluate as a template`,
        fix: `remove ${marker} (no field of a deployment takes a Terraform expression; secrets are TF_VAR_ variables)`,
      });
    }
    if (CONTROL_CHARS.test(s)) {
      issues.push({
        path: formatPath(path),
        value: s,
        message: `${what} contains a control character (newline, tab, escape, ...)`,
        fix: "remove the control characters",
      });
    }
  };
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (++visited > WALK_VALUES) {
      issues.push({
        path: formatPath(path),
        value: undefined,
        message: "the deployment has too many values to check",
        fix: "describe one deployment (it has at most a few hundred values)",
      });
      break;
    }
    if (typeof value === "string") {
      checkString(value, path, "the value");
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (path.length >= WALK_DEPTH) {
      issues.push({
        path: formatPath(path),
        value,
        message: `nested deeper than ${WALK_DEPTH} levels`,
        fix: "no field of a deployment is nested this deeply: remove the nested value",
      });
      continue;
    }
    let keys: string[];
    try {
      keys = Array.isArray(value) ? value.map((_, i) => String(i)) : Object.keys(value);
    } catch {
      continue;
    }
    for (let k = keys.length - 1; k >= 0; k--) {
      const key = keys[k]!;
      const childPath = [...path, Array.isArray(value) ? k : key];
      if (!Array.isArray(value)) checkString(key, childPath, "the key");
      let child: unknown;
      try {
        child = (value as Record<string, unknown>)[key];
      } catch {
        continue;
      }
      stack.push({ value: child, path: childPath });
    }
  }
  return issues;
}

// ---- the best-effort object the cross-field checks run on when the schema fails ----

function unwrap(schema: ZodTypeAny): ZodTypeAny {
  let s = schema;
  for (;;) {
    if (s instanceof z.ZodDefault) s = s._def.innerType;
    else if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s._def.innerType;
    else return s;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The parsed value when valid, else the field's default, else each part of it as far as valid. */
function lenient(schema: ZodTypeAny, value: unknown): unknown {
  const whole = schema.safeParse(value);
  if (whole.success) return whole.data;
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject && isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(inner.shape as Record<string, ZodTypeAny>)) {
      const v = lenient(field, Object.prototype.hasOwnProperty.call(value, key) ? value[key] : undefined);
      if (v !== undefined) out[key] = v;
    }
    return out;
  }
  if (inner instanceof z.ZodArray && Array.isArray(value)) {
    return value.map((item) => lenient(inner.element as ZodTypeAny, item));
  }
  const fallback = schema.safeParse(undefined);
  return fallback.success ? fallback.data : value;
}

/** `a` is `b`, or one is inside the other (database.nodes[1] and database.nodes[1].name). */
function overlaps(a: string, b: string): boolean {
  const inside = (x: string, y: string) => x === y || x.startsWith(`${y}.`) || x.startsWith(`${y}[`);
  return inside(a, b) || inside(b, a);
}

/** The cross-field checks on the best-effort object; a check the partial object trips up is skipped. */
function bestEffortSemantics(input: unknown, schemaIssues: ReadonlyArray<ConfigIssue>): ConfigIssue[] {
  if (!isRecord(input)) return [];
  const partial = lenient(deploymentSchema, input) as Deployment;
  const bad = schemaIssues.map((i) => i.path).filter((p) => p !== "(root)");
  const out: ConfigIssue[] = [];
  for (const c of CONFIG_CHECKS) {
    let found: ConfigIssue[];
    try {
      found = c.check(partial);
    } catch {
      continue; // the check needs a field the schema rejected; that error is reported already
    }
    for (const issue of found) if (!bad.some((p) => overlaps(issue.path, p))) out.push(issue);
  }
  return out;
}

export type DeploymentValidation = { ok: true; deployment: Deployment; issues: [] } | { ok: false; issues: ConfigIssue[] };

/**
 * Validates a deployment: schema, the every-string walk and the cross-field checks, all gathered.
 * Never throws for any input.
 */
export function validateDeployment(input: unknown): DeploymentValidation {
  const strings = stringIssues(input);
  let parsed: ReturnType<typeof deploymentSchema.safeParse>;
  try {
    parsed = deploymentSchema.safeParse(input);
  } catch (e) {
    return {
      ok: false,
      issues: [
        ...strings,
        {
          path: "(root)",
          value: undefined,
          message: `the deployment could not be read: ${(e as Error)?.message ?? String(e)}`,
          fix: "export a plain object (no getters that throw, no proxies)",
        },
      ],
    };
  }
  if (parsed.success) {
    const semantic = CONFIG_CHECKS.flatMap((c) => c.check(parsed.data));
    const issues = [...strings, ...semantic];
    return issues.length === 0 ? { ok: true, deployment: parsed.data, issues: [] } : { ok: false, issues };
  }
  const schema = zodIssues(parsed.error, input);
  // A control character in a field the schema rejects already is not reported twice.
  const rejected = new Set(schema.map((i) => i.path));
  const walk = strings.filter((i) => !(rejected.has(i.path) && /control character/.test(i.message)));
  return { ok: false, issues: [...schema, ...walk, ...bestEffortSemantics(input, schema)] };
}

/** Result form, for callers that report rather than throw. */
export function safeParseDeployment(input: unknown): { ok: true; deployment: Deployment } | { ok: false; issues: ConfigIssue[] } {
  const r = validateDeployment(input);
  return r.ok ? { ok: true, deployment: r.deployment } : { ok: false, issues: r.issues };
}

/** Validates and fills defaults; throws ConfigError with every issue. */
export function parseDeployment(input: DeploymentInput | unknown, source?: string): Deployment {
  const r = validateDeployment(input);
  if (!r.ok) throw new ConfigError(r.issues, source);
  return r.deployment;
}

/** Identity helper that gives editors the types when writing a deployment module. */
export function defineDeployment(input: DeploymentInput): DeploymentInput {
  return input;
}
