/**
 * The reconciliation service: the guide's node monitor script, corrected (docs/background.md#errors-in-the-guide, #native-postgresql-and-repmgr).
 *
 * While the node runs as a primary it asks the other data nodes whether one of them runs as
 * primary too. If so it runs CHECKPOINT on both (right after a promotion the control file
 * still shows the old timeline) and compares timelines: the node on the older timeline is
 * the stale primary and rejoins the newer one as a standby with
 * `repmgr node rejoin --force-rewind`. If the rejoin fails, the data directory is moved
 * aside (kept, not deleted) and the node is cloned again. Attempts are bounded; the
 * service then only logs until an operator acts.
 *
 * Corrections of the guide's script: the node is matched by its repmgr node name and
 * address rather than a substring of `cluster show` (whose exit status breaks scripts
 * and whose "node1" only matched "dbnode1" by accident), the undefined $CLUSTER_STATUS is
 * gone, pg_ctl is not looked for in /usr/bin, a running primary is rewound rather than
 * always re-cloned, and every command has a timeout.
 */
import type { Deployment } from "../../config/schema";
import { formatUnit, type UnitSection } from "./repmgrd";
import { connectTimeout, nativeLayout, nativeMembers, nativeSettings, type NativeMember } from "./layout";
import { sh } from "../escape";
import { ENSURE_DATADIR_INCLUDE, shellArray, shellVars, unescapeBash } from "./shell";

/** Failed rejoin attempts after which the service stops acting and only logs. */
export const MAX_REJOIN_ATTEMPTS = 3;

/** "name address port" of every other data node. */
export function peerEntries(d: Deployment, self: NativeMember): string[] {
  return nativeMembers(d)
    .filter((m) => m.role === "data" && m.name !== self.name)
    .map((m) => [m.name, m.address, String(m.port)].join(" "));
}

const BODY = String.raw`
ATTEMPTS_FILE="$STATE_DIR/reconcile-attempts"

log() { printf '%s [ems-ha-reconcile %s] %s\n' "$(date '+%F %T')" "$NODE_NAME" "$*"; }
as_pg() { runuser -u postgres -- "$@"; }
q_local() { as_pg timeout 15 "$BINDIR/psql" -X -qAt -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres -c "$1" 2>/dev/null; }
q_peer() { as_pg timeout 15 "$BINDIR/psql" -X -qAt -v ON_ERROR_STOP=1 "host=$1 port=$2 user=repmgr dbname=repmgr connect_timeout=$CONNECT_TIMEOUT" -c "$3" 2>/dev/null; }
attempts() { cat "$ATTEMPTS_FILE" 2>/dev/null || echo 0; }

${ENSURE_DATADIR_INCLUDE}

wait_streaming() {
  local i
  for ((i = 0; i < $1; i++)); do
    [ "$(q_local "select status from pg_stat_wal_receiver")" = streaming ] && return 0
    sleep 1
  done
  return 1
}

rejoin() {
  local name=$1 host=$2 port=$3 n keep
  n=$(attempts)
  if [ "$n" -ge "$MAX_ATTEMPTS" ]; then
    log "stale primary, but $n rejoin attempts failed: not trying again. Rejoin by hand (repmgr node rejoin --force-rewind), then remove $ATTEMPTS_FILE"
    return 1
  fi
  echo $((n + 1)) >"$ATTEMPTS_FILE"
  log "another primary, $name ($host), is on a newer timeline: this node is the stale primary; rejoining as its standby (attempt $((n + 1)) of $MAX_ATTEMPTS)"
  if ! timeout 120 systemctl stop "$SERVICE"; then
    log "could not stop $SERVICE: not rejoining"
    return 1
  fi
  ensure_datadir_include
  if as_pg timeout 900 "$BINDIR/repmgr" -f "$REPMGR_CONF" node rejoin \
    -d "host=$host port=$port user=repmgr dbname=repmgr connect_timeout=$CONNECT_TIMEOUT" --force-rewind; then
    log "node rejoin done"
  else
    log "node rejoin failed: cloning from $name instead, keeping the old data directory"
    timeout 120 systemctl stop "$SERVICE" || true
    keep="$DATA_DIR.pre-rejoin-$(date +%Y%m%d%H%M%S)"
    mv "$DATA_DIR" "$keep"
    log "old data directory kept at $keep"
    if ! as_pg timeout 3600 "$BINDIR/repmgr" -h "$host" -p "$port" -U repmgr -d repmgr -f "$REPMGR_CONF" standby clone --fast-checkpoint; then
      log "clone failed: the old data directory goes back in place; $SERVICE stays stopped"
      rm -rf "$DATA_DIR"
      mv "$keep" "$DATA_DIR"
      return 1
    fi
    ensure_datadir_include
    timeout 120 systemctl start "$SERVICE" || return 1
    as_pg timeout 60 "$BINDIR/repmgr" -f "$REPMGR_CONF" standby register --force || return 1
  fi
  systemctl is-active --quiet "$SERVICE" || timeout 120 systemctl start "$SERVICE" || return 1
  if wait_streaming 60; then
    log "streaming from $name"
    rm -f "$ATTEMPTS_FILE"
    timeout 60 systemctl restart repmgrd || log "could not restart repmgrd"
    return 0
  fi
  log "not streaming from $name after 60 s"
  return 1
}

reconcile_once() {
  local rec mine p name host port r theirs
  systemctl is-active --quiet "$SERVICE" || return 0
  rec=$(q_local "select pg_is_in_recovery()") || return 0
  if [ "$rec" != f ]; then
    # a healthy standby: a former failed rejoin no longer counts
    if [ -f "$ATTEMPTS_FILE" ] && [ "$(q_local "select status from pg_stat_wal_receiver")" = streaming ]; then rm -f "$ATTEMPTS_FILE"; fi
    return 0
  fi
  for p in "\${PEERS[@]}"; do
    read -r name host port <<<"$p"
    r=$(q_peer "$host" "$port" "select pg_is_in_recovery()") || continue
    [ "$r" = f ] || continue
    # right after a promotion the control file still shows the old timeline (docs/background.md#native-postgresql-and-repmgr)
    q_peer "$host" "$port" "CHECKPOINT" >/dev/null || continue
    q_local "CHECKPOINT" >/dev/null || return 0
    theirs=$(q_peer "$host" "$port" "select timeline_id from pg_control_checkpoint()") || continue
    mine=$(q_local "select timeline_id from pg_control_checkpoint()") || return 0
    if [ "$theirs" -gt "$mine" ]; then
      rejoin "$name" "$host" "$port"
      return $?
    fi
    if [ "$theirs" -eq "$mine" ]; then
      log "WARNING: $name also runs as primary, on this node's timeline $mine: not acting, resolve by hand"
    fi
  done
  return 0
}

if [ "\${1:-}" = "--once" ]; then
  reconcile_once
  exit $?
fi
log "watching for a newer primary among: \${PEERS[*]:-none} (every \${INTERVAL}s)"
while true; do
  reconcile_once || true
  sleep "$INTERVAL"
done
`;

export function renderReconcileScript(d: Deployment, self: NativeMember): string {
  const s = nativeSettings(d);
  const l = nativeLayout(s.pgVersion);
  const header = [
    "#!/bin/bash",
    sh`# ems-ha reconciliation service of ${self.name}: demotes this node when it is a stale primary.`,
    "# Managed by ems-ha (native-single-region); usage: ems-ha-reconcile [--once]",
    "set -uo pipefail",
    "cd /",
    shellVars({
      NODE_NAME: self.name,
      PG_PORT: self.port,
      BINDIR: l.bindir,
      SERVICE: l.service,
      REPMGR_CONF: l.repmgrConf,
      DATA_DIR: l.dataDir,
      CONF_DIR: l.confDir,
      STATE_DIR: l.stateDir,
      CONNECT_TIMEOUT: connectTimeout(d),
      INTERVAL: s.reconcileIntervalSeconds,
      MAX_ATTEMPTS: MAX_REJOIN_ATTEMPTS,
    }),
    shellArray("PEERS", peerEntries(d, self)),
  ];
  return header.join("\n") + "\n" + unescapeBash(BODY).replace(/^\n/, "");
}

export function reconcileUnitSections(pgVersion = 15): UnitSection[] {
  const l = nativeLayout(pgVersion);
  return [
    {
      name: "Unit",
      directives: [
        ["Description", "ems-ha reconciliation: rejoins this node as a standby when it is a stale primary"],
        ["After", `network-online.target ${l.service}.service repmgrd.service`],
        ["Wants", "network-online.target"],
      ],
    },
    {
      name: "Service",
      directives: [
        ["Type", "simple"],
        ["ExecStart", l.reconcileScript],
        ["Restart", "on-failure"],
        ["RestartSec", "10s"],
      ],
    },
    { name: "Install", directives: [["WantedBy", "multi-user.target"]] },
  ];
}

export function renderReconcileUnit(pgVersion = 15): string {
  return formatUnit(reconcileUnitSections(pgVersion), "Managed by ems-ha (native-single-region).");
}
