/**
 * Membership changes of a native cluster in a plan (docs/operations.md#adding-removing-and-replacing-db-nodes):
 * a DB node added, removed, or moved to another address (replacing a lost host). What each costs,
 * and which ones `ems-ha plan-review` refuses: removing or re-addressing the current primary, a
 * registered node whose repmgr node id changes, fewer than two data nodes, and a removal after
 * which losing the primary promotes nobody (the repmgr failover model, src/analysis/failover).
 * The setup script refuses the first two again at apply time, where it sees the live cluster.
 */
import { clusterOf, repmgrFailover } from "../analysis/failover";
import type { Deployment } from "../config/schema";
import type { Finding } from "./findings";

/** One native setup step (terraform_data <node>/setup) as the plan changes it. */
export interface SetupChange {
  readonly address: string;
  readonly node: string;
  readonly action: "create" | "update" | "replace" | "delete";
  /** triggers_replace before and after (undefined when created / deleted). */
  readonly before?: Readonly<Record<string, unknown>>;
  readonly after?: Readonly<Record<string, unknown>>;
}

export interface Membership {
  readonly added: ReadonlyArray<SetupChange>;
  readonly removed: ReadonlyArray<SetupChange>;
  readonly readdressed: ReadonlyArray<SetupChange>;
  readonly renumbered: ReadonlyArray<SetupChange>;
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** The membership change in a plan's native setup steps; undefined on a first deploy or when the members stay. */
export function membershipOf(setups: ReadonlyArray<SetupChange>): Membership | undefined {
  if (setups.length === 0 || setups.every((s) => s.action === "create")) return undefined;
  const changed = (s: SetupChange, key: string) => s.action === "replace" && str(s.before?.[key]) !== undefined && str(s.before?.[key]) !== str(s.after?.[key]);
  const m: Membership = {
    added: setups.filter((s) => s.action === "create"),
    removed: setups.filter((s) => s.action === "delete"),
    readdressed: setups.filter((s) => changed(s, "address")),
    renumbered: setups.filter((s) => changed(s, "node_id")),
  };
  return m.added.length + m.removed.length + m.readdressed.length + m.renumbered.length > 0 ? m : undefined;
}

function finding(severity: Finding["severity"], title: string, s: SetupChange | undefined, detail: string, advice?: string): Finding {
  return { kind: "membership", severity, title, addresses: s ? [s.address] : [], node: s?.node, action: s?.action, causes: [], detail, advice };
}

const RERUN =
  "Every other DB node's prepare and setup steps re-run, one node's join after another: pg_hba.conf and the peer lists are rewritten and reloaded; PostgreSQL is not restarted unless its postgresql.conf changes in the same apply (docs/performance.md#membership-changes).";

/** Findings for a membership change; `primary` is the node that is primary now. */
export function membershipFindings(m: Membership, primary: string | undefined, d: Deployment | undefined): Finding[] {
  const out: Finding[] = [];
  const roleOf = (s: SetupChange) => str(s.before?.role) ?? str(s.after?.role) ?? "data";
  const emsCost = (s: SetupChange) =>
    roleOf(s) === "data" ? " EMS's --db_host list changes: every EMS node's install step runs again (ems-db-hosts findings)." : "";
  for (const s of m.renumbered) {
    out.push(
      finding(
        "refused",
        `${s.node}: its repmgr node id changes from ${str(s.before?.node_id)} to ${str(s.after?.node_id)}`,
        s,
        "A registered node keeps its repmgr node id: a new id registers it a second time and can hand its old id to another node. Without nodeId, ids follow the position in database.nodes, so inserting or removing a node renumbers the ones after it.",
        `set database.nodes[name=${s.node}].nodeId to ${str(s.before?.node_id)} (and pin the other nodes' ids the same way)`,
      ),
    );
  }
  for (const s of m.removed) {
    if (s.node === primary) {
      out.push(
        finding(
          "refused",
          `${s.node} is removed, but it is the current primary`,
          s,
          "Removing the primary leaves the cluster without one.",
          "switch over to a data node that stays (`ems-ha switchover --to NODE`), then plan again with --primary NODE",
        ),
      );
    } else {
      out.push(
        finding(
          "review",
          `${roleOf(s)} node ${s.node} leaves the cluster`,
          s,
          `The current primary's setup unregisters it (repmgr ${roleOf(s) === "witness" ? "witness" : "standby"} unregister --node-id) and drops its replication slot; its own reconciliation service then stops and disables its repmgrd. Its host, PostgreSQL and data are left as they are (remove them by hand). ${RERUN}${emsCost(s)}`,
        ),
      );
    }
  }
  for (const s of m.readdressed) {
    if (s.node === primary) {
      out.push(
        finding(
          "refused",
          `${s.node} moves from ${str(s.before?.address)} to ${str(s.after?.address)}, but it is the current primary`,
          s,
          "A node at a new address is rebuilt as a standby cloned from the current primary; the primary itself cannot be rebuilt. If its host is lost, a failover has made another node primary: plan again with --primary (ems-ha status).",
          "switch over to another data node first (`ems-ha switchover --to NODE`), then plan again with --primary NODE",
        ),
      );
    } else {
      out.push(
        finding(
          "review",
          `${s.node} is rebuilt at ${str(s.after?.address)} (was ${str(s.before?.address)})`,
          s,
          `${roleOf(s) === "witness" ? "The new host registers as the witness" : "The new host is cloned from the current primary (found by asking the data nodes) and registered"} under the same repmgr node id, which replaces the old registration; the old host is not contacted and must stay off (if it comes back, its reconciliation service sees that its registration moved and stops its repmgrd). ${RERUN}${emsCost(s)}`,
        ),
      );
    }
  }
  for (const s of m.added) {
    out.push(
      finding(
        "review",
        `${roleOf(s)} node ${s.node} joins the cluster`,
        s,
        `${roleOf(s) === "witness" ? "It registers as a witness with the current primary." : "It is cloned from the current primary (found by asking the data nodes) and registered as a standby."} ${RERUN}${emsCost(s)}`,
      ),
    );
  }
  if (d && (m.removed.length > 0 || m.readdressed.length > 0)) {
    const data = d.database.nodes.filter((n) => n.role === "data");
    if (data.length < 2 && m.removed.some((s) => roleOf(s) === "data")) {
      out.push(
        finding(
          "refused",
          `only ${data.length} data node${data.length === 1 ? "" : "s"} would be left`,
          undefined,
          "With one data node there is no standby to fail over to and no copy of the data.",
          "keep at least two data nodes; add the new one first, then remove the old one",
        ),
      );
    } else if (m.removed.length > 0 && primary && d.database.nodes.some((n) => n.name === primary)) {
      // "only-standby": repmgr promotes a lone standby without any majority, so a network split makes two primaries.
      const o = repmgrFailover({ nodes: clusterOf(d), primary, down: [primary] });
      if (!o.promoted || o.rule === "only-standby") {
        out.push(
          finding(
            "refused",
            `after the removal, the election has no majority when the primary ${primary} is lost`,
            undefined,
            `The repmgr failover model on the remaining nodes: ${o.reason}.${o.promoted ? " It promotes without a majority: a standby cut off from a live primary promotes too (two primaries)." : ""}`,
            "keep an odd number of voting nodes (data nodes + witnesses): add a witness or a data node in the same change",
          ),
        );
      }
    }
  }
  return out;
}
