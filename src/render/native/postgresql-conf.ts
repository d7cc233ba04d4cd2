/**
 * postgresql.conf settings of a native node, written as a conf.d drop-in
 * (/etc/postgresql/15/main/conf.d/ems-ha.conf), which Debian's postgresql.conf includes
 * last, so these values win over the defaults without editing the packaged file.
 */
import { slotCapSettings } from "../slot-cap";
import type { Deployment } from "../../config/schema";
import { pgConfValue } from "../escape";
import { pgtuneSettings } from "../pgtune";
import { nativeLayout, nativeSettings, type NativeMember } from "./layout";

export interface PgSetting {
  readonly key: string;
  readonly value: string;
}

/** Quotes a value the way postgresql.conf expects (line breaks refused). */
export function confValue(v: string): string {
  return pgConfValue(v);
}

/** The replication settings of the guide plus wal_log_hints and wal_keep_size (docs/background.md#native-postgresql-and-repmgr). */
export function replicationSettings(d: Deployment, m: NativeMember): PgSetting[] {
  const s = nativeSettings(d);
  // listen on every address; pg_hba.conf decides who may connect (the guide lists localhost and the node's IP).
  const base: PgSetting[] = [
    { key: "listen_addresses", value: "*" },
    { key: "port", value: String(m.port) },
    { key: "shared_preload_libraries", value: "repmgr" },
  ];
  if (m.role === "witness") return base;
  return [
    ...base,
    { key: "wal_level", value: "replica" },
    { key: "max_wal_senders", value: "10" },
    { key: "max_replication_slots", value: "10" },
    { key: "hot_standby", value: "on" },
    { key: "archive_mode", value: "on" },
    { key: "archive_command", value: "/bin/true" },
    { key: "wal_log_hints", value: "on" },
    { key: "wal_keep_size", value: s.walKeepSize },
    ...slotCapSettings(d),
  ];
}

/** PGTune settings (docs/background.md#pgtune) for a data node, when native.tune is on. */
export function tuningSettings(d: Deployment, m: NativeMember): PgSetting[] {
  if (m.role !== "data" || !nativeSettings(d).tune) return [];
  const n = m.config;
  return pgtuneSettings({ ramBytes: n.ramGb * 1024 ** 3, cpus: n.cpus, storage: n.storage, connections: d.database.maxConnections }).map((x) => ({
    key: x.key,
    value: x.value,
  }));
}

/** Text for a comment line: control characters (a newline would end the comment) shown as \\xNN. */
function commentText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0"));
}

export function renderPostgresqlDropIn(d: Deployment, m: NativeMember): string {
  const lines = [
    "# Managed by ems-ha (native-single-region); changes are overwritten on the next deploy.",
    "# Node " + commentText(m.name) + " (" + m.role + ").",
    "",
    "# replication (the guide's settings, plus wal_log_hints and wal_keep_size for node rejoin --force-rewind)",
    ...replicationSettings(d, m).map((s) => s.key + " = " + pgConfValue(s.value, s.key)),
  ];
  const tune = tuningSettings(d, m);
  if (tune.length > 0) lines.push("", "# PGTune, OLTP, PostgreSQL 15", ...tune.map((s) => s.key + " = " + pgConfValue(s.value, s.key)));
  return lines.join("\n") + "\n";
}

/**
 * The one-line postgresql.conf in the data directory. Debian keeps the configuration in /etc;
 * pg_rewind's `postgres --single -D DATADIR` step needs a postgresql.conf in the data
 * directory (repmgr issue #888, docs/background.md#native-postgresql-and-repmgr).
 */
export function renderDataDirInclude(pgVersion = 15): string {
  return "include " + pgConfValue(`${nativeLayout(pgVersion).confDir}/postgresql.conf`) + "\n";
}
