/** The control file's answer alone (lagging, but any user may ask): the restartpoint's and the minimum recovery point's timelines. */
export const CONTROL_FILE_TIMELINE_SQL =
  "greatest((select timeline_id from pg_control_checkpoint()), (select min_recovery_end_timeline from pg_control_recovery()))";

/**
 * The timeline a standby replays on, as one SQL expression (PostgreSQL 15 has no function for it).
 *
 * The control file lags: `pg_control_checkpoint()` names the timeline of the last restartpoint and
 * `pg_control_recovery()` the one of the last minimum-recovery-point update. A standby that followed
 * a promotion and replayed past the switchpoint can show the old timeline in both for minutes (until
 * its next restartpoint). Compared with the primary's history, that old timeline makes the standby
 * look forked when it is not (docs/background.md#native-postgresql-and-repmgr).
 *
 * The WAL file it replays from does not lag: the segment that holds the last replayed record exists
 * in `pg_wal` under the timeline the record was replayed on. A standby that really forked holds no
 * segment of a newer timeline at that position (the primary refuses to stream a timeline from a
 * point past where it left it), even when it fetched the newer timeline's history file.
 *
 * The expression takes the newest of the three (`CONTROL_FILE_TIMELINE_SQL`'s two and the WAL
 * file's). It is meant for a server in recovery, and for a user allowed to run `pg_ls_waldir()` (a
 * superuser, or a member of pg_monitor): for another user the whole statement fails with SQLSTATE
 * 42501 (PostgreSQL checks the permission before it runs any part), and a caller that may lack it
 * asks again with `CONTROL_FILE_TIMELINE_SQL`. Neither holds a double quote, `$`, backquote or
 * backslash, so both can stand inside a double-quoted shell word as they are (the reconciliation
 * script does that; a test checks it).
 */
export const REPLAY_TIMELINE_SQL =
  "greatest(" +
  CONTROL_FILE_TIMELINE_SQL +
  ", coalesce((select max(('x' || substr(w.name, 1, 8))::bit(32)::int) from pg_ls_waldir() w, " +
  "(select floor((pg_last_wal_replay_lsn() - '0/0'::pg_lsn - 1) / s.size) as segno, floor(4294967296 / s.size) as per_id " +
  "from (select setting::numeric as size from pg_settings where name = 'wal_segment_size') s) p " +
  "where length(w.name) = 24 and w.name !~ '[^0-9A-F]' " +
  "and substr(w.name, 9, 16) = upper(lpad(to_hex(floor(p.segno / p.per_id)::bigint), 8, '0') || lpad(to_hex(mod(p.segno, p.per_id)::bigint), 8, '0'))), 0))";
