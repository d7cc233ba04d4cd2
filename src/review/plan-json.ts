/**
 * The parts of Terraform's machine-readable plan (`terraform show -json plan.out`) that the
 * review reads: `resource_changes[]` with `address`, `type`, `name`, `change.actions`,
 * `change.before` / `after`, the sensitivity and unknown masks, `replace_paths` and
 * `action_reason`. The format is documented by HashiCorp as "JSON Output Format"
 * (docs/ci.md#the-plan-json-format). Values marked sensitive ARE present in clear in this
 * JSON: the review compares them and never prints them.
 */
import { ConfigError } from "../config/errors";

export type PlanAction = "no-op" | "create" | "read" | "update" | "delete";

export interface PlanChange {
  readonly actions: ReadonlyArray<PlanAction>;
  readonly before?: unknown;
  readonly after?: unknown;
  /** Same shape as `after`, `true` where the value is known only after apply. */
  readonly after_unknown?: unknown;
  /** Same shape as `before`, `true` where the value is sensitive. */
  readonly before_sensitive?: unknown;
  readonly after_sensitive?: unknown;
  /** Attribute paths that force the replacement (Terraform >= 1.2). */
  readonly replace_paths?: ReadonlyArray<ReadonlyArray<string | number>>;
}

export interface ResourceChange {
  readonly address: string;
  readonly mode?: "managed" | "data";
  readonly type: string;
  readonly name: string;
  readonly module_address?: string;
  readonly change: PlanChange;
  /** e.g. "replace_because_cannot_update", "replace_by_request", "replace_because_tainted". */
  readonly action_reason?: string;
}

export interface PlanJson {
  readonly format_version?: string;
  readonly terraform_version?: string;
  readonly resource_changes?: ReadonlyArray<ResourceChange>;
  readonly variables?: Record<string, { readonly value?: unknown }>;
  readonly configuration?: { readonly root_module?: { readonly variables?: Record<string, { readonly sensitive?: boolean }> } };
}

/** What a change does to the resource, in one word. */
export type ChangeAction = "no-op" | "create" | "update" | "replace" | "delete" | "read";

export function actionOf(c: PlanChange): ChangeAction {
  const a = c.actions;
  if (a.includes("delete") && a.includes("create")) return "replace";
  if (a.includes("delete")) return "delete";
  if (a.includes("create")) return "create";
  if (a.includes("update")) return "update";
  if (a.includes("read")) return "read";
  return "no-op";
}

/** Parses and checks the plan JSON; bad input is a ConfigError (exit 2) naming the fix. */
export function parsePlanJson(text: string, source = "(plan)"): PlanJson {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([
      {
        path: source,
        value: text.slice(0, 40),
        message: `not JSON: ${(e as Error).message}`,
        fix: "pass the output of `terraform show -json plan.out` (not the binary plan file, not `terraform plan` text)",
      },
    ]);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ConfigError([{ path: source, value: typeof v, message: "is not a JSON object", fix: "pass the output of `terraform show -json plan.out`" }]);
  }
  const p = v as Record<string, unknown>;
  if (p.resource_changes === undefined && p.planned_values === undefined) {
    throw new ConfigError([
      {
        path: source,
        value: Object.keys(p).slice(0, 5),
        message: "has no resource_changes: this is not a plan (a state file, or `terraform show -json` without a plan file?)",
        fix: "run `terraform plan -out=plan.out` then `terraform show -json plan.out`",
      },
    ]);
  }
  const rc = p.resource_changes ?? [];
  if (!Array.isArray(rc) || rc.some((r) => typeof r !== "object" || r === null || typeof r.address !== "string" || !Array.isArray(r.change?.actions))) {
    throw new ConfigError([
      {
        path: `${source}.resource_changes`,
        value: "(malformed)",
        message: "entries lack address or change.actions",
        fix: "pass unmodified `terraform show -json` output",
      },
    ]);
  }
  return p as PlanJson;
}
