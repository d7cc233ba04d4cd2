/** Test helpers: synthesize a stack of an example or deployment and read its JSON. */
import { Testing } from "cdktf";
import { parseDeployment } from "../../src/config/parse";
import type { Deployment, DeploymentInput } from "../../src/config/schema";
import { STACKS } from "../../stacks/registry";

export type TfJson = {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  provider?: Record<string, Array<Record<string, unknown>>>;
  variable?: Record<string, Record<string, unknown>>;
  output?: Record<string, { value: unknown }>;
  terraform?: Record<string, unknown>;
};

export function synthDeployment(input: DeploymentInput | Deployment): { json: TfJson; text: string; deployment: Deployment } {
  const deployment = parseDeployment(input);
  const factory = STACKS[deployment.topology];
  if (!factory) throw new Error(`no stack for ${deployment.topology}`);
  const app = Testing.app();
  const stack = factory(app, deployment.topology, deployment);
  const text = Testing.synth(stack);
  lastStack = deployment.topology;
  return { json: JSON.parse(text) as TfJson, text, deployment };
}

/**
 * Resources of a type, keyed by "<stack>/<construct path>" rebuilt from the logical id
 * (cdktf names resources <path joined by _>_<hash>; Testing.synth drops the metadata).
 */
export function resourcesByPath(json: TfJson, type: string, stack?: string): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const [id, r] of Object.entries(json.resource[type] ?? {})) {
    const meta = (r["//"] as { metadata?: { path: string } } | undefined)?.metadata;
    const path = meta?.path ?? `${stack ?? inferStack(json)}/${id.replace(/_[0-9A-F]{8}$/, "").replace(/_/g, "/")}`;
    out.set(path, r);
  }
  return out;
}

let lastStack = "";
function inferStack(_json: TfJson): string {
  return lastStack;
}

/** Resolves "${docker_volume.X.name}" style references to the referenced resource's attribute. */
export function resolveRef(json: TfJson, value: unknown): unknown {
  if (typeof value !== "string") return value;
  const m = /^\$\{([a-z_]+)\.([^.]+)\.([a-z_]+)\}$/.exec(value);
  if (!m) return value;
  const [, type, id, attr] = m;
  const r = json.resource[type!]?.[id!];
  if (!r) return value;
  if (attr === "image_id" && type === "docker_image") return r.name;
  return r[attr!];
}
