/**
 * What `ems-ha status --prometheus` and `ems-ha check-backups --prometheus` print: the same findings
 * as their tables, as Prometheus metrics (docs/operations.md, "Metrics for Prometheus"), so that a
 * monitoring system alerts on them without parsing text. Every sample has the deployment's name as
 * its `deployment` label. Pure: the text itself is src/render/prometheus.ts's.
 */
import type { MetricFamily, Sample } from "../render/prometheus";
import type { CheckBackupsResult } from "./check-backups";
import type { ClusterStatus } from "./status";

const bool = (b: boolean): number => (b ? 1 : 0);

function family(name: string, help: string, samples: Sample[]): MetricFamily {
  return { name, help, type: "gauge", samples };
}

/** The metrics of one `status` run at `now`. */
export function statusMetrics(s: ClusterStatus, now: Date): MetricFamily[] {
  const dep = { deployment: s.name };
  const db = (node: string, more: Record<string, string> = {}) => ({ ...dep, node, ...more });
  /** One sample per node for which `value` has something to say (a boolean as 0 or 1). */
  const perNode = <T extends { readonly name: string }>(nodes: readonly T[], value: (n: T) => number | boolean | null | undefined): Sample[] =>
    nodes.flatMap((n) => {
      const v = value(n);
      return v === undefined || v === null ? [] : [{ labels: db(n.name), value: typeof v === "boolean" ? bool(v) : v }];
    });
  const standbys = s.dbNodes.filter((n) => n.role === "standby");
  const rewinds = new Map<string, number>();
  for (const r of s.rewinds) rewinds.set(r.node, (rewinds.get(r.node) ?? 0) + 1);
  return [
    family("ems_ha_status_time_seconds", "When this status was taken (Unix time): alert when it stops advancing.", [
      { labels: dep, value: Math.floor(now.getTime() / 1000) },
    ]),
    family("ems_ha_degraded", "1 when ems-ha status calls the deployment degraded (its exit code 1).", [{ labels: dep, value: bool(s.degraded) }]),
    family("ems_ha_status_reasons", "How many reasons status gives for calling the deployment degraded.", [{ labels: dep, value: s.reasons.length }]),
    family("ems_ha_status_warnings", "How many warnings status gives.", [{ labels: dep, value: s.warnings.length }]),
    family("ems_ha_writable_primaries", "Data nodes that answer and are not in recovery (1 when healthy).", [
      { labels: dep, value: s.writablePrimaries.length },
    ]),
    family(
      "ems_ha_db_node_up",
      "1 when the DB node's PostgreSQL answered.",
      s.dbNodes.map((n) => ({ labels: db(n.name, { kind: n.kind }), value: bool(n.reachable) })),
    ),
    family(
      "ems_ha_db_node_primary",
      "1 for the data node that answered as the writable primary.",
      perNode(s.dbNodes, (n) => (n.kind === "data" ? n.role === "primary" : undefined)),
    ),
    family(
      "ems_ha_standby_streaming",
      "1 when the standby's WAL receiver streams.",
      perNode(standbys, (n) => n.streaming),
    ),
    family(
      "ems_ha_replication_lag_bytes",
      "WAL bytes the standby has not replayed yet.",
      perNode(standbys, (n) => n.lagBytes),
    ),
    family(
      "ems_ha_replication_lag_seconds",
      "Seconds the standby is behind (0 when fully replayed).",
      perNode(standbys, (n) => n.lagSeconds),
    ),
    family(
      "ems_ha_timeline",
      "The timeline the node writes (primary) or replayed (standby).",
      perNode(s.dbNodes, (n) => n.timeline),
    ),
    family(
      "ems_ha_repmgrd_running",
      "1 when repmgrd runs on the node.",
      perNode(s.dbNodes, (n) => n.repmgrd?.running),
    ),
    family(
      "ems_ha_repmgrd_paused",
      "1 when repmgrd is paused on the node (no automatic failover: ems-ha pause).",
      perNode(s.dbNodes, (n) => n.repmgrd?.paused),
    ),
    family(
      "ems_ha_fenced",
      "1 for a data node that stopped its PostgreSQL because it saw no majority.",
      s.fenced.map((f) => ({ labels: db(f.node), value: 1 })),
    ),
    family(
      "ems_ha_rewinds_unacknowledged",
      "Rewind records of the reconciliation service not yet acknowledged (ems-ha ack-rewind).",
      [...rewinds].map(([node, n]) => ({ labels: db(node), value: n })),
    ),
    family(
      "ems_ha_disk_used_ratio",
      "How full the DB node's data filesystem is (df's capacity, 0 to 1).",
      (s.disks ?? []).map((x) => ({ labels: db(x.node, { mount: x.mount }), value: x.usedPercent / 100 })),
    ),
    family(
      "ems_ha_disk_available_bytes",
      "Free bytes on the DB node's data filesystem.",
      (s.disks ?? []).map((x) => ({ labels: db(x.node, { mount: x.mount }), value: x.availableKb * 1024 })),
    ),
    family(
      "ems_ha_slot_retained_bytes",
      "WAL a replication slot keeps on the primary.",
      (s.slots ?? [])
        .filter((x) => x.retainedBytes !== null)
        .map((x) => ({ labels: { ...dep, slot: x.name, ...(x.node ? { node: x.node } : {}), active: String(x.active) }, value: x.retainedBytes! })),
    ),
    family(
      "ems_ha_ems_node_up",
      "1 when the EMS node's services could be listed over SSH.",
      perNode(s.emsNodes, (n) => n.reachable),
    ),
    family(
      "ems_ha_ems_services_missing",
      "Services every EMS node runs that are not running on it.",
      perNode(s.emsNodes, (n) => (n.reachable ? n.missing.length : undefined)),
    ),
  ];
}

/** The metrics of one `check-backups` run at `now` over `dir`. */
export function backupMetrics(deployment: string, dir: string, r: CheckBackupsResult, now: Date): MetricFamily[] {
  const labels = { deployment, dir };
  const newest = r.backups[0];
  const read = r.backups.filter((b) => b.verified !== undefined);
  const started = newest ? Date.parse(newest.startedAt) : NaN;
  return [
    family("ems_ha_backup_check_time_seconds", "When the backups were checked (Unix time).", [{ labels, value: Math.floor(now.getTime() / 1000) }]),
    family("ems_ha_backup_ok", "1 when check-backups passed (its exit code 0).", [{ labels, value: bool(r.ok) }]),
    family("ems_ha_backups", "Backups of the deployment in the directory.", [{ labels, value: r.backups.length }]),
    family(
      "ems_ha_backup_newest_start_time_seconds",
      "When the newest backup started (Unix time).",
      Number.isNaN(started) ? [] : [{ labels, value: Math.floor(started / 1000) }],
    ),
    family("ems_ha_backup_newest_bytes", "Size of the newest backup's files.", newest ? [{ labels, value: newest.bytes }] : []),
    family("ems_ha_backups_damaged", "Backups read in this check whose files do not match their manifest.", [
      { labels, value: read.filter((b) => b.verified === false).length },
    ]),
  ];
}
