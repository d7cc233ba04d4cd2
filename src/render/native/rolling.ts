/**
 * The rolling restart of the native topology: the script that applies, one node at a time, a
 * change that needs a PostgreSQL restart (PGTune after a RAM change, a setting PostgreSQL only
 * reads at start, a minor package update whose binaries replaced the running ones).
 *
 * The setup steps of several nodes run at once and never restart a running member
 * (apply_pg_changes in setup-lib.ts reloads; what needs a restart waits in
 * pg_settings.pending_restart). This script then runs on every node in two rounds, one node
 * after the other (constructs/native-rolling-restart.ts; `ems-ha rolling-restart`):
 *
 * 1. `--others`: a standby or witness with a restart pending restarts, once every other data node
 *    answers and exactly one of them is primary, and waits until it answers (a standby: streams)
 *    again. The primary is left for round 2.
 * 2. `--primary`: on the primary with a restart pending: `repmgr standby switchover` run on the
 *    first standby that streams from it with nothing pending and a small lag (over SSH as
 *    postgres, as repmgr itself does); repmgr shuts the primary down cleanly, promotes the
 *    standby and starts the old primary again as its standby, with the new settings. A standby
 *    still pending (a failover happened between the rounds) restarts as in round 1.
 *
 * So at most one data node is down at any time and the write outage is one switchover, whichever
 * node is primary when the change is applied (the roles are read live, not from the deployment).
 * Nothing pending: nothing happens, so a re-apply after a failover does not move the primary.
 * A node that does not answer, or a cluster without exactly one primary, stops the step with the
 * reason (exit 1) before anything is restarted. `--dry-run` only reports; `--pending` prints what
 * waits on this node.
 */
import type { Deployment } from "../../config/schema";
import { sh } from "../escape";
import { connectTimeout, nativeLayout, nativeMembers, nativeSettings, STATE_DIR, type NativeMember } from "./layout";
import { shellArray, shellVars, unescapeBash } from "./shell";

/** Where the rolling restart script is installed on every DB host. */
export const ROLLING_SCRIPT = `${STATE_DIR}/native-rolling.sh`;

/** Seconds a node may take to answer (and a standby to stream) again after its restart or the switchover. */
export const ROLLING_WAIT_SECONDS = 180;

/** WAL bytes the standby that takes over may still have to replay (as `ems-ha switchover`'s default). */
export const ROLLING_MAX_LAG_BYTES = 16 * 1024 * 1024;

/** The two rounds, in order. */
export const ROLLING_ROUNDS = ["--others", "--primary"] as const;
export type RollingRound = (typeof ROLLING_ROUNDS)[number];

const BODY = String.raw`
log() { printf '%s [ems-ha %s] %s\n' "$(date '+%F %T')" "$NODE_NAME" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }
as_pg() { runuser -u postgres -- "$@"; }
q_local() { as_pg "$BINDIR/psql" -X -qAt -v ON_ERROR_STOP=1 -p "$PG_PORT" -d "$1" -c "$2"; }
q_peer() { as_pg timeout 20 "$BINDIR/psql" -X -qAt -v ON_ERROR_STOP=1 "host=$1 port=$2 user=repmgr dbname=repmgr connect_timeout=$CONNECT_TIMEOUT" -c "$3" 2>/dev/null; }
pg_ready() { as_pg "$BINDIR/pg_isready" -q -p "$PG_PORT"; }
svc_restart() { timeout 300 systemctl restart "$SERVICE"; }
# repmgr on another data node, as postgres over SSH (the keys the setup exchanged; repmgr's own switchover uses them too).
remote_repmgr() {
  local host=$1
  shift
  as_pg timeout 900 ssh -o BatchMode=yes -o ConnectTimeout=10 "postgres@$host" "$(printf '%q ' "$BINDIR/repmgr" -f "$REPMGR_CONF" "$@")"
}
postmaster_pid() { head -n 1 "$DATA_DIR/postmaster.pid" 2>/dev/null; }
in_recovery() { q_local postgres "select pg_is_in_recovery()"; }
local_streaming() { [ "$(q_local postgres "select status from pg_stat_wal_receiver")" = streaming ]; }

# The settings that wait for a restart, comma-separated (empty: none).
pending_settings() { q_local postgres "select coalesce(string_agg(name, ', ' order by name), '') from pg_settings where pending_restart"; }

# A package update replaced the binaries the running postmaster was started from.
binary_replaced() {
  local pid exe
  pid=$(postmaster_pid) || return 1
  [ -n "$pid" ] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ $exe == *' (deleted)' ]]
}

# Why this node needs a restart; nothing when it does not.
restart_reason() {
  local s
  s=$(pending_settings) || die "cannot ask the local PostgreSQL which settings wait for a restart"
  if [ -n "$s" ]; then
    printf 'settings waiting for a restart: %s\n' "$s"
  elif binary_replaced; then
    printf 'the PostgreSQL binaries were replaced (package update) after the server started\n'
  fi
  return 0
}

# Sets PRIMARY, or stops: every other data node must answer and exactly one data node be primary.
PRIMARY=""
cluster_check() {
  local p name host port r down=() primaries=()
  if [ "$ROLE" = data ] && [ "$(in_recovery)" = f ]; then primaries+=("$NODE_NAME"); fi
  for p in "\${PEERS[@]}"; do
    read -r name host port <<<"$p"
    r=$(q_peer "$host" "$port" "select pg_is_in_recovery()") || r=""
    case "$r" in
      f) primaries+=("$name") ;;
      t) ;;
      *) down+=("$name") ;;
    esac
  done
  [ \${#down[@]} -eq 0 ] || die "refused: \${down[*]} does not answer; restarting $NODE_NAME now could leave two data nodes down. Bring it back (ems-ha status) and apply again"
  [ \${#primaries[@]} -eq 1 ] || die "refused: \${#primaries[@]} data nodes answer as primary (\${primaries[*]:-none}); exactly one is needed (ems-ha status)"
  PRIMARY=\${primaries[0]}
}

# Until this node answers again (a data node: as a standby that streams), at most WAIT_SECONDS.
wait_back() {
  local i
  for ((i = 0; i < WAIT_SECONDS; i++)); do
    if pg_ready && { [ "$ROLE" != data ] || { [ "$(in_recovery)" = t ] && local_streaming; }; }; then return 0; fi
    sleep 1
  done
  return 1
}

restart_self() {
  local left
  if [ "$DRY_RUN" = 1 ]; then
    log "dry run: would restart $SERVICE ($1)"
    return 0
  fi
  log "restarting $SERVICE ($1)"
  svc_restart || die "systemctl restart $SERVICE failed (journalctl -u $SERVICE)"
  wait_back || die "$NODE_NAME does not answer$([ "$ROLE" = data ] && echo ' and stream') again $WAIT_SECONDS s after its restart (journalctl -u $SERVICE)"
  left=$(restart_reason)
  [ -z "$left" ] || die "still after the restart: $left"
  log "restarted: $([ "$ROLE" = data ] && echo 'streaming from the primary again' || echo 'answering again')"
}

# Round 1: a standby or witness with a restart pending restarts; the primary waits for round 2.
round_others() {
  local reason
  pg_ready || die "PostgreSQL on $NODE_NAME does not answer: the rolling restart needs every node up (ems-ha status); bring it back and apply again"
  reason=$(restart_reason)
  if [ -z "$reason" ]; then
    log "no restart pending"
    return 0
  fi
  if [ "$ROLE" = data ] && [ "$(in_recovery)" = f ]; then
    log "the primary, $reason: restarted in the second round, after a switchover"
    return 0
  fi
  cluster_check
  if [ "$ROLE" = data ]; then local_streaming || die "refused: $NODE_NAME does not stream from the primary ($PRIMARY); the reconciliation service repairs that (ems-ha status), then apply again"; fi
  restart_self "$reason"
}

# The first other data node that streams from this primary with nothing pending and a lag within the limit: "name host port".
pick_target() {
  local p name host port lag pending
  for p in "\${PEERS[@]}"; do
    read -r name host port <<<"$p"
    lag=$(q_local postgres "select pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint from pg_stat_replication where (application_name = '$name' or host(client_addr) = '$host') and state = 'streaming' limit 1") || continue
    [ -n "$lag" ] && [ "$lag" -le "$MAX_LAG_BYTES" ] || continue
    pending=$(q_peer "$host" "$port" "select coalesce(string_agg(name, ', '), '') from pg_settings where pending_restart") || continue
    # A dry run did not restart the standbys in round 1: what waits there does not count.
    [ -z "$pending" ] || [ "$DRY_RUN" = 1 ] || continue
    printf '%s\n' "$p"
    return 0
  done
  return 1
}

switchover_to() {
  local name host port follow=(--siblings-follow) out
  read -r name host port <<<"$1"
  if ! out=$(remote_repmgr "$host" standby switchover "\${follow[@]}" --dry-run 2>&1); then
    if grep -Eq 'sibling nodes? unreachable via SSH' <<<"$out"; then
      # The witness takes no SSH as postgres: its upstream is re-pointed by repmgrd or the reconciliation service.
      follow=()
      out=$(remote_repmgr "$host" standby switchover --dry-run 2>&1) || die "repmgr's switchover checks (--dry-run) failed on $name: $out"
    else
      die "repmgr's switchover checks (--dry-run) failed on $name: $out"
    fi
  fi
  if [ "$DRY_RUN" = 1 ]; then
    log "dry run: would switch over to $name (repmgr standby switchover\${follow[*]:+ \${follow[*]}}); repmgr would restart $NODE_NAME as its standby"
    return 0
  fi
  log "switching over to $name: repmgr standby switchover\${follow[*]:+ \${follow[*]}} on $name; $NODE_NAME restarts as its standby"
  remote_repmgr "$host" standby switchover "\${follow[@]}" || die "the switchover to $name failed (repmgr's output above; ems-ha status)"
}

# Round 2: the primary with a restart pending hands over to a standby, which restarts it as its standby.
round_primary() {
  local reason target
  pg_ready || die "PostgreSQL on $NODE_NAME does not answer: the rolling restart needs every node up (ems-ha status); bring it back and apply again"
  if [ "$(in_recovery)" = t ]; then
    round_others
    return 0
  fi
  reason=$(restart_reason)
  if [ -z "$reason" ]; then
    log "primary, no restart pending: stays primary"
    return 0
  fi
  cluster_check
  target=$(pick_target) || die "refused: the primary needs a restart ($reason) but no standby streams from it with nothing pending and less than $MAX_LAG_BYTES bytes of lag; fix the standby (ems-ha status) and apply again"
  log "the primary, $reason"
  switchover_to "$target"
  [ "$DRY_RUN" = 1 ] && return 0
  wait_back || die "$NODE_NAME does not stream as a standby $WAIT_SECONDS s after the switchover to \${target%% *} (ems-ha status; journalctl -u $SERVICE)"
  reason=$(restart_reason)
  if [ -n "$reason" ]; then
    cluster_check
    restart_self "$reason"
  fi
  log "switched over: \${target%% *} is the primary, $NODE_NAME streams from it with the new settings"
}

pending() {
  local role=$ROLE
  pg_ready || { printf '%s down\n' "$NODE_NAME"; return 0; }
  if [ "$ROLE" = data ]; then [ "$(in_recovery)" = f ] && role=primary || role=standby; fi
  printf '%s %s %s\n' "$NODE_NAME" "$role" "$(restart_reason)"
}

DRY_RUN=0
ACTION=""
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --others | --primary | --pending) ACTION=$arg ;;
    *) die "unknown argument $arg (usage: native-rolling.sh --others|--primary|--pending [--dry-run])" ;;
  esac
done
if [ -n "\${EMS_HA_ROLLING_OVERRIDES:-}" ]; then . "$EMS_HA_ROLLING_OVERRIDES"; fi
case "$ACTION" in
  --others) round_others ;;
  --primary)
    if [ "$ROLE" = data ]; then round_primary; else log "a witness: nothing to do in this round"; fi
    ;;
  --pending) pending ;;
  *) die "usage: native-rolling.sh --others|--primary|--pending [--dry-run]" ;;
esac
`;

/** "name address port" of the other data nodes. */
function dataPeers(d: Deployment, m: NativeMember): string[] {
  return nativeMembers(d)
    .filter((x) => x.role === "data" && x.name !== m.name)
    .map((x) => [x.name, x.address, String(x.port)].join(" "));
}

/** The rolling restart script of one member (no secret in it: it uses the local socket and postgres's .pgpass). */
export function renderRollingScript(d: Deployment, m: NativeMember): string {
  const l = nativeLayout(nativeSettings(d).pgVersion);
  return [
    "#!/bin/bash",
    sh`# ems-ha rolling restart on ${m.name} (${m.role}), repmgr node id ${String(m.nodeId)}. Generated by ems-ha; do not edit.`,
    "# Usage: native-rolling.sh --others | --primary | --pending [--dry-run]",
    "set -euo pipefail",
    "umask 022",
    "cd /",
    shellVars({
      NODE_NAME: m.name,
      ROLE: m.role,
      PG_PORT: m.port,
      BINDIR: l.bindir,
      SERVICE: l.service,
      DATA_DIR: l.dataDir,
      REPMGR_CONF: l.repmgrConf,
      CONNECT_TIMEOUT: connectTimeout(d),
      WAIT_SECONDS: ROLLING_WAIT_SECONDS,
      MAX_LAG_BYTES: ROLLING_MAX_LAG_BYTES,
    }),
    shellArray("PEERS", dataPeers(d, m)),
    unescapeBash(BODY),
  ].join("\n");
}
