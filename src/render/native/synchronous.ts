/**
 * Synchronous replication of a native data node (database.synchronousReplication,
 * docs/reliability.md#synchronous-replication), written as a conf.d drop-in of its own so
 * that a change is applied with a reload (synchronous_standby_names and synchronous_commit
 * are reloadable), never with the restart a change of ems-ha.conf causes.
 *
 * Every data node names the other data nodes, so a standby promoted by repmgr already holds
 * the setting for its own standbys. Witnesses never stream WAL and are never named; they get
 * no drop-in. The names are repmgr node names: repmgr writes `application_name=<node_name>`
 * into each standby's primary_conninfo (clone, follow, rejoin), which is the name
 * pg_stat_replication and synchronous_standby_names match.
 */
import type { Deployment } from "../../config/schema";
import { pgConfValue, pgStandbyQuorum } from "../escape";
import { nativeLayout, nativeMembers, type NativeMember } from "./layout";
import type { PgSetting } from "./postgresql-conf";

/** The drop-in's path (conf.d files are read in name order; no key is shared with ems-ha.conf). */
export function synchronousDropInPath(pgVersion = 15): string {
  return `${nativeLayout(pgVersion).confDir}/conf.d/ems-ha-synchronous.conf`;
}

/** `ANY 1 ("pg-2", "pg-3")`: the other data nodes of `m`; empty when synchronous replication is off. */
export function synchronousStandbyNames(d: Deployment, m: Pick<NativeMember, "name">): string {
  if (d.database.synchronousReplication.mode === "off") return "";
  const peers = nativeMembers(d).filter((x) => x.role === "data" && x.name !== m.name);
  return pgStandbyQuorum(
    1,
    peers.map((p) => p.name),
  );
}

/** The drop-in's settings for a data node; none for a witness. */
export function synchronousSettings(d: Deployment, m: NativeMember): PgSetting[] {
  if (m.role !== "data") return [];
  const sync = d.database.synchronousReplication;
  return [
    { key: "synchronous_standby_names", value: synchronousStandbyNames(d, m) },
    { key: "synchronous_commit", value: sync.mode === "off" ? "on" : sync.commit },
  ];
}

export function renderSynchronousDropIn(d: Deployment, m: NativeMember): string {
  const mode = d.database.synchronousReplication.mode;
  return (
    [
      "# Managed by ems-ha (native-single-region, database.synchronousReplication); changes are overwritten on the next deploy.",
      mode === "off"
        ? "# Synchronous replication is off: commits do not wait for a standby."
        : "# Synchronous replication: a commit returns once one of the other data nodes has it (a reload applies a change).",
      ...synchronousSettings(d, m).map((s) => s.key + " = " + pgConfValue(s.value, s.key)),
    ].join("\n") + "\n"
  );
}
