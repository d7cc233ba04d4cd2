/**
 * The cap on WAL kept for replication slots, database.maxSlotWalKeepSize, as PostgreSQL's
 * max_slot_wal_keep_size (docs/operations.md#replication-slots): in the native drop-in and in the
 * Docker data nodes' conf.d/extra.conf. A reloadable setting: no restart applies it.
 */
import type { Deployment } from "../config/schema";
import { pgConfValue } from "./escape";

/** The setting when the deployment sets a cap; none otherwise (PostgreSQL's default -1, no cap). */
export function slotCapSettings(d: Deployment): Array<{ key: string; value: string }> {
  return d.database.maxSlotWalKeepSize === undefined ? [] : [{ key: "max_slot_wal_keep_size", value: d.database.maxSlotWalKeepSize }];
}

/** The lines for a postgresql.conf include (a comment and the setting), "" without a cap. */
export function renderSlotCapConf(d: Deployment): string {
  const lines = slotCapSettings(d).map((s) => [s.key, pgConfValue(s.value, "database.maxSlotWalKeepSize")].join(" = "));
  return lines.length === 0 ? "" : ["", "# ems-ha: database.maxSlotWalKeepSize (WAL kept for an absent standby's slot)", ...lines, ""].join("\n");
}
