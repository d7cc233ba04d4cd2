/**
 * Plan JSON for the Docker and FortiGate stacks, built by hand: their providers cannot be
 * downloaded on this machine, so `terraform plan` cannot run. Built from the documented plan
 * JSON format (resource_changes[].change with actions, before/after, the sensitivity and unknown
 * masks, replace_paths) and from the resources the stack really synthesizes for v1 and v2:
 * an attribute that differs makes an update, or a replacement when the provider declares it
 * ForceNew (docker_container: name, image, env, ports, host, volumes, shm_size; docker_volume:
 * name; terraform_data: triggers_replace; fortios_firewall_policy: policyid). Secrets are
 * substituted for `${var.X}` and marked sensitive, as Terraform does.
 */
import { createHash } from "node:crypto";
import type { DeploymentInput } from "../../../src/config/schema";
import type { PlanJson, ResourceChange } from "../../../src/review";
import { synthDeployment } from "../../helpers/synth";

const FORCE_NEW: Record<string, string[]> = {
  docker_container: ["name", "image", "env", "ports", "host", "volumes", "shm_size"],
  docker_volume: ["name"],
  docker_image: ["name"],
  terraform_data: ["triggers_replace"],
  fortios_firewall_policy: ["policyid"],
  fortios_firewall_vip: ["name"],
  fortios_firewall_ldbmonitor: ["name"],
};
const IGNORED = new Set(["provisioner", "connection", "depends_on", "provider", "lifecycle", "//"]);

type Json = Record<string, any>;

function resolver(json: Json, secrets: Record<string, string>) {
  const resolve = (v: unknown): { value: unknown; sensitive: unknown } => {
    if (typeof v === "string") {
      let sensitive = false;
      const value = v.replace(/\$\{([a-z_]+)\.([^.}]+)(?:\.([a-z_]+))?\}/g, (m, type: string, id: string, attr?: string) => {
        if (type === "var") {
          sensitive = true;
          const s = secrets[id];
          if (s === undefined) throw new Error(`no test value for var.${id}`);
          return s;
        }
        const r = json.resource?.[type]?.[id];
        if (!r) return m;
        if (type === "docker_image" && attr === "image_id") return `sha256:${createHash("sha256").update(String(r.name)).digest("hex")}`;
        return String(r[attr ?? "id"] ?? m);
      });
      return { value, sensitive: sensitive || false };
    }
    if (Array.isArray(v)) {
      const parts = v.map(resolve);
      return { value: parts.map((p) => p.value), sensitive: parts.some((p) => p.sensitive !== false) ? parts.map((p) => p.sensitive) : false };
    }
    if (v && typeof v === "object") {
      const value: Json = {};
      const sensitive: Json = {};
      for (const [k, x] of Object.entries(v)) {
        if (IGNORED.has(k)) continue;
        const r = resolve(x);
        value[k] = r.value;
        if (r.sensitive !== false) sensitive[k] = r.sensitive;
      }
      return { value, sensitive: Object.keys(sensitive).length > 0 ? sensitive : false };
    }
    return { value: v, sensitive: false };
  };
  return resolve;
}

/** The plan of v2 against a state that holds v1 (as applied with `secrets1`), planned with `secrets2`. */
export function dockerPlan(v1: DeploymentInput, v2: DeploymentInput, secrets1: Record<string, string>, secrets2: Record<string, string> = secrets1): PlanJson {
  const a = synthDeployment(v1).json as Json;
  const b = synthDeployment(v2).json as Json;
  const ra = resolver(a, secrets1);
  const rb = resolver(b, secrets2);
  const changes: ResourceChange[] = [];
  const types = [...new Set([...Object.keys(a.resource ?? {}), ...Object.keys(b.resource ?? {})])].sort();
  for (const type of types) {
    const ids = [...new Set([...Object.keys(a.resource?.[type] ?? {}), ...Object.keys(b.resource?.[type] ?? {})])].sort();
    for (const id of ids) {
      const before = a.resource?.[type]?.[id] ? ra(a.resource[type][id]) : undefined;
      const after = b.resource?.[type]?.[id] ? rb(b.resource[type][id]) : undefined;
      let actions: ResourceChange["change"]["actions"];
      let replacePaths: Array<Array<string>> | undefined;
      if (!before) actions = ["create"];
      else if (!after) actions = ["delete"];
      else {
        const bv = before.value as Json;
        const av = after.value as Json;
        const diff = [...new Set([...Object.keys(bv), ...Object.keys(av)])].filter((k) => JSON.stringify(bv[k]) !== JSON.stringify(av[k]));
        const forcing = diff.filter((k) => (FORCE_NEW[type] ?? []).includes(k));
        if (diff.length === 0) actions = ["no-op"];
        else if (forcing.length > 0) {
          actions = ["delete", "create"];
          replacePaths = forcing.map((k) => [k]);
        } else actions = ["update"];
      }
      changes.push({
        address: `${type}.${id}`,
        mode: "managed",
        type,
        name: id,
        change: {
          actions,
          before: before?.value ?? null,
          after: after?.value ?? null,
          after_unknown: {},
          before_sensitive: before?.sensitive || {},
          after_sensitive: after?.sensitive || {},
          ...(replacePaths ? { replace_paths: replacePaths } : {}),
        },
        ...(replacePaths ? { action_reason: "replace_because_cannot_update" } : {}),
      });
    }
  }
  const variables: Record<string, { value: string }> = {};
  for (const name of Object.keys(b.variable ?? {})) if (secrets2[name] !== undefined) variables[name] = { value: secrets2[name]! };
  return { format_version: "1.2", terraform_version: "1.11.4", variables, resource_changes: changes };
}
