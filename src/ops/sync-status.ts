/**
 * Synchronous replication as the primary reports it (docs/reliability.md#synchronous-replication):
 * its synchronous_standby_names and pg_stat_replication.sync_state of each standby (`quorum` for
 * the candidates of `ANY 1 (...)`; only a streaming standby counts).
 *
 * Degraded when synchronous replication is configured and either the primary's
 * synchronous_standby_names is empty (its commits wait for nobody, e.g. after a Docker container
 * restart that regenerated postgresql.conf) or no synchronous standby is connected (every
 * commit blocks until one is).
 */
import type { Deployment } from "../config/schema";
import type { DbProbe } from "./pg";

export interface SynchronousStatus {
  /** database.synchronousReplication.mode. */
  readonly mode: string;
  /** The primary's synchronous_standby_names, when read. */
  readonly standbyNames?: string;
  /** Standbys that can confirm a commit now (streaming, sync_state quorum or sync). */
  readonly synchronousStandbys: string[];
}

export interface SynchronousVerdict {
  readonly status?: SynchronousStatus;
  readonly reasons: string[];
}

/** sync_state values of a standby that can confirm a commit (quorum: ANY n; sync: FIRST n / a plain list). */
const CONFIRMING = new Set(["quorum", "sync"]);

export function synchronousVerdict(d: Deployment, primaryName: string | undefined, primary: DbProbe | undefined): SynchronousVerdict {
  const mode = d.database.synchronousReplication.mode;
  if (mode === "off" || !primaryName || !primary?.reachable) return { reasons: [] };
  const standbyNames = primary.synchronousStandbyNames;
  const synchronousStandbys = (primary.replicas ?? [])
    .filter((r) => r.state === "streaming" && CONFIRMING.has(r.syncState ?? ""))
    .map((r) => r.applicationName);
  const status: SynchronousStatus = { mode, standbyNames, synchronousStandbys };
  const reasons: string[] = [];
  const others = d.database.nodes.filter((n) => n.role === "data" && n.name !== primaryName).map((n) => n.name);
  if (standbyNames !== undefined && standbyNames.trim() === "") {
    reasons.push(
      `synchronous replication is configured (mode ${mode}) but the primary ${primaryName} has an empty synchronous_standby_names: its commits wait for no standby (apply the deployment again to restore the setting)`,
    );
  } else if (primary.replicas !== undefined && synchronousStandbys.length === 0) {
    reasons.push(
      `no synchronous standby is connected to the primary ${primaryName}: every commit waits (writes block) until one of ${others.join(", ") || "the other data nodes"} streams again`,
    );
  }
  return { status, reasons };
}
