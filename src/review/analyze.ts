/**
 * The plan review: reads `terraform show -json` output and says, in HA terms, what applying it
 * does to the running cluster, most dangerous first. Pure: no Terraform, no files.
 */
import { initialPrimary } from "../config/derive";
import type { Deployment } from "../config/schema";
import { actionOf, type ChangeAction, type PlanJson, type ResourceChange } from "./plan-json";
import { classify, fieldOf, type Classified } from "./resource-classes";
import { changedLeaves, getPath, pathText, type LeafChange } from "./values";
import { membershipFindings, membershipOf, type Membership, type SetupChange } from "./membership";
import { sortFindings, verdictOf, type Cause, type ChangeKind, type Finding, type PlanReview, type Severity } from "./findings";

/** The acknowledgement rule id that lets a plan destroy database data: `acknowledgements: [{ rule: "plan-data-loss", reason }]`. */
export const DATA_LOSS_ACK_RULE = "plan-data-loss"; // the rule src/analysis/rules/plan-data-loss-acknowledged.ts
export const DOCKER_MEMBERSHIP_ACK_RULE = "plan-docker-membership"; // src/analysis/rules/plan-docker-membership-acknowledged.ts

export interface ReviewOptions {
  /** The deployment the plan was made from: roles, the initial primary, acknowledgements, field indexes. */
  readonly deployment?: Deployment;
  /** The node that is primary now (from `ems-ha status`). @default the deployment's initial primary */
  readonly primary?: string;
  /** Stack name shown in the report. */
  readonly stack?: string;
}

type Role = "data" | "witness";

interface Item {
  readonly rc: ResourceChange;
  readonly action: ChangeAction;
  readonly cls?: Classified;
  readonly leaves: LeafChange[];
  /** Leaves that force the replacement (all leaves when the plan gives no replace_paths). */
  readonly causes: LeafChange[];
}

/** A container step of the ssh engine (terraform_data NODE/container). */
const SSH_ENGINE_CONTAINER = /^terraform_data\.[a-z0-9-]+_container_[0-9A-F]{8}$/;
const isSshEngineContainer = (it: Item) => it.cls?.row.cls === "db-container" && SSH_ENGINE_CONTAINER.test(it.rc.address);

/** Replacements that no attribute forces (Terraform's action_reason). */
const REASONS: Record<string, string> = {
  replace_by_request: "requested by the operator (terraform plan/apply -replace=ADDRESS), e.g. to apply a rotated secret",
  replace_because_tainted: "the resource is tainted (a previous apply failed on it, or terraform taint)",
};

const DB_CLASSES = new Set(["db-volume", "db-container", "db-prepare", "native-db-prepare", "native-db-setup", "upgrade-step"]);
const NATIVE_STEPS = new Set(["native-db-prepare", "native-db-setup"]);
const isTrigger = (l: LeafChange, key: string) => l.path[0] === "triggers_replace" && l.path[1] === key;
const SECRET_KEY = /(password|passwd|secret|token|symmetric|private_?key)/i;

function triggerKeys(rc: ResourceChange): string[] {
  const t = (getPath(rc.change.after, ["triggers_replace"]) ?? getPath(rc.change.before, ["triggers_replace"])) as Record<string, unknown> | undefined;
  return t && typeof t === "object" ? Object.keys(t) : [];
}

function startsWith(path: ReadonlyArray<string | number>, prefix: ReadonlyArray<string | number>): boolean {
  return prefix.every((p, i) => path[i] === p);
}

function toItem(rc: ResourceChange): Item {
  const c = rc.change;
  const action = actionOf(c);
  const all =
    action === "create" || action === "delete" || action === "no-op"
      ? []
      : changedLeaves(c.before, c.after, { beforeSensitive: c.before_sensitive, afterSensitive: c.after_sensitive, afterUnknown: c.after_unknown });
  // a replacement gets a new id: that is a consequence, never a cause
  const leaves = all.filter((l) => !(l.path.length === 1 && l.path[0] === "id"));
  const rp = c.replace_paths ?? [];
  let causes = action === "replace" && rp.length > 0 ? leaves.filter((l) => rp.some((p) => startsWith(l.path, p) || startsWith(p, l.path))) : leaves;
  // content_sha256 (RemoteScript: script + runner + uploads) follows from a changed script hash: name the script's
  if (causes.some((l) => isTrigger(l, "script_sha256") || isTrigger(l, "script"))) causes = causes.filter((l) => !isTrigger(l, "content_sha256"));
  return { rc, action, cls: classify(rc.type, rc.name, triggerKeys(rc)), leaves, causes: causes.length > 0 ? causes : leaves };
}

function short(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  const s = typeof v === "string" ? v : JSON.stringify(v);
  if (/^[a-f0-9]{64}$/.test(s)) return `sha256 ${s.slice(0, 12)}…`;
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export class PlanReviewer {
  private readonly d?: Deployment;
  private readonly items: Item[];
  private readonly roles = new Map<string, Role>();
  private readonly primary?: string;
  private readonly primaryKnown: "flag" | "deployment" | "plan" | "none";
  /** Nodes added, removed or moved to another address (native); undefined when the members stay. */
  private readonly membership?: Membership;

  constructor(
    private readonly plan: PlanJson,
    private readonly opts: ReviewOptions = {},
  ) {
    this.d = opts.deployment;
    this.items = (plan.resource_changes ?? []).filter((rc) => rc.mode !== "data").map(toItem);
    for (const n of this.d?.database.nodes ?? []) this.roles.set(n.name, n.role);
    for (const it of this.items) {
      if (!it.cls?.node || !DB_CLASSES.has(it.cls.row.cls) || this.roles.has(it.cls.node)) continue;
      const role = this.roleFromPlan(it);
      if (role) this.roles.set(it.cls.node, role);
    }
    this.membership = membershipOf(this.items.flatMap(setupChange));
    if (opts.primary) {
      this.primary = opts.primary;
      this.primaryKnown = "flag";
    } else if (this.d && this.d.database.nodes.some((n) => n.role === "data")) {
      this.primary = initialPrimary(this.d).name;
      this.primaryKnown = "deployment";
    } else {
      this.primary = this.primaryFromPlan();
      this.primaryKnown = this.primary ? "plan" : "none";
    }
  }

  private roleFromPlan(it: Item): Role | undefined {
    for (const v of [it.rc.change.before, it.rc.change.after]) {
      const role = getPath(v, ["triggers_replace", "role"]);
      if (role === "data" || role === "witness") return role;
      const env = getPath(v, ["env"]);
      if (Array.isArray(env)) return env.includes("REPMGR_NODE_TYPE=witness") ? "witness" : "data";
    }
    return undefined;
  }

  private primaryFromPlan(): string | undefined {
    for (const it of this.items) {
      for (const v of [it.rc.change.before, it.rc.change.after]) {
        const env = getPath(v, ["env"]);
        const e = Array.isArray(env) ? env.find((x) => typeof x === "string" && x.startsWith("REPMGR_PRIMARY_HOST=")) : undefined;
        if (typeof e === "string") return e.slice("REPMGR_PRIMARY_HOST=".length);
      }
    }
    // native: repmgr node id 1 is the initial primary (nativeMembers numbers the initial primary first)
    const first = this.items.find(
      (it) => it.cls?.row.cls === "native-db-setup" && getPath(it.rc.change.before ?? it.rc.change.after, ["triggers_replace", "node_id"]) === "1",
    );
    return first?.cls?.node;
  }

  /** `database.nodes[name=pg-1]` -> `database.nodes[0]` when the deployment is known. */
  private field(text: string): string {
    const d = this.d;
    if (!d) return text;
    return text
      .replace(/database\.nodes\[name=([a-z0-9-]+)\]/g, (m, n: string) => {
        const i = d.database.nodes.findIndex((x) => x.name === n);
        return i >= 0 ? `database.nodes[${i}]` : m;
      })
      .replace(/emsNodes\[name=([a-z0-9-]+)\]/g, (m, n: string) => {
        const i = d.emsNodes.findIndex((x) => x.name === n);
        return i >= 0 ? `emsNodes[${i}]` : m;
      });
  }

  private causesOf(it: Item): Cause[] {
    const reason = REASONS[it.rc.action_reason ?? ""];
    if (reason && it.causes.length === 0) return [{ attribute: `(${it.rc.action_reason})`, field: reason }];
    if (!it.cls) return it.causes.map((l) => ({ attribute: pathText(l.path), field: "(not an ems-ha resource)", ...this.values(l) }));
    return it.causes.map((l) => {
      let field = fieldOf(it.cls!.row, l.path, it.cls!.node) ?? "(unknown field)";
      const key = l.path[1];
      const cls = it.cls!.row.cls;
      const scriptKey = key === "script_sha256" || key === "script" || (key === "content_sha256" && cls === "db-prepare");
      if (l.path[0] === "triggers_replace" && scriptKey && (NATIVE_STEPS.has(cls) || cls === "db-prepare")) {
        field = this.scriptScope(it, String(key));
      }
      return { attribute: pathText(l.path), field: this.field(field), ...this.values(l) };
    });
  }

  /** A node's script changed: on this node only (a node field such as PGTune inputs) or on all (a cluster-wide field). */
  private scriptScope(it: Item, key: string): string {
    const cls = it.cls!.row.cls;
    const same = this.items.filter((x) => x.cls?.row.cls === cls);
    const changed = same.filter((x) => x.causes.some((l) => l.path[0] === "triggers_replace" && l.path[1] === key));
    const node = it.cls!.node ?? "?";
    const nodeFields = NATIVE_STEPS.has(cls) ? "ramGb / cpus / storage (PGTune inputs), priority, location" : "ramGb / cpus / storage (PGTune inputs)";
    if (changed.length === 1 && same.length > 1) return `database.nodes[name=${node}].${nodeFields} (only this node's script changed)`;
    return NATIVE_STEPS.has(cls)
      ? `a cluster-wide field (the scripts of ${changed.length} of ${same.length} nodes changed): database.port / user / maxConnections / failover, native.*, database.nodes (addresses, names), or each node's PGTune inputs`
      : `a cluster-wide field (the scripts of ${changed.length} of ${same.length} nodes changed): database.maxConnections / confDir / installDocker / image.source`;
  }

  private values(l: LeafChange): Pick<Cause, "before" | "after" | "sensitive"> {
    if (l.sensitive) return { sensitive: true };
    return { before: short(l.before), after: l.unknown ? "(known after apply)" : short(l.after) };
  }

  private roleOf(node?: string): Role {
    return (node ? this.roles.get(node) : undefined) ?? "data";
  }

  private primaryWhere(): string {
    switch (this.primaryKnown) {
      case "flag":
        return "the current primary (--primary)";
      case "deployment":
        return "the initial primary of the deployment; if a failover happened since, check `ems-ha status` and pass --primary";
      case "plan":
        return "the initial primary in the plan; if a failover happened since, check `ems-ha status` and pass --primary";
      default:
        return "primary";
    }
  }

  private ackReason(): string | undefined {
    return this.d?.acknowledgements.find((a) => a.rule === DATA_LOSS_ACK_RULE)?.reason;
  }

  review(): PlanReview {
    const findings: Finding[] = [];
    const restarted = new Map<string, string[]>(); // DB node -> addresses restarting it
    const counts = { create: 0, update: 0, replace: 0, delete: 0 };
    for (const it of this.items) {
      if (it.action === "no-op" || it.action === "read") continue;
      counts[it.action]++;
      const f = this.findingOf(it, restarted);
      if (f) findings.push(...f);
      findings.push(...this.secretFindings(it));
    }
    if (this.membership) findings.push(...membershipFindings(this.membership, this.primary, this.d));
    findings.push(...this.dockerMembershipFindings());
    const created = new Set(this.items.filter((it) => it.action === "create" && it.cls?.node && DB_CLASSES.has(it.cls.row.cls)).map((it) => it.cls!.node!));
    const q = this.quorumFinding(restarted, created);
    if (q) findings.push(q);
    const grouped = groupSecretFindings(mergeNativeSteps(findings, this.items));
    sortFindings(grouped);
    return { stack: this.opts.stack, ...verdictOf(grouped), findings: grouped, notes: this.notes(), counts };
  }

  /**
   * A DB node added to, removed from or moved within a running Docker cluster (docs/operations.md,
   * "Replacing, adding and removing DB nodes (Docker)"): with the ssh engine a review finding stating
   * its cost (sshMembershipFindings); with the provider engine, which cannot roll, refused unless the
   * deployment acknowledges it. A first deploy (every DB resource created) is not a membership change.
   */
  private dockerMembershipFindings(): Finding[] {
    const containers = this.items.filter((it) => it.cls?.row.cls === "db-container" && it.cls.node);
    const dbItems = this.items.filter((it) => it.cls && DB_CLASSES.has(it.cls.row.cls));
    if (containers.length === 0 || dbItems.every((it) => it.action === "create")) return [];
    const host = (v: unknown) => getPath(v, ["triggers_replace", "host"]);
    const moved = (it: Item) => it.action === "replace" && host(it.rc.change.before) !== undefined && host(it.rc.change.before) !== host(it.rc.change.after);
    const changes = containers.flatMap((it): Array<[Item, string]> => {
      if (it.action === "create") return [[it, "is added to the running cluster"]];
      if (it.action === "delete") return [[it, "is removed from the running cluster"]];
      if (moved(it)) return [[it, `moves to another host (${String(host(it.rc.change.before))} -> ${String(host(it.rc.change.after))})`]];
      return [];
    });
    if (changes.length > 0 && changes.every(([it]) => isSshEngineContainer(it))) return this.sshMembershipFindings(changes, containers);
    const ack = this.d?.acknowledgements.find((a) => a.rule === DOCKER_MEMBERSHIP_ACK_RULE)?.reason;
    return changes.map(([it, what]) => ({
      kind: "membership",
      severity: ack ? "acknowledged" : "refused",
      title: `DB node ${it.cls!.node!} ${what}: not a tested operation of the Docker topologies`,
      addresses: [it.rc.address],
      node: it.cls!.node,
      action: it.action,
      causes: [],
      detail:
        'The provider engine (database.docker.engine "provider") cannot roll: the docker provider may replace every container of the new partner list at once, and nothing unregisters a removed node. The ssh engine performs these changes one container at a time (docs/operations.md, "Replacing, adding and removing DB nodes (Docker)").',
      advice: ack
        ? `acknowledged in the deployment (${DOCKER_MEMBERSHIP_ACK_RULE}): ${ack}. Apply one node at a time and check \`ems-ha status\` after each step; remove the acknowledgement after the apply.`
        : `if you accept doing it by hand, follow the per-node procedure in docs/operations.md and add acknowledgements: [{ rule: "${DOCKER_MEMBERSHIP_ACK_RULE}", reason: "..." }] to the deployment; otherwise revert the change of database.nodes`,
    }));
  }

  /**
   * A membership change of a running ssh-engine Docker cluster: performed by the container steps
   * one at a time (src/render/docker-membership.ts), so a review finding stating its cost; removing
   * or re-addressing the current primary is refused (the apply refuses the removal too).
   */
  private sshMembershipFindings(changes: Array<[Item, string]>, containers: Item[]): Finding[] {
    const changed = new Set(changes.map(([it]) => it.cls!.node!));
    const recreated = containers.filter((it) => it.action === "replace" && !changed.has(it.cls!.node!)).map((it) => it.cls!.node!);
    const rolling =
      recreated.length > 0
        ? ` ${recreated.length} other container${recreated.length === 1 ? " is" : "s are"} recreated one at a time for the new partner list and --add-host entries (${recreated.join(", ")}), never two DB nodes away at once; the primary's with repmgrd paused (writes stop while it restarts, no failover).`
        : "";
    const ems = (node: string) =>
      this.roleOf(node) === "data" ? " EMS's --db_host list changes: every EMS node's install step runs again (ems-db-hosts findings)." : "";
    return changes.map(([it, what]) => {
      const node = it.cls!.node!;
      const role = this.roleOf(node);
      const f = (severity: Severity, title: string, detail: string, advice?: string): Finding => ({
        kind: "membership",
        severity,
        title,
        addresses: [it.rc.address],
        node,
        action: it.action,
        causes: [],
        detail,
        advice,
      });
      if (node === this.primary && it.action !== "create") {
        return f(
          "refused",
          `DB node ${node} ${what}, but it is the current primary`,
          `${node} is ${this.primaryWhere()}. Removing or moving the primary leaves the cluster without one; the container step refuses the removal before any container is touched.`,
          "switch over to a data node that stays (`ems-ha switchover --to NODE`), then plan again with --primary NODE",
        );
      }
      const doc = ' (docs/operations.md, "Replacing, adding and removing DB nodes (Docker)")';
      if (it.action === "create") {
        return f(
          "review",
          `${role} node ${node} joins the running cluster`,
          `${role === "witness" ? "Its container registers it as a witness with the current primary" : "Its container is cloned from the current primary (found among its partners) and registered as a standby"}, under the node id its name gives.${rolling}${ems(node)}${doc}`,
        );
      }
      if (it.action === "delete") {
        return f(
          "review",
          `${role} node ${node} leaves the running cluster`,
          `The current primary's container step unregisters it (repmgr ${role === "witness" ? "witness" : "standby"} unregister --node-id) and drops its replication slot; the removed host's reconciliation service then stops its container for good (restart policy no). Its volume and data stay on its host (remove them by hand).${rolling}${ems(node)}${doc}`,
        );
      }
      return f(
        "review",
        `DB node ${node} ${what}: rebuilt on the new host`,
        `${role === "witness" ? "The new host's container registers as the witness" : "The new host's container is cloned from the current primary"} under the same node id, which replaces the old registration. The old host is not contacted: it must stay off, or have its container removed (its restart policy is always).${rolling}${ems(node)}${doc}`,
      );
    });
  }

  /**
   * With a membership change, a native node whose own address, id and role stay re-runs only for the
   * new peer lists (a reload); the node that moved is described by its membership finding.
   */
  private membershipRerun(it: Item): Finding[] | undefined {
    const m = this.membership;
    const node = it.cls?.node;
    if (!m || !node || !NATIVE_STEPS.has(it.cls!.row.cls) || it.action !== "replace") return undefined;
    if ([...m.readdressed, ...m.renumbered].some((s) => s.node === node)) return [];
    const own = it.causes.some((l) => l.path[0] === "triggers_replace" && ["address", "node_id", "role", "extensions_sha256"].includes(String(l.path[1])));
    if (own) return undefined;
    return [
      this.base(
        it,
        "node-setup",
        "review",
        `${node}: its steps re-run for the membership change (configuration rewritten and reloaded)`,
        "pg_hba.conf, the peer lists and the reconciliation service are rewritten; PostgreSQL is reloaded, not restarted, unless its postgresql.conf changes in the same apply",
      ),
    ];
  }

  private base(it: Item, kind: ChangeKind, severity: Severity, title: string, detail: string, advice?: string): Finding {
    const text = detail.replace(/^the /, "The ").replace(/\. the /g, ". The ");
    return { kind, severity, title, addresses: [it.rc.address], node: it.cls?.node, action: it.action, causes: this.causesOf(it), detail: text, advice };
  }

  private findingOf(it: Item, restarted: Map<string, string[]>): Finding[] {
    const cls = it.cls;
    const a = it.action;
    if (!cls) {
      return [
        this.base(
          it,
          "unknown-resource",
          "review",
          `${it.rc.address} will be ${a === "replace" ? "replaced" : `${a}d`}`,
          "this resource is not one ems-ha's table knows (src/review/resource-classes.ts): review it by hand",
        ),
      ];
    }
    const node = cls.node;
    const meaning = cls.row.meaning;
    const restart = (n: string) => restarted.set(n, [...(restarted.get(n) ?? []), it.rc.address]);
    if (a === "create") {
      return [this.base(it, "harmless", "info", "will be created", `new: ${meaning}`)];
    }
    if (a === "delete" && it.rc.type === "terraform_data") {
      // terraform_data has no destroy-time step in these stacks: the host is left as it is.
      return [
        this.base(
          it,
          "harmless",
          "info",
          `${node ?? it.rc.address}: removed from Terraform's state`,
          `terraform_data has no destroy step: nothing runs on the host (${meaning})`,
        ),
      ];
    }
    switch (cls.row.cls) {
      case "db-volume": {
        if (a === "update") return [this.base(it, "harmless", "info", `data volume of ${node} updated in place`, meaning)];
        const ack = this.ackReason();
        const role = this.roleOf(node);
        restart(node!);
        const what =
          role === "witness"
            ? "the witness's repmgr metadata"
            : node === this.primary
              ? "the primary's database"
              : "this standby's copy of the database (it is re-cloned from the primary, a full copy over the network)";
        return [
          {
            ...this.base(
              it,
              role === "data" && node !== this.primary ? "standby-reclone" : "data-loss",
              ack ? "acknowledged" : "refused",
              `${a === "delete" ? "destroys" : "destroys and recreates"} the data volume of ${node}: ${what} is deleted`,
              `${meaning}. The stack sets prevent_destroy on it, so Terraform itself stops this apply unless the construct was changed.`,
              ack
                ? `acknowledged in the deployment (${DATA_LOSS_ACK_RULE}): ${ack}. Take a backup first; remove the acknowledgement after the apply.`
                : `if this is intended, take a backup and add acknowledgements: [{ rule: "${DATA_LOSS_ACK_RULE}", reason: "..." }] to the deployment; otherwise revert the change named under "caused by"`,
            ),
          },
        ];
      }
      case "db-container":
      case "native-db-prepare":
      case "native-db-setup":
      case "upgrade-step": {
        if (a === "update") return [this.base(it, "harmless", "info", `${node}: updated in place`, meaning)];
        const rerun = this.membershipRerun(it);
        if (rerun) return rerun;
        if (cls.row.cls === "upgrade-step" && (cls.step === "prepare" || cls.step === "load")) {
          return [this.base(it, "node-setup", "review", `${node}: the upgrade's ${cls.step} step runs again`, meaning)];
        }
        if (a === "delete") {
          if (cls.row.cls !== "db-container")
            return [
              this.base(it, "harmless", "info", `${node}: removed from Terraform's state`, "terraform_data has no destroy step: nothing runs on the host"),
            ];
          restart(node!);
        } else restart(node!);
        const role = this.roleOf(node);
        const verb =
          a === "delete"
            ? "is removed"
            : cls.row.cls === "db-container"
              ? "is stopped and replaced"
              : cls.row.cls === "upgrade-step"
                ? `has its upgrade ${cls.step} step run again`
                : "may be restarted (its setup re-runs)";
        if (role === "witness") {
          return [this.base(it, "witness-restart", "review", `witness ${node} ${verb}`, `${meaning}. While it is away the cluster has one vote less.`)];
        }
        if (node === this.primary && isSshEngineContainer(it)) {
          return [
            this.base(
              it,
              "primary-restart",
              "review",
              `primary ${node} ${verb}: writes stop while it restarts (repmgrd paused, no failover)`,
              `${node} is ${this.primaryWhere()}. ${meaning}. The ssh engine's step pauses repmgrd on every node while it replaces the primary's container and resumes it once the new container answers as the primary: a write outage as long as the restart, no failover.`,
              "for a shorter write outage, apply per node instead: `terraform apply -target=<container step>` for each standby, then `ems-ha switchover --to <standby>`, then the old primary's step (docs/operations.md, Rolling changes)",
            ),
          ];
        }
        if (node === this.primary && NATIVE_STEPS.has(cls.row.cls)) {
          return [
            this.base(
              it,
              "primary-restart",
              "review",
              `primary ${node} ${verb}: a setting that needs a restart is applied by one switchover, no failover`,
              `${node} is ${this.primaryWhere()}. ${meaning}. The rolling restart runs after every node's setup: the standbys restart first, one at a time; then the primary hands over to a streaming standby (repmgr standby switchover) and restarts as a standby. The write outage is one switchover (docs/performance.md#rolling-changes); the primary ends on another node.`,
              "nothing to do; check `ems-ha status` after the apply. To choose the new primary, run `ems-ha switchover --to <standby>` before applying (docs/operations.md#rolling-changes)",
            ),
          ];
        }
        if (node === this.primary) {
          return [
            this.base(
              it,
              "primary-restart",
              "review",
              `primary ${node} ${verb}: a failover will happen`,
              `${node} is ${this.primaryWhere()}. ${meaning}. If it is away longer than repmgr's reconnect window a standby is promoted and EMS reconnects to it; the old primary rejoins as a standby.`,
              "switch the primary over first (`ems-ha switchover --to <standby>`, see docs/operations.md), then apply, so the restart hits a standby",
            ),
          ];
        }
        return [
          this.base(it, "standby-restart", "review", `standby ${node} ${verb}`, `${meaning}. Replication to it pauses; it catches up from the primary's WAL.`),
        ];
      }
      case "db-prepare":
        return [this.base(it, "node-setup", "review", `${node}: host preparation runs again`, meaning)];
      case "db-image":
        return [this.base(it, "node-setup", "review", `${node}: the image is ${a === "delete" ? "removed from Terraform" : "pulled/loaded again"}`, meaning)];
      case "standalone-db-setup":
        return [
          this.base(
            it,
            "primary-restart",
            "review",
            `the database server ${it.rc.change.before && String(getPath(it.rc.change.before, ["triggers_replace", "server"]) ?? "")} has its setup run again`,
            `${meaning}. There is no standby: a restart is an outage of EMS's database.`,
            "apply in a maintenance window",
          ),
        ];
      case "ems-install":
      case "appliance-redirect": {
        if (a === "delete")
          return [
            this.base(
              it,
              "harmless",
              "info",
              `EMS node ${node}: removed from Terraform's state`,
              "terraform_data has no destroy step: EMS stays installed on the host",
            ),
          ];
        const dbHosts = it.causes.some((l) => l.path[1] === "dbHosts" || l.path[1] === "db");
        const title = cls.row.cls === "appliance-redirect" ? `EMS appliance ${node} is redirected to the database again` : `EMS is reinstalled on ${node}`;
        return [
          this.base(
            it,
            dbHosts ? "ems-db-hosts" : "ems-reinstall",
            "review",
            dbHosts ? `${title}: its database hosts change` : title,
            `${meaning}.${dbHosts ? " EMS will connect to a different set of database hosts." : ""}`,
            "reinstall one EMS node at a time (terraform apply -target) so the FortiGate health check keeps one node in service",
          ),
        ];
      }
      case "fortigate-vip":
      case "fortigate-health-check":
      case "fortigate-policy": {
        const moves =
          cls.row.cls === "fortigate-vip" ? `VIP port ${cls.port}` : cls.row.cls === "fortigate-health-check" ? "the health check" : "the firewall policy";
        return [
          this.base(
            it,
            "traffic",
            "review",
            `client traffic moves: ${moves} is ${a === "replace" ? "replaced (deleted, then created: connections drop meanwhile)" : a === "delete" ? "deleted" : "changed"}`,
            meaning,
          ),
        ];
      }
      case "ssh-key-sync":
      case "native-rolling-step":
      case "primary-wait":
      case "db-check":
        return [this.base(it, "harmless", "info", a === "delete" ? "removed from Terraform's state" : "runs again", meaning)];
    }
  }

  /** A changed sensitive value, or a secret's hash in triggers. Values are never shown. */
  private secretFindings(it: Item): Finding[] {
    // (grouped per secret across resources by groupSecretFindings)
    if (it.action !== "replace" && it.action !== "update") return [];
    const secrets = it.leaves.filter(
      (l) => !l.unknown && (l.sensitive || l.path.some((p) => typeof p === "string" && p !== "triggers_replace" && SECRET_KEY.test(p))),
    );
    if (secrets.length === 0) return [];
    const names = secrets.map((l) => {
      const f = it.cls ? fieldOf(it.cls.row, l.path, it.cls.node) : undefined;
      return f && f.startsWith("secret ") ? f.slice(7) : pathText(l.path);
    });
    return [
      {
        kind: "secret-rotation",
        severity: "review",
        title: `secret rotated: ${[...new Set(names)].join(", ")}`,
        addresses: [it.rc.address],
        node: it.cls?.node,
        action: it.action,
        causes: secrets.map((l, i) => ({ attribute: pathText(l.path), field: names[i]!, sensitive: true })),
        detail: "a sensitive value differs from the one applied last; its value is not shown",
        advice:
          'rotate a secret everywhere it is used in the same change (EMS nodes read the DB password too), and keep the old value until every node is replaced; with Docker DB nodes the image keeps an existing cluster\'s passwords, so run `ems-ha pause` and `ems-ha set-passwords` before this apply (docs/operations.md, "Rotating the passwords")',
      },
    ];
  }

  private quorumFinding(restarted: Map<string, string[]>, created: ReadonlySet<string>): Finding | undefined {
    if (restarted.size < 2) return undefined;
    // nodes created by this apply are not members yet: they neither vote nor hold data
    const known = new Set<string>([...this.roles.keys()].filter((n) => !created.has(n)));
    const all = [...known];
    const dataAll = all.filter((n) => this.roleOf(n) === "data");
    const names = [...restarted.keys()].sort();
    const dataHit = names.filter((n) => this.roleOf(n) === "data");
    const majority = all.length > 0 && names.length > all.length / 2;
    const everyCopy = dataAll.length > 0 && dataHit.length === dataAll.length;
    const consequences = [
      everyCopy ? `Every data node (${dataHit.join(", ")}) is stopped in this apply: EMS has no database until they are back` : undefined,
      majority ? `${names.length} of ${all.length} voting nodes are away at once: repmgr cannot elect a new primary (no majority)` : undefined,
    ].filter(Boolean);
    const addresses = names.flatMap((n) => restarted.get(n)!);
    // A native node's setup never restarts a running member: the rolling restart does, one node at a time.
    if (addresses.every((a) => this.items.some((it) => it.rc.address === a && NATIVE_STEPS.has(it.cls?.row.cls ?? "")))) {
      return {
        kind: "quorum",
        severity: "review",
        title: `${names.length} DB nodes have their setup re-run in this apply (${names.join(", ")}); restarts, if any, one after another`,
        addresses,
        causes: [],
        detail:
          "The native steps rewrite the configuration and reload it (the preparations on every node at once); a setting that needs a restart is left pending. The rolling restart then restarts the pending nodes one at a time, standbys and witnesses first, each waiting until the node answers in its role again, and the primary last after a switchover: never two data nodes down at once, a write outage of one switchover.",
        advice: "check `ems-ha status` after the apply (docs/operations.md#rolling-changes)",
      };
    }
    // The ssh engine's container steps form one chain and each waits until its node answers again (src/render/docker-cli.ts).
    if (addresses.every((a) => SSH_ENGINE_CONTAINER.test(a))) {
      return {
        kind: "quorum",
        severity: "review",
        title: `${names.length} DB nodes are replaced one after another in this apply (${names.join(", ")})`,
        addresses,
        causes: [],
        detail:
          "The ssh engine's container steps run one at a time, each waiting until its node answers in its role again (the primary writable, a standby streaming): never two DB nodes away at once. The current primary's replacement runs with repmgrd paused on every node (a write outage as long as its restart, no failover).",
        advice: "check `ems-ha status` after the apply (docs/operations.md, Rolling changes)",
      };
    }
    // The docker provider replaces containers by destroying them first, dependents before what they
    // depend on: nothing in the stack can keep them from being down together. Refused; the per-node
    // procedure (one container per plan, -target) passes.
    const providerContainers = addresses.every((a) => a.startsWith("docker_container."));
    return {
      kind: "quorum",
      severity: providerContainers ? "refused" : "review",
      title: `${names.length} DB nodes restart in the same apply (${names.join(", ")})`,
      addresses,
      causes: [],
      detail: `${
        consequences.length > 0
          ? `${consequences.join("; ")}.`
          : "Terraform restarts them in parallel or back to back: the cluster runs with several members away at once."
      } The docker provider replaces a container by destroying it first, and destroys the containers that depend on it before it: every replaced container can be down at the same time.`,
      advice:
        'apply one node at a time: `terraform apply -target=<address>` for each standby, wait for `ems-ha status` to show it streaming, then `ems-ha switchover --to <standby>` and do the old primary last (docs/operations.md, Rolling changes); or use database.docker.engine "ssh", which rolls by itself',
    };
  }

  private notes(): string[] {
    const notes: string[] = [];
    const hasTfData = this.items.some((it) => it.cls && it.rc.type === "terraform_data" && it.cls.row.cls !== "primary-wait");
    if (hasTfData) {
      notes.push(
        "Secrets passed to provisioners (db_password, repmgr_password, symmetric_key, appliance_password) are not kept in triggers: rotating a TF_VAR_* value changes nothing in this plan. To apply a rotation, re-run the affected steps with `terraform apply -replace=<address>` (see docs/ci.md).",
      );
    }
    if (this.primaryKnown === "none" && this.items.some((it) => it.cls && DB_CLASSES.has(it.cls.row.cls))) {
      notes.push("The primary is not known (no deployment, no --primary): every data node is reported as a standby. Pass --config or --primary.");
    }
    return notes;
  }
}

/**
 * A native node's prepare and setup steps share their triggers, so they are replaced together:
 * one finding per node names both (prepare first: it is the step that applies postgresql.conf,
 * on every node at once; the setup then repeats it as no-ops and joins the cluster in order).
 */
function mergeNativeSteps(findings: Finding[], items: ReadonlyArray<Item>): Finding[] {
  const prepareOf = new Set(items.filter((it) => it.cls?.row.cls === "native-db-prepare").map((it) => it.rc.address));
  const out: Finding[] = [];
  const prepares = findings.filter((f) => f.kind !== "secret-rotation" && f.severity !== "info" && f.addresses.length === 1 && prepareOf.has(f.addresses[0]!));
  for (const f of findings) {
    if (prepares.includes(f)) {
      const setup = findings.find((g) => g !== f && g.kind === f.kind && g.node === f.node && g.action === f.action && !prepares.includes(g));
      if (setup) continue; // folded into the setup's finding below
      out.push(f);
      continue;
    }
    const prepare = prepares.find((p) => p.kind === f.kind && p.node === f.node && p.action === f.action);
    if (!prepare || f.kind === "secret-rotation") {
      out.push(f);
      continue;
    }
    const causes = [...prepare.causes, ...f.causes].filter((c, i, all) => all.findIndex((x) => x.attribute === c.attribute) === i);
    out.push({
      ...f,
      addresses: [...prepare.addresses, ...f.addresses],
      causes,
      detail: `${f.detail} Its prepare step runs first, on every node at once: a changed postgresql.conf restarts PostgreSQL there.`,
    });
  }
  return out;
}

/** One secret-rotation finding per set of rotated secrets, listing every resource it replaces. */
function groupSecretFindings(findings: Finding[]): Finding[] {
  const out: Finding[] = [];
  const bySecret = new Map<string, Finding>();
  for (const f of findings) {
    if (f.kind !== "secret-rotation") {
      out.push(f);
      continue;
    }
    const seen = bySecret.get(f.title);
    if (!seen) {
      bySecret.set(f.title, f);
      out.push(f);
      continue;
    }
    const merged: Finding = { ...seen, node: undefined, addresses: [...seen.addresses, ...f.addresses], causes: [...seen.causes, ...f.causes] };
    out[out.indexOf(seen)] = merged;
    bySecret.set(f.title, merged);
  }
  return out.map((f) => {
    if (f.kind !== "secret-rotation") return f;
    const nodes = f.addresses.map((a) => constructNodeOf(a)).filter(Boolean);
    return nodes.length > 0 ? { ...f, title: `${f.title} (${nodes.join(", ")})` } : f;
  });
}

function constructNodeOf(address: string): string | undefined {
  const [type, name] = [address.slice(0, address.indexOf(".")), address.slice(address.indexOf(".") + 1)];
  return classify(type, name, [])?.node;
}

export function reviewPlan(plan: PlanJson, opts: ReviewOptions = {}): PlanReview {
  return new PlanReviewer(plan, opts).review();
}

/** A native setup step's change, for the membership analysis. */
function setupChange(it: Item): SetupChange[] {
  if (it.cls?.row.cls !== "native-db-setup" || !it.cls.node) return [];
  if (it.action !== "create" && it.action !== "update" && it.action !== "replace" && it.action !== "delete") return [];
  const t = (v: unknown) => getPath(v, ["triggers_replace"]) as Record<string, unknown> | undefined;
  return [{ address: it.rc.address, node: it.cls.node, action: it.action, before: t(it.rc.change.before), after: t(it.rc.change.after) }];
}
