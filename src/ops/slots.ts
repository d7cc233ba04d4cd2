/**
 * The primary's replication slots, for `ems-ha status` (docs/operations.md#replication-slots).
 *
 * repmgr gives every standby a physical slot on its upstream, `repmgr_slot_<node id>` (natively
 * `use_replication_slots = yes`; the Bitnami image's REPMGR_USE_REPLICATION_SLOTS, on by default).
 * A slot makes the primary keep every WAL segment its standby has not received yet, which is what
 * lets a standby that was away catch up without a new clone; but while the standby stays away
 * (a lost host nobody took out of `database.nodes`) the primary keeps WAL without bound, unless
 * `max_slot_wal_keep_size` caps it, until its disk fills and PostgreSQL stops: an outage of the
 * whole cluster caused by a node that is already gone. PostgreSQL's `pg_replication_slots`
 * (https://www.postgresql.org/docs/15/view-pg-replication-slots.html) says how much each slot
 * holds (`restart_lsn`) and whether the WAL it needs is still there (`wal_status`).
 */
import type { Deployment } from "../config/schema";
import { fmtSize } from "./disk";

/** One row of the primary's pg_replication_slots. */
export interface SlotRow {
  readonly name: string;
  /** physical or logical. */
  readonly type: string;
  /** A WAL sender (or a logical decoding) uses it now. */
  readonly active: boolean;
  /** reserved, extended, unreserved or lost; null for a slot that never reserved WAL. */
  readonly walStatus: string | null;
  /** WAL the slot keeps on the primary: pg_current_wal_lsn() − restart_lsn; null when it reserves none. */
  readonly retainedBytes: number | null;
}

/** A slot with the deployment's node it belongs to, when it is a repmgr slot of one. */
export interface SlotStatus extends SlotRow {
  /** The node whose repmgr slot this is (repmgr_slot_<its node id>); absent: no node of the deployment. */
  readonly node?: string;
}

/** What status reads on the primary, in one row: its max_slot_wal_keep_size (-1: no cap) and its slots as JSON. */
export const SLOTS_SQL = `
select current_setting('max_slot_wal_keep_size') as max_keep, coalesce((select json_agg(s order by s.slot_name) from (
  select slot_name, slot_type, active, wal_status,
    case when restart_lsn is not null then pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) end::float8 as retained_bytes
  from pg_replication_slots) s), '[]'::json) as slots`;

/** An inactive slot holding at least this much WAL is a warning (the default max_wal_size is 1 GB). */
export const SLOT_RETAINED_WARN_BYTES = 1024 * 1024 * 1024;

const REPMGR_SLOT = /^repmgr_slot_(\d+)$/;

/**
 * The primary's slots with their nodes, and what an operator must hear about them: an inactive
 * slot that holds a lot of WAL, an inactive slot of no node of the deployment (a node removed by
 * hand), and a slot whose WAL is lost or about to be.
 */
export function slotVerdict(
  d: Pick<Deployment, "database">,
  primary: string,
  rows: ReadonlyArray<SlotRow>,
  maxKeep: string | undefined,
  nameOf: (id: number) => string | undefined,
): { slots: SlotStatus[]; warnings: string[] } {
  const members = new Set(d.database.nodes.map((n) => n.name));
  const capped = maxKeep !== undefined && maxKeep !== "-1";
  const warnings: string[] = [];
  const slots = rows.map((r): SlotStatus => {
    const id = REPMGR_SLOT.exec(r.name)?.[1];
    const name = id === undefined ? undefined : nameOf(Number(id));
    return name !== undefined && members.has(name) ? { ...r, node: name } : { ...r };
  });
  for (const s of slots) {
    const held = s.retainedBytes === null ? "" : ` (it holds ${fmtSize(s.retainedBytes)} of WAL)`;
    const where = `replication slot ${s.name}${s.node ? ` (${s.node})` : ""} on the primary ${primary}`;
    if (s.walStatus === "lost") {
      warnings.push(
        `${where} has lost WAL its standby needs (max_slot_wal_keep_size = ${maxKeep ?? "?"} was reached): ${s.node ?? "its standby"} cannot stream from it again and needs a new clone`,
      );
    } else if (s.walStatus === "unreserved") {
      warnings.push(
        `${where}${held} is past max_slot_wal_keep_size = ${maxKeep ?? "?"}: the WAL its standby needs is about to be removed, and ${s.node ?? "its standby"} then needs a new clone`,
      );
    } else if (s.active) {
      continue;
    } else if (REPMGR_SLOT.test(s.name) && !s.node) {
      warnings.push(
        `${where}${held} belongs to no node of the deployment (a node removed by hand?) and is inactive: once that node is gone for good, drop it on ${primary}: select pg_drop_replication_slot('${s.name}')`,
      );
    } else if (s.retainedBytes !== null && s.retainedBytes >= SLOT_RETAINED_WARN_BYTES) {
      const bound = capped
        ? `up to max_slot_wal_keep_size = ${maxKeep}, after which ${s.node ?? "its standby"} needs a new clone`
        : "without bound (max_slot_wal_keep_size = -1) until the disk fills and PostgreSQL stops";
      const fix = s.node
        ? `bring ${s.node} back, or take it out of database.nodes and apply (which drops its slot)`
        : `drop the slot if nothing uses it any more: select pg_drop_replication_slot('${s.name}')`;
      warnings.push(`${where}${held} is inactive: the primary keeps WAL for it ${bound}; ${fix}`);
    }
  }
  return { slots, warnings };
}
