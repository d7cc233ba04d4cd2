/**
 * The reconciliation service: the guide's node monitor script, corrected (docs/background.md#errors-in-the-guide, #native-postgresql-and-repmgr), grown
 * into a repair loop for the three states repmgrd leaves behind (docs/reliability.md,
 * "Self-healing"). Every iteration looks at this node only and acts only when exactly one other
 * data node answers as primary and the fault has lasted GRACE seconds (repmgrd gets the first
 * go after a failover):
 *
 * - A primary on an older timeline than another primary (a stale primary): CHECKPOINT on both
 *   (right after a promotion the control file still shows the old timeline), then
 *   `repmgr node rejoin --force-rewind`. A primary is never demoted unless another primary on
 *   a newer timeline answers: the only primary stays primary.
 * - A standby that does not stream: after CHECKPOINT on the primary, its timeline and replayed
 *   LSN are compared with the primary's timeline history. Forked (past the point where the
 *   primary left this node's timeline): `node rejoin --force-rewind`; otherwise
 *   `repmgr standby follow`.
 * - A standby that streams from another node than the primary: `repmgr standby follow`.
 * - A witness whose repmgr metadata names another upstream or primary than the current
 *   primary: `repmgr witness register --force -h <primary>`.
 *
 * Before a rewind discards anything, what it discards is recorded in
 * STATE_DIR/rewind-<node>-<UTC time>.txt (timelines, LSNs, fork point, pg_controldata) and
 * the WAL segments of the abandoned timeline from the fork point on are copied next to it
 * (<record>.wal/); `ems-ha status` shows the record until `ems-ha ack-rewind NODE`.
 * Every repair is logged with its reason ("REPAIR: ..."); a healthy node is never touched.
 * If a rejoin fails, the data directory is moved aside (kept, not deleted) and the node is
 * cloned again. Attempts are bounded; the service then only logs until an operator acts.
 *
 * Corrections of the guide's script: the node is matched by its repmgr node name and
 * address rather than a substring of `cluster show`, the undefined $CLUSTER_STATUS is gone,
 * pg_ctl is not looked for in /usr/bin, a running primary is rewound rather than always
 * re-cloned, and every command has a timeout.
 *
 * Tests run one iteration (or the loop) against a loopback cluster: the file named by
 * $EMS_HA_RECONCILE_OVERRIDES, when set, is sourced after the definitions (paths, ports and the
 * svc_* / hold_repmgrd / release_repmgrd functions). systemd starts the service with a clean environment.
 */
import type { Deployment } from "../../config/schema";
import { formatUnit, type UnitSection } from "./repmgrd";
import { failoverWindowSeconds, oneLocation } from "../../config/derive";
import { connectTimeout, nativeLayout, nativeMembers, nativeSettings, type NativeMember } from "./layout";
import { sh, UnsafeValueError } from "../escape";
import { CANDIDATE_RANK_INCLUDE } from "../candidate-rank";
import { CONTROL_FILE_TIMELINE_SQL, REPLAY_TIMELINE_SQL } from "../replay-timeline";
import { failoverValidationBoundSeconds } from "../failover-validation";
import { ENSURE_DATADIR_INCLUDE, shellArray, shellVars, unescapeBash } from "./shell";

/** Failed rejoin attempts after which the service stops acting and only logs. */
export const MAX_REJOIN_ATTEMPTS = 3;

/**
 * Seconds a request of repmgrd's may go unanswered on an open connection before the service resets
 * that connection (docs/reliability.md, "A hung server"). repmgrd's requests are small; an answer
 * this late, while no data node answers the service as primary, means a server process that no
 * longer runs while its host's kernel still answers TCP. A needless reset only makes repmgrd ping
 * and reconnect; a late one delays the failover by as much (an election rerun after a refused
 * validation waits on its old primary's connection for this long), hence 15 s, not more.
 */
export const UNSTICK_AFTER_SECONDS = 15;

/**
 * Seconds after which a request of repmgrd's that is still unanswered is reset sooner than
 * UNSTICK_AFTER_SECONDS, when the server it went to does not take a new connection either (the
 * service asks it, within connect_timeout): a frozen server or a paused container, whose kernel
 * answers TCP while nothing behind it runs (docs/reliability.md, "A hung server").
 */
export const UNSTICK_SILENT_AFTER_SECONDS = 3;

/** Why a waiting connection of repmgrd's is reset, as the REPAIR: line says it, per rule. */
export const UNSTICK_REASONS = {
  /** UNSTICK_AFTER_SECONDS passed. */
  hung: "a server process that hangs while its host answers TCP",
  /** UNSTICK_SILENT_AFTER_SECONDS passed and the server takes no new connection. */
  silent: "its server takes no new connection either: a frozen server or a paused container",
} as const;

/** "name nodeId address port" of every other data node. */
export function peerEntries(d: Deployment, self: NativeMember): string[] {
  return nativeMembers(d)
    .filter((m) => m.role === "data" && m.name !== self.name)
    .map(memberEntry);
}

/** "name nodeId address port" of every other witness (they vote in the fencing check of a data node). */
export function witnessEntries(d: Deployment, self: NativeMember): string[] {
  return nativeMembers(d)
    .filter((m) => m.role === "witness" && m.name !== self.name)
    .map(memberEntry);
}

/**
 * One entry of PEERS / WITNESSES: the script splits it with `read -r name id host port`, so a
 * field must be one non-empty word without whitespace (the entry itself is quoted as one shell
 * word by shellArray).
 */
function memberEntry(m: NativeMember): string {
  const fields = [m.name, String(m.nodeId), m.address, String(m.port)];
  for (const f of fields) {
    if (f === "" || /\s/.test(f))
      throw new UnsafeValueError(
        `node ${JSON.stringify(m.name)}: the value ${JSON.stringify(f)} must be one word without whitespace to be listed in the reconciliation service`,
      );
  }
  return fields.join(" ");
}

/** Seconds a primary must have seen no majority before it fences itself (docs/reliability.md). */
export const FENCE_AFTER_SECONDS = 10;

/**
 * Whether the node fences itself when isolated: only with at least three nodes (data nodes and
 * witnesses), where a majority means something; with two, a primary cannot tell its own
 * isolation from its only peer's failure.
 */
export function fencingEnabled(d: Deployment): boolean {
  return nativeMembers(d).length >= 3;
}

/**
 * Whether a standby promotes itself when repmgrd's election did not (reconcile_leaderless): only
 * where an isolated primary fences itself and every node is in one location (repmgr cancels an
 * election on purpose when no node of the primary's location answers; that is left to it).
 */
export function electionRepairEnabled(d: Deployment): boolean {
  return fencingEnabled(d) && oneLocation(d);
}

/**
 * Seconds without any primary before that repair: repmgrd's failover window (its reconnect
 * attempts, each waiting connect_timeout and the interval, after one monitoring interval) or the
 * old primary's fence (FENCE_AFTER and one loop interval), whichever is longer, plus the grace.
 */
export function electAfterSeconds(d: Deployment, intervalSeconds = nativeSettings(d).reconcileIntervalSeconds, grace = graceSeconds(d)): number {
  return Math.max(failoverWindowSeconds(d), FENCE_AFTER_SECONDS + intervalSeconds) + grace;
}

/** Seconds a fault must last before the service repairs it (repmgrd acts first). */
export function graceSeconds(d: Deployment): number {
  return 2 * nativeSettings(d).reconcileIntervalSeconds;
}

/**
 * The definitions of the reconciliation service, shared by the native hosts and the Docker hosts
 * (src/render/docker-reconcile.ts redefines the functions that reach PostgreSQL and repmgr).
 */
const FUNCTIONS = String.raw`
ATTEMPTS_FILE="$STATE_DIR/reconcile-attempts"
PENDING_PREFIX="$STATE_DIR/reconcile-pending-"
FENCE_MARKER="$STATE_DIR/fenced"
REMOVED_MARKER="$STATE_DIR/removed"
REGISTERED_MARKER="$STATE_DIR/registered"
MAJORITY_SEEN="$STATE_DIR/reconcile-majority-seen"
GAVE_UP_MARKER="$STATE_DIR/reconcile-gave-up"
NO_SS_MARKER="$STATE_DIR/reconcile-no-ss"
DEFER_MARKER="$STATE_DIR/reconcile-rewind-deferred"

log() { printf '%s [ems-ha-reconcile %s] %s\n' "$(date '+%F %T')" "$NODE_NAME" "$*"; }
# say_once MARKER MESSAGE: logs MESSAGE unless MARKER exists, then creates it; a condition that
# lasts is said when it starts, not every round (its end removes MARKER)
say_once() { [ -e "$1" ] || { log "$2"; : >"$1"; }; }
as_pg() { runuser -u postgres -- "$@"; }
# pg_run SECONDS PROGRAM ARGS...: one of PostgreSQL's programs as postgres, bounded
pg_run() { local t=$1 p=$2; shift 2; as_pg timeout "$t" "$BINDIR/$p" "$@"; }
# repmgr_run SECONDS ARGS...: repmgr with this node's repmgr.conf, bounded
repmgr_run() { local t=$1; shift; as_pg timeout "$t" "$BINDIR/repmgr" -f "$REPMGR_CONF" "$@"; }
q_local() { pg_run 15 psql -X -qAt -v ON_ERROR_STOP=1 -p "$PG_PORT" -d "\${2:-postgres}" -c "$1" 2>/dev/null; }
q_peer() { pg_run 15 psql -X -qAt -v ON_ERROR_STOP=1 "host=$1 port=$2 user=repmgr dbname=repmgr connect_timeout=$CONNECT_TIMEOUT" -c "$3" 2>/dev/null; }
# the WAL segment files of timeline $1 in this node's pg_wal, one name a line
list_wal() {
  local f
  for f in "$DATA_DIR"/pg_wal/$(printf '%08X' "$1")????????????????; do
    if [ -f "$f" ]; then echo "\${f##*/}"; fi
  done
}
# copy_wal SEGMENT DIR: a copy of one of this node's WAL segment files
copy_wal() { cp -p "$DATA_DIR/pg_wal/$1" "$2/"; }
# the node has finished starting and may be looked at (natively: as soon as PostgreSQL runs)
node_settled() { return 0; }
# this node's PostgreSQL, looked at once a round (reconcile_once), into NODE_STATE: 0 stopped, 1
# running, 2 running and settled (a variable, not output: a flavour may note more in the same look)
node_state() { NODE_STATE=0; if svc_active; then if node_settled; then NODE_STATE=2; else NODE_STATE=1; fi; fi; }
# The failed rejoins counted for this node's cluster (ATTEMPTS_FILE: "COUNT SYSTEM_IDENTIFIER").
# A count noted for another cluster (this node's data was built anew, docs/operations.md) is
# forgotten, with the refusal said for it: the new cluster starts with its own attempts. A count
# without an identifier (an earlier version) or a node whose identifier cannot be read keeps it.
attempts() {
  local n=0 id="" now
  [ -f "$ATTEMPTS_FILE" ] || { echo 0; return 0; }
  read -r n id <"$ATTEMPTS_FILE" || true
  if [ -n "$id" ]; then
    now=$(cluster_id) || now=""
    if [ -n "$now" ] && [ "$now" != "$id" ]; then
      rm -f "$ATTEMPTS_FILE" "$GAVE_UP_MARKER"
      log "$n failed rejoin attempts were counted for another cluster (system identifier $id; this node's data is $now): forgotten" >&2
      n=0
    fi
  fi
  echo "\${n:-0}"
}
# note_attempt N: N rejoin attempts, for this node's cluster
note_attempt() { printf '%s %s\n' "$1" "$(cluster_id)" >"$ATTEMPTS_FILE"; }
svc_active() { systemctl is-active --quiet "$SERVICE"; }
svc_stop() { timeout 120 systemctl stop "$SERVICE"; }
svc_start() { timeout 120 systemctl start "$SERVICE"; }
# repmgrd is stopped for the length of a repair and started after it, whatever its outcome: until
# the repair is over \`ems-ha status\` sees repmgrd down, never a healthy node that is about to restart it
hold_repmgrd() { timeout 30 systemctl stop repmgrd; }
release_repmgrd() { timeout 60 systemctl start repmgrd; }
retire_repmgrd() { timeout 60 systemctl disable --now repmgrd; }
# repmgrd's process ids, and a command run in the network namespace its connections live in
repmgrd_pids() { systemctl show -p MainPID --value repmgrd 2>/dev/null | grep -v '^0$'; }
in_node_netns() { "$@"; }
svc_disable() { timeout 60 systemctl disable --quiet "$SERVICE"; }
# Around the fence: whatever must keep a fenced PostgreSQL down besides the stop (natively nothing:
# systemd does not restart a stopped unit), and undoing it once the fence is lifted.
fence_hold() { return 0; }
fence_release() { return 0; }
# Around the look at a fenced node: whether it can be looked at, and after it (natively it always
# can, in place); and how a fenced node rejoins a newer primary (natively node rejoin).
fenced_look() { return 0; }
fenced_done() { return 0; }
fenced_rejoin() { rejoin "$@"; }

${ENSURE_DATADIR_INCLUDE}
${CANDIDATE_RANK_INCLUDE}
# true once the fault named $1 has lasted $2 (default GRACE) seconds (its first sighting is recorded)
persisting() {
  local f="$PENDING_PREFIX$1" now since limit=\${2:-$GRACE}
  now=$(date +%s)
  if [ ! -f "$f" ]; then
    echo "$now" >"$f"
    [ "$limit" -le 0 ]
    return
  fi
  since=$(cat "$f" 2>/dev/null || echo "$now")
  [ $((now - since)) -ge "$limit" ]
}
clear_pending() { rm -f "$PENDING_PREFIX"*; }

# "SEEN TOTAL": of the other nodes (data nodes and witnesses) the cluster's records on this node
# still list (all of PEERS and WITNESSES when the records cannot be read, e.g. while
# PostgreSQL is stopped), how many answer. A node unregistered by a membership change no longer
# counts before this script is reinstalled without it.
# The nodes are asked at once (one connect_timeout in all, not one per node that does not answer).
peer_counts() {
  local ids p name id host port seen=0 total=0 dir f pids=()
  ids=" $(q_local "select string_agg(node_id::text, ' ') from repmgr.nodes where node_id <> $NODE_ID" repmgr 2>/dev/null) "
  dir=$(mktemp -d) || { echo "0 0"; return 1; }
  for p in "\${PEERS[@]}" "\${WITNESSES[@]}"; do
    IFS="$ENTRY_SEP" read -r name id host port <<<"$p"
    if [ "$ids" != "  " ] && [[ $ids != *" $id "* ]]; then continue; fi
    total=$((total + 1))
    { [ "$(q_peer "$host" "$port" "select 1")" = 1 ] && : >"$dir/$total"; } &
    pids+=($!)
  done
  [ "\${#pids[@]}" -eq 0 ] || wait "\${pids[@]}"
  for f in "$dir"/*; do [ -e "$f" ] && seen=$((seen + 1)); done
  rm -rf "$dir"
  echo "$seen $total"
}

# the others a node needs to see to be part of a majority of all nodes (itself and TOTAL others)
majority_needed() { echo $(( ($1 + 1) / 2 )); }

# A rewind stops this node's PostgreSQL for as long as it takes, and a primary counts only the
# nodes whose PostgreSQL answers. True when the primary would then see no majority (the others that
# answer here, less the primary itself, are fewer than it needs): it would fence itself after
# FENCE_AFTER seconds, an outage caused by the repair (docs/reliability.md, "A repair that would
# fence the primary"). Prints "SEEN NEED" of the primary's count without this node.
primary_needs_me() {
  local seen total need
  [ "$FENCING" = 1 ] || return 1
  read -r seen total <<<"$(peer_counts)"
  need=$(majority_needed "$total")
  echo "$((seen - 1)) $need"
  [ $((seen - 1)) -lt "$need" ]
}

# the cluster this node's data belongs to: its system identifier, new with each initdb (a standby's
# clone and a promotion keep it)
cluster_id() { q_local "select system_identifier from pg_control_system()"; }

# Split-brain fencing: a primary that has been part of a majority and then sees none for
# FENCE_AFTER seconds stops PostgreSQL (no client can undo that), after writing the time to
# FENCE_MARKER. MAJORITY_SEEN holds the cluster it was armed for.
fence_if_isolated() {
  local seen total need id armed
  [ "$FENCING" = 1 ] || return 0
  id=$(cluster_id)
  armed=$(cat "$MAJORITY_SEEN" 2>/dev/null) || armed=""
  if [ -n "$id" ] && [ -n "$armed" ] && [ "$armed" != "$id" ]; then
    # this node's data is a cluster built anew (every node was lost, docs/operations.md): its peers
    # are being deployed again, as on a first deploy, so it is not fenced until it has seen them
    rm -f "$MAJORITY_SEEN" "$PENDING_PREFIX"isolated
    log "fencing disarmed: this node's data is a new cluster (system identifier $id, armed for $armed); armed again once it has seen a majority"
  fi
  read -r seen total <<<"$(peer_counts)"
  need=$(majority_needed "$total")
  if [ "$seen" -ge "$need" ]; then
    rm -f "$PENDING_PREFIX"isolated
    # armed: only a primary that has been part of a majority fences (not one whose peers are still being set up)
    if [ ! -f "$MAJORITY_SEEN" ]; then
      printf '%s\n' "$id" >"$MAJORITY_SEEN"
      log "fencing armed: $seen of the other nodes answer (a majority needs $need)"
    elif [ -z "$armed" ] && [ -n "$id" ]; then
      # armed by an earlier version, which did not note the cluster
      printf '%s\n' "$id" >"$MAJORITY_SEEN"
    fi
    return 0
  fi
  [ -f "$MAJORITY_SEEN" ] || return 0
  if [ "$(q_local "select repmgr.repmgrd_is_paused()" repmgr)" = t ]; then
    log "only $seen of the other nodes answer (a majority needs $need), but repmgrd is paused (maintenance): not fencing"
    return 0
  fi
  persisting isolated "$FENCE_AFTER" || { log "WARNING: only $seen of the other nodes answer (a majority needs $need): fencing if this lasts \${FENCE_AFTER}s"; return 0; }
  log "FENCE: this primary has seen only $seen of the other nodes (a majority needs $need) for \${FENCE_AFTER}s: stopping PostgreSQL so that it accepts no more writes"
  printf '%s %s\n' "$(date -u '+%F %T UTC')" "$NODE_NAME" >"$FENCE_MARKER"
  fence_hold || log "FENCE: could not make sure $SERVICE stays stopped; stopping it anyway"
  if svc_stop; then
    log "FENCE: $SERVICE stopped; it is rejoined or restarted when the other nodes answer again (marker $FENCE_MARKER)"
  else
    log "FENCE: could not stop $SERVICE"
    return 1
  fi
}

# PostgreSQL was stopped by the fence: rejoin the newer primary, or restart once a majority
# answers and nobody else became primary.
reconcile_fenced() {
  local rc=0
  fenced_look || return 0
  reconcile_fenced_in || rc=$?
  fenced_done
  return $rc
}
reconcile_fenced_in() {
  local p name id host port theirs mine lsn fork seen total need
  p=$(current_primary)
  if [ -n "$p" ]; then
    IFS="$ENTRY_SEP" read -r name id host port <<<"$p"
    q_peer "$host" "$port" "CHECKPOINT" >/dev/null || return 0
    theirs=$(q_peer "$host" "$port" "select timeline_id from pg_control_checkpoint()") || return 0
    mine=$(controldata "Latest checkpoint's TimeLineID")
    lsn=$(controldata "Latest checkpoint location")
    [ -n "$theirs" ] && [ -n "$mine" ] && [ -n "$lsn" ] || return 0
    if [ "$theirs" -le "$mine" ]; then
      log "fenced; $name answers as primary on timeline $theirs, not newer than this node's $mine: not acting, resolve by hand"
      return 1
    fi
    fork=$(switchpoint "$host" "$port" "$mine" "$theirs")
    rewind_onto fenced_rejoin "$name" "$host" "$port" "$theirs" "$fork" "$mine" "$lsn" \
      "fenced since $(cat "$FENCE_MARKER" 2>/dev/null); $name became primary (timeline $theirs): rejoining it (last LSN $lsn, fork point \${fork:-unknown})" || return 1
    rm -f "$FENCE_MARKER"
    fence_release
    return 0
  fi
  read -r seen total <<<"$(peer_counts)"
  need=$(majority_needed "$total")
  if [ "$seen" -lt "$need" ]; then
    rm -f "$PENDING_PREFIX"unfence
    return 0
  fi
  persisting unfence || { log "fenced; $seen of the other nodes answer again and none is primary: restarting PostgreSQL if this lasts \${GRACE}s"; return 0; }
  log "REPAIR: fenced since $(cat "$FENCE_MARKER" 2>/dev/null); $seen of the other nodes answer again (a majority needs $need) and none became primary: starting PostgreSQL"
  repaired start_unfenced
}

start_unfenced() {
  fence_release
  svc_start || { log "could not start $SERVICE"; return 1; }
  rm -f "$FENCE_MARKER"
  clear_pending
}

# one field of pg_controldata of the (stopped) local cluster
controldata() { pg_run 30 pg_controldata -D "$DATA_DIR" 2>/dev/null | awk -F': *' -v k="$1" '$1 == k && !seen { print $2; seen = 1 }'; }

# The round's primary (current_primary), asked once a round: the checks that only look (membership,
# standby, witness) share it, so that a healthy round asks each node once (on a Docker host each
# question is a docker exec and a new PostgreSQL connection). reconcile_once forgets it each round;
# a repair that must see the cluster as it is after acting asks current_primary itself.
ROUND_LOOKED=0
ROUND_PRIMARY=""
look_primary() {
  [ "$ROUND_LOOKED" = 1 ] && return 0
  ROUND_PRIMARY=$(current_primary)
  ROUND_LOOKED=1
}
# "name id host port" of the one other data node that answers as primary; nothing when none or several
current_primary() {
  local p name id host port found=()
  for p in "\${PEERS[@]}"; do
    IFS="$ENTRY_SEP" read -r name id host port <<<"$p"
    [ "$(q_peer "$host" "$port" "select pg_is_in_recovery()")" = f ] && found+=("$p")
  done
  if [ "\${#found[@]}" -eq 1 ]; then printf '%s\n' "\${found[0]}"; fi
  if [ "\${#found[@]}" -gt 1 ]; then log "WARNING: several data nodes answer as primary (\${found[*]//"$ENTRY_SEP"/ }): not acting" >&2; fi
  return 0
}

# where timeline $3 ends in the history of the primary at $1:$2 (its current timeline is $4)
switchpoint() {
  local file
  file=$(printf 'pg_wal/%08X.history' "$4")
  q_peer "$1" "$2" "select pg_read_file('$file')" | awk -v t="$3" '$1 == t && !seen { print $2; seen = 1 }'
}

wait_streaming() {
  local i
  for ((i = 0; i < $1; i++)); do
    [ "$(q_local "select status from pg_stat_wal_receiver")" = streaming ] && return 0
    sleep 1
  done
  return 1
}

# Records what a rewind of this node to primary $1 will discard: $2 = their timeline,
# $3 = fork point, $4 = this node's timeline, $5 = this node's last LSN. Copies the WAL
# segments of timeline $4 from the fork point on. Fails when nothing could be recorded.
save_discarded() {
  local name=$1 their_tl=$2 fork=$3 my_tl=$4 my_lsn=$5 ts rec wal segsize per segno start base n=0
  ts=$(date -u +%Y%m%dT%H%M%SZ)
  rec="$STATE_DIR/rewind-$NODE_NAME-$ts.txt"
  wal="$STATE_DIR/rewind-$NODE_NAME-$ts.wal"
  mkdir -p "$wal" || return 1
  # PostgreSQL may be stopped (a fenced node): then its control file tells
  segsize=$(q_local "select setting from pg_settings where name = 'wal_segment_size'")
  [ -n "$segsize" ] || segsize=$(controldata "Bytes per WAL segment")
  [ -n "$segsize" ] || segsize=16777216
  per=$(( 4294967296 / segsize ))
  segno=$(( $(lsn_num "$fork") / segsize ))
  start=$(printf '%08X%08X%08X' "$my_tl" $(( segno / per )) $(( segno % per )))
  while read -r base; do
    if [ -n "$base" ] && [[ ! "$base" < "$start" ]]; then copy_wal "$base" "$wal" && n=$((n + 1)); fi
  done < <(list_wal "$my_tl")
  {
    echo "node: $NODE_NAME"
    echo "discarded: WAL of timeline $my_tl from $fork to $my_lsn ($(( $(lsn_num "$my_lsn") - $(lsn_num "$fork") )) bytes): transactions this node had that $name lacks"
    echo "fork point: $name left timeline $my_tl at $fork (now on timeline $their_tl)"
    echo "this node: timeline $my_tl, last LSN $my_lsn"
    echo "saved WAL segments ($n, from $start): $wal (inspect with pg_waldump)"
    echo "recorded: $(date -u '+%F %T') UTC, before node rejoin --force-rewind from $name"
    echo "acknowledge: ems-ha ack-rewind $NODE_NAME (or remove this file)"
    echo "--- pg_controldata"
    pg_run 30 pg_controldata -D "$DATA_DIR" 2>&1
  } >"$rec.tmp" && mv "$rec.tmp" "$rec" || return 1
  log "WARNING: REWIND of $NODE_NAME will discard WAL $fork..$my_lsn of timeline $my_tl; recorded in $rec, segments saved in $wal"
}

# After a failed node rejoin: a fresh clone from primary $1 ($2:$3), the old data directory kept.
reclone() {
  local name=$1 host=$2 port=$3 keep
  log "node rejoin failed: cloning from $name instead, keeping the old data directory"
  svc_stop || true
  keep="$DATA_DIR.pre-rejoin-$(date +%Y%m%d%H%M%S)"
  mv "$DATA_DIR" "$keep"
  log "old data directory kept at $keep"
  if ! repmgr_run 3600 -h "$host" -p "$port" -U repmgr -d repmgr standby clone --fast-checkpoint; then
    log "clone failed: the old data directory goes back in place; $SERVICE stays stopped"
    rm -rf "$DATA_DIR"
    mv "$keep" "$DATA_DIR"
    return 1
  fi
  ensure_datadir_include
  svc_start || return 1
  repmgr_run 60 standby register --force
}

# repaired FN ARGS...: a repair run with repmgrd held (hold_repmgrd); its exit status
repaired() {
  local rc=0
  hold_repmgrd || log "could not stop repmgrd"
  "$@" || rc=$?
  release_repmgrd || log "could not start repmgrd"
  return $rc
}

# repmgrd waits for ever for the answer to a request whose server process hangs while its host's
# kernel still answers TCP (a frozen process, a stalled disk, a paused container): neither TCP
# keepalive nor retransmission ends the wait, libpq has no timeout for it, and repmgrd neither logs
# nor fails over meanwhile (docs/reliability.md, "A hung server"). Looked at while no data node
# answers as primary, on standbys and witnesses (when repmgrd should be failing over; nothing is
# spent on it while the cluster is healthy). Each of repmgrd's connections
# that sent a request and has received nothing since, for UNSTICK_AFTER seconds, is reset (ss -K):
# libpq reports the connection lost and repmgrd goes on (it pings, then fails over if nobody
# answers). Sooner, after UNSTICK_SILENT_AFTER seconds, when the server the request went to takes
# no new connection either (asked within connect_timeout): a frozen server or a paused container.
# Prints "local peer waited-ms" per connection waiting for the shorter of the two; ss prints -i's
# details on a line of their own, joined here.
repmgrd_waiting() {
  local pids after=$UNSTICK_AFTER
  pids=$(repmgrd_pids 2>/dev/null | tr '\n' ' ')
  [ -n "\${pids// /}" ] || return 0
  [ "$UNSTICK_SILENT_AFTER" -ge "$after" ] || after=$UNSTICK_SILENT_AFTER
  in_node_netns timeout 10 ss -tnpiH 2>/dev/null | awk -v pids="$pids" -v after="$((after * 1000))" '
    function num(key) { return match(line, key ":[0-9]+") ? substr(line, RSTART + length(key) + 1, RLENGTH - length(key) - 1) + 0 : -1 }
    function flush(  n, i, p, mine, snd, rcv) {
      if (line == "") return
      split(line, f, " ")
      n = split(pids, p, " ")
      mine = 0
      for (i = 1; i <= n; i++) if (index(line, "\"repmgrd\",pid=" p[i] ",")) mine = 1
      snd = num("lastsnd"); rcv = num("lastrcv")
      if (f[1] == "ESTAB" && mine && snd >= after && rcv > snd) print f[4], f[5], snd
      line = ""
    }
    /^[ \t]/ { line = line " " $0; next }
    { flush(); line = $0 }
    END { flush() }'
}
have_ss() { command -v ss >/dev/null; }
# Whether the server at ss's peer address ("10.0.0.7:5432", "[::ffff:10.0.0.7]:5432",
# "[fd00::7]:5432") answers a new connection within connect_timeout.
peer_answers() {
  local host=\${1%:*}
  host=\${host#[}
  host=\${host%]}
  [[ $host =~ ^::ffff:[0-9.]+$ ]] && host=\${host#::ffff:}
  q_peer "$host" "\${1##*:}" "select 1" </dev/null >/dev/null
}
unstick_repmgrd() {
  local loc peer ms why
  if ! have_ss; then
    say_once "$NO_SS_MARKER" "ss (iproute2) is not installed: a repmgrd waiting on a hung server cannot be reset"
    return 0
  fi
  while read -r loc peer ms; do
    [ -n "$ms" ] || continue
    if [ "$ms" -ge $((UNSTICK_AFTER * 1000)) ]; then
      why=$UNSTICK_WHY_HUNG
    elif peer_answers "$peer"; then
      continue
    else
      why=$UNSTICK_WHY_SILENT
    fi
    log "REPAIR: repmgrd sent a request to $peer $((ms / 1000))s ago and has had no answer ($why): resetting that connection so that repmgrd sees it fail"
    in_node_netns timeout 10 ss -K -tn src "$loc" dst "$peer" >/dev/null 2>&1 || log "could not reset the connection $loc -> $peer (ss -K needs CAP_NET_ADMIN and a kernel with CONFIG_INET_DIAG_DESTROY)"
  done < <(repmgrd_waiting)
}

# Whether a rejoin may still be tried: once the attempts are used up, nothing is touched (repmgrd
# included) until an operator acts. Asked before what a rewind would discard is recorded, so that a
# node past its attempts does not write a record and copy WAL segments again every round. The
# refusal is said once (GAVE_UP_MARKER), until the operator removes ATTEMPTS_FILE.
rejoin_allowed() {
  local n
  n=$(attempts)
  if [ "$n" -ge "$MAX_ATTEMPTS" ]; then
    say_once "$GAVE_UP_MARKER" "$n rejoin attempts failed: not trying again (said once). Rejoin by hand (repmgr node rejoin --force-rewind), then remove $ATTEMPTS_FILE"
    return 1
  fi
  rm -f "$GAVE_UP_MARKER"
}
# the attempts are used up and that was said: a repair that would rejoin returns before its
# REPAIR: line, which would otherwise be logged every round
given_up() { [ "$(attempts)" -ge "$MAX_ATTEMPTS" ] && [ -e "$GAVE_UP_MARKER" ]; }
rejoin() {
  rejoin_allowed || return 1
  repaired rejoin_held "$@"
}
# rewind_onto REJOIN NAME HOST PORT THEIRS FORK MINE LSN WHY: the one way a repair rewinds this node
# onto primary NAME (on timeline THEIRS, which left this node's timeline MINE at FORK; this node's
# last LSN is LSN). With the rejoin attempts used up and said, it returns 1 before anything else;
# otherwise it logs "REPAIR: WHY", checks the attempts (the refusal said once), records what the
# rewind discards when this node went past FORK, then runs REJOIN NAME HOST PORT.
rewind_onto() {
  local rejoin_fn=$1 name=$2 host=$3 port=$4 theirs=$5 fork=$6 mine=$7 lsn=$8
  given_up && return 1
  log "REPAIR: $9"
  rejoin_allowed || return 1
  if [ -n "$fork" ] && [ -n "$lsn" ] && [ "$(lsn_num "$lsn")" -gt "$(lsn_num "$fork")" ]; then
    save_discarded "$name" "$theirs" "$fork" "$mine" "$lsn" || { log "could not record what the rewind discards: not rewinding"; return 1; }
  fi
  "$rejoin_fn" "$name" "$host" "$port"
}
rejoin_held() {
  local name=$1 host=$2 port=$3 n
  n=$(attempts)
  note_attempt $((n + 1))
  log "rejoining as a standby of $name ($host) with node rejoin --force-rewind (attempt $((n + 1)) of $MAX_ATTEMPTS)"
  if svc_active && ! svc_stop; then
    log "could not stop $SERVICE: not rejoining"
    return 1
  fi
  ensure_datadir_include
  if repmgr_run 900 node rejoin \
    -d "host=$host port=$port user=repmgr dbname=repmgr connect_timeout=$CONNECT_TIMEOUT" --force-rewind; then
    log "node rejoin done"
  else
    reclone "$name" "$host" "$port" || return 1
  fi
  svc_active || svc_start || return 1
  if wait_streaming 60; then
    log "streaming from $name"
    rm -f "$ATTEMPTS_FILE"
    clear_pending
    return 0
  fi
  log "not streaming from $name after 60 s"
  return 1
}

follow() { repaired follow_held "$@"; }
follow_held() {
  local name=$1 id=$2
  if ! repmgr_run 300 standby follow --upstream-node-id="$id"; then
    log "standby follow of $name failed"
    return 1
  fi
  if wait_streaming 60; then
    log "streaming from $name"
    clear_pending
    return 0
  fi
  log "not streaming from $name after 60 s"
  return 1
}

# On a primary: another primary on a newer timeline makes this one stale.
reconcile_primary() {
  local p name id host port theirs mine lsn fork
  for p in "\${PEERS[@]}"; do
    IFS="$ENTRY_SEP" read -r name id host port <<<"$p"
    [ "$(q_peer "$host" "$port" "select pg_is_in_recovery()")" = f ] || continue
    # right after a promotion the control file still shows the old timeline (docs/background.md#native-postgresql-and-repmgr)
    q_peer "$host" "$port" "CHECKPOINT" >/dev/null || continue
    q_local "CHECKPOINT" >/dev/null || return 0
    theirs=$(q_peer "$host" "$port" "select timeline_id from pg_control_checkpoint()") || continue
    mine=$(q_local "select timeline_id from pg_control_checkpoint()") || return 0
    if [ "$theirs" -gt "$mine" ]; then
      lsn=$(q_local "select pg_current_wal_lsn()")
      fork=$(switchpoint "$host" "$port" "$mine" "$theirs")
      rewind_onto rejoin "$name" "$host" "$port" "$theirs" "$fork" "$mine" "$lsn" \
        "$name ($host) is primary on timeline $theirs, newer than this node's $mine: this node is a stale primary (last LSN $lsn, fork point \${fork:-unknown})"
      return $?
    fi
    if [ "$theirs" -eq "$mine" ]; then
      log "WARNING: $name also runs as primary, on this node's timeline $mine: not acting, resolve by hand"
    fi
  done
  return 0
}

# this node's received (else replayed) WAL position, or a peer's (host port)
received_lsn() {
  local sql="select coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"
  if [ $# -eq 0 ]; then q_local "$sql"; else q_peer "$1" "$2" "$sql"; fi
}

# No data node answers as primary. repmgrd elects once, when it loses the primary: a node it could
# not reach at that moment (the witness, under load) cancels the election, and repmgrd then only
# waits for the old primary to come back. When no primary has answered for ELECT_AFTER seconds
# (past repmgrd's own failover window and the old primary's fence), a majority of all the nodes
# answers, this node's repmgrd runs unpaused (it waits in degraded monitoring), and this standby
# is the one repmgr's election would pick among the standbys that answer (highest received LSN,
# then highest priority, then lowest node id):
# repmgr standby promote. Only where an isolated primary fences itself (ELECT=1: fencing on, one
# location), so the old primary, cut off from the majority, has stopped taking writes.
reconcile_leaderless() {
  local p name id host port r seen total need mine mine_prio lsn prio
  [ "$ELECT" = 1 ] || return 0
  # repmgrd runs and is not paused: it would have elected had it seen a majority (not a node whose
  # repmgrd an operator stopped or paused, nor one booting while the primary is still down)
  if [ "$(q_local "select repmgr.repmgrd_is_running() and not repmgr.repmgrd_is_paused()" repmgr)" != t ]; then
    rm -f "$PENDING_PREFIX"leaderless
    return 0
  fi
  read -r seen total <<<"$(peer_counts)"
  need=$(majority_needed "$total")
  if [ "$seen" -lt "$need" ]; then
    [ ! -f "$PENDING_PREFIX"leaderless ] || log "no data node answers as primary, and only $seen of the other nodes answer (a majority needs $need): not promoting"
    rm -f "$PENDING_PREFIX"leaderless
    return 0
  fi
  mine=$(received_lsn) || return 0
  mine_prio=$(q_local "select priority from repmgr.nodes where node_id = $NODE_ID" repmgr) || return 0
  [ -n "$mine" ] && [ "\${mine_prio:-0}" -gt 0 ] || return 0
  for p in "\${PEERS[@]}"; do
    IFS="$ENTRY_SEP" read -r name id host port <<<"$p"
    r=$(q_peer "$host" "$port" "select pg_is_in_recovery()")
    [ "$r" != f ] || { rm -f "$PENDING_PREFIX"leaderless; return 0; }
    [ "$r" = t ] || continue
    lsn=$(received_lsn "$host" "$port") || continue
    prio=$(q_local "select priority from repmgr.nodes where node_id = $id" repmgr) || continue
    [ -n "$lsn" ] && [ "\${prio:-0}" -gt 0 ] || continue
    if ranks_above "$lsn" "$prio" "$id" "$mine" "$mine_prio" "$NODE_ID"; then
      rm -f "$PENDING_PREFIX"leaderless
      return 0
    fi
  done
  persisting leaderless "$ELECT_AFTER" || { log "no data node answers as primary; $seen of the other nodes answer (a majority needs $need) and this standby is the best candidate (LSN $mine, priority $mine_prio): promoting it if this lasts \${ELECT_AFTER}s"; return 0; }
  # this round asked each standby once, within connect_timeout: one that missed it may be alive and
  # electing itself, so the failover validation asks again, as it does for repmgrd's own election
  validate_promotion || return 0
  log "REPAIR: no data node has answered as primary for \${ELECT_AFTER}s (repmgrd's election did not promote); $seen of the other nodes answer (a majority needs $need) and this standby is the best candidate (LSN $mine, priority $mine_prio): repmgr standby promote"
  repaired promote_self
}

# validate_promotion: the failover validation (docs/reliability.md#two-standbys-promoted-at-once),
# the check repmgrd's election passes before it promotes a node, asked before the election repair
# promotes this one. Its one line is logged; exit 0 means promote. A refusal for a standby that
# did not answer counts once: asked again next round, with the same standbys still silent, it
# takes them as down (its own state file).
validate_promotion() {
  local out rc
  out=$(validation_run)
  rc=$?
  out=\${out##*$'\n'}
  if [ "$rc" -eq 0 ]; then
    log "failover validation: \${out:-promote (no output)}"
    return 0
  fi
  log "not promoting: the failover validation refused (exit $rc): \${out:-no output}"
  return 1
}
# validation_run: the script as repmgrd runs it (its user, this node's id), bounded
validation_run() { as_pg timeout "$VALIDATE_TIMEOUT" "$VALIDATE" "$NODE_ID" 2>/dev/null; }

promote_self() {
  if ! repmgr_run 120 standby promote; then
    log "standby promote failed"
    return 1
  fi
  log "promoted: this node is the primary"
  clear_pending
}

reconcile_standby() {
  local p name id host port status sender theirs mine lsn fork counts others need
  look_primary
  p=$ROUND_PRIMARY
  if [ -z "$p" ]; then
    # A fault counts only while a primary is in sight: an outage of the primary restarts the clock
    # (a sighting from before it must not trigger a repair while the standby reconnects after it).
    rm -f "$PENDING_PREFIX"upstream "$PENDING_PREFIX"receiver
    unstick_repmgrd
    reconcile_leaderless
    return $?
  fi
  rm -f "$PENDING_PREFIX"leaderless
  IFS="$ENTRY_SEP" read -r name id host port <<<"$p"
  # one question for both (no row: neither)
  read -r status sender <<<"$(q_local "select status || ' ' || coalesce(sender_host, '') from pg_stat_wal_receiver")"
  if [ "$status" = streaming ] && [ "$sender" = "$host" ]; then
    # healthy: nothing is touched; earlier sightings and failed attempts no longer count
    clear_pending
    rm -f "$ATTEMPTS_FILE" "$DEFER_MARKER"
    return 0
  fi
  if [ "$status" = streaming ]; then
    persisting upstream || { log "streams from $sender, not from the primary $name: repairing if this lasts \${GRACE}s"; return 0; }
    log "REPAIR: this standby streams from $sender, not from the primary $name ($host): standby follow"
    follow "$name" "$id"
    return $?
  fi
  persisting receiver || { log "not streaming (primary: $name): repairing if this lasts \${GRACE}s"; return 0; }
  q_peer "$host" "$port" "CHECKPOINT" >/dev/null || return 0
  theirs=$(q_peer "$host" "$port" "select timeline_id from pg_control_checkpoint()") || return 0
  # the timeline it replays on: the control file lags behind a timeline switch (src/render/replay-timeline.ts);
  # a user who may not list the WAL files has the control file's answer
  mine=$(q_local "select ${REPLAY_TIMELINE_SQL}") ||
    mine=$(q_local "select ${CONTROL_FILE_TIMELINE_SQL}") || return 0
  lsn=$(q_local "select pg_last_wal_replay_lsn()") || return 0
  [ -n "$theirs" ] && [ -n "$mine" ] && [ -n "$lsn" ] || return 0
  if [ "$theirs" -gt "$mine" ]; then
    fork=$(switchpoint "$host" "$port" "$mine" "$theirs")
    if [ -z "$fork" ]; then
      log "not streaming, on timeline $mine while $name is on $theirs, and $name's timeline history cannot be read: not acting"
      return 1
    fi
    if [ "$(lsn_num "$lsn")" -gt "$(lsn_num "$fork")" ]; then
      given_up && return 1
      if counts=$(primary_needs_me); then
        read -r others need <<<"$counts"
        say_once "$DEFER_MARKER" "this standby has forked (timeline $mine replayed up to $lsn, past $fork where $name left timeline $mine), but not rewinding yet: $name answers as primary, and of its other nodes only $others answer besides this one (a majority needs $need): stopping PostgreSQL for the rewind would make it fence itself. Rewinding once another node answers"
        return 0
      fi
      rm -f "$DEFER_MARKER"
      rewind_onto rejoin "$name" "$host" "$port" "$theirs" "$fork" "$mine" "$lsn" \
        "this standby has forked: timeline $mine replayed up to $lsn, past $fork where $name left timeline $mine; rewinding"
      return $?
    fi
  fi
  log "REPAIR: this standby does not stream and has not forked (timeline $mine at $lsn; $name on timeline $theirs): standby follow $name"
  follow "$name" "$id"
}

reconcile_witness() {
  local p name id host port up prim r
  look_primary
  p=$ROUND_PRIMARY
  [ -n "$p" ] || { rm -f "$PENDING_PREFIX"witness; unstick_repmgrd; return 0; }
  IFS="$ENTRY_SEP" read -r name id host port <<<"$p"
  # one question for both ("-" stands for none)
  r=$(q_local "select coalesce((select upstream_node_id::text from repmgr.nodes where node_id = $NODE_ID), '-') || ' ' || coalesce((select string_agg(node_id::text, ',') from repmgr.nodes where type = 'primary' and active), '-')" repmgr) || return 0
  read -r up prim <<<"$r"
  [ "$up" != - ] || up=""
  [ "$prim" != - ] || prim=""
  if [ "$up" = "$id" ] && [ "$prim" = "$id" ]; then
    clear_pending
    return 0
  fi
  persisting witness || { log "registered with node \${up:-none} (primary in its metadata: \${prim:-none}), but $name is the primary: repairing if this lasts \${GRACE}s"; return 0; }
  log "REPAIR: this witness is registered with node \${up:-none} (primary in its metadata: \${prim:-none}), but $name ($host) is the primary: witness register --force -h $host"
  repaired register_witness "$name" "$host" "$port"
}

register_witness() {
  local name=$1 host=$2 port=$3
  if ! repmgr_run 60 -h "$host" -p "$port" -U repmgr -d repmgr witness register --force; then
    log "witness register with $name failed"
    return 1
  fi
  log "witness registered with $name"
  clear_pending
}

# A node taken out of database.nodes (the primary unregistered it, membership.ts), or a lost host
# that came back after its node was rebuilt at another address: the cluster's node records (the
# current primary's, else this node's own copy) list other nodes but none with this node id at this
# address. Its repmgrd stops for good, so it never promotes, rejoins or re-registers (which would take
# the record back from the new host). A removed node keeps PostgreSQL running with its data; a
# replaced one has its PostgreSQL stopped too (it may be a stale primary), its data left in place.
# Returns 0 when removed (or being removed: nothing else is done this round), 1 when a member, 2
# when the primary is in sight but did not answer (nothing else is done this round either: this
# node's own copy of the records may be stale, and a repair could restart a node that was removed).
removed_from_cluster() {
  local sql r total mine moved p name id host port
  sql="select count(*) || ' ' || count(*) filter (where node_id = $NODE_ID and conninfo like '\${CONNINFO_LIKE:-host=$NODE_ADDRESS %}') || ' ' || count(*) filter (where node_id = $NODE_ID) from repmgr.nodes"
  look_primary
  p=$ROUND_PRIMARY
  if [ -n "$p" ]; then
    IFS="$ENTRY_SEP" read -r name id host port <<<"$p"
    r=$(q_peer "$host" "$port" "$sql") && [ -n "$r" ] || { log "the primary $name did not answer the membership query: looking again next round"; return 2; }
  else
    # No primary in sight: this node's own copy of the records (a lost host that came back).
    r=$(q_local "$sql" repmgr) || return 1
  fi
  read -r total mine moved <<<"$r"
  if [ "\${total:-0}" = 0 ] || [ "\${mine:-1}" != 0 ]; then
    rm -f "$PENDING_PREFIX"removed
    # CHECK_REMOVED=2 (Docker): a removal counts only once this node was seen registered (its image registers it after it starts).
    [ "\${mine:-0}" = 0 ] || [ -f "$REGISTERED_MARKER" ] || echo "$NODE_ID" >"$REGISTERED_MARKER"
    return 1
  fi
  if [ "$CHECK_REMOVED" = 2 ] && [ ! -f "$REGISTERED_MARKER" ]; then return 1; fi
  persisting removed 2 || { log "the cluster has no record of this node at $NODE_ADDRESS: stopping its repmgrd if that lasts 2 s"; return 0; }
  log "REMOVED: the cluster has no record of node id $NODE_ID at $NODE_ADDRESS (taken out of database.nodes, or rebuilt at another address): repmgrd stopped and disabled, this service stops"
  retire_repmgrd || log "could not stop repmgrd"
  if [ "\${moved:-0}" != 0 ]; then
    log "node id $NODE_ID is registered at another address now: PostgreSQL stopped and disabled as well (its data stays in $DATA_DIR)"
    svc_stop || log "could not stop $SERVICE"
    svc_disable || log "could not disable $SERVICE"
  fi
  date -u '+%FT%TZ' >"$REMOVED_MARKER"
  return 0
}

reconcile_once() {
  local active=0 settled=0 rec=""
  ROUND_LOOKED=0
  if [ -f "$REMOVED_MARKER" ]; then return 0; fi
  # PostgreSQL looked at once a round: running, the node settled, a data node's role (t: standby, f: primary)
  node_state
  if [ "$NODE_STATE" -ge 1 ]; then
    active=1
    if [ "$NODE_STATE" = 2 ]; then
      settled=1
      [ "$ROLE" != data ] || rec=$(q_local "select pg_is_in_recovery()") || rec=""
    fi
  fi
  # A data node that is the primary: the fence check first (the other nodes asked at once), and
  # alone while it sees no majority: every other check waits out connect_timeout for each node it
  # cannot reach.
  if [ "$FENCING" = 1 ] && [ "$rec" = f ] && [ ! -f "$FENCE_MARKER" ]; then
    fence_if_isolated
    [ ! -f "$PENDING_PREFIX"isolated ] || return 0
  fi
  if [ "$CHECK_REMOVED" = 1 ]; then
    removed_from_cluster
    [ $? = 1 ] || return 0
  fi
  if [ "$active" = 0 ]; then
    if [ "$ROLE" = data ] && [ -f "$FENCE_MARKER" ]; then reconcile_fenced; fi
    return 0
  fi
  if [ -f "$FENCE_MARKER" ]; then
    log "PostgreSQL runs again (fenced since $(cat "$FENCE_MARKER" 2>/dev/null)): fence lifted"
    rm -f "$FENCE_MARKER"
    fence_release
  fi
  [ "$settled" = 1 ] || return 0
  # Docker: looked at once the image has started the node (it registers it then)
  if [ "$CHECK_REMOVED" = 2 ]; then
    removed_from_cluster
    [ $? = 1 ] || return 0
  fi
  if [ "$ROLE" = witness ]; then
    reconcile_witness
    return $?
  fi
  if [ "$rec" = f ]; then
    rm -f "$PENDING_PREFIX"upstream "$PENDING_PREFIX"receiver
    reconcile_primary || return $?
  elif [ "$rec" = t ]; then
    reconcile_standby
  fi
}

`;

/** The override hook and the loop: after the definitions (and a flavour's redefinitions). */
const MAIN = String.raw`
if [ -n "\${EMS_HA_RECONCILE_OVERRIDES:-}" ]; then
  # shellcheck source=/dev/null
  . "$EMS_HA_RECONCILE_OVERRIDES"
fi
mkdir -p "$STATE_DIR"
if [ "\${1:-}" = "--once" ]; then
  reconcile_once
  exit $?
fi
log "reconciling $ROLE node $NODE_NAME against: \${PEERS[*]//"$ENTRY_SEP"/ } (every \${INTERVAL}s, repairs after \${GRACE}s)"
while true; do
  reconcile_once || true
  if [ -f "$REMOVED_MARKER" ]; then
    log "removed from the cluster on $(cat "$REMOVED_MARKER"): nothing left to reconcile"
    systemctl disable ems-ha-reconcile 2>/dev/null || true
    exit 0
  fi
  # a primary that sees no majority looks again soon: its fence must not wait a whole interval more
  if [ -f "$PENDING_PREFIX"isolated ] && [ ! -f "$FENCE_MARKER" ]; then sleep 1; else sleep "$INTERVAL"; fi
done
`;

/**
 * The whole script: `header` (shebang, settings, PEERS, WITNESSES), the shared definitions,
 * `flavour` (bash that redefines some of them, e.g. for Docker hosts), then the override hook
 * and the loop.
 */
export function reconcileScriptText(header: ReadonlyArray<string>, flavour: string): string {
  const body = [FUNCTIONS, flavour, MAIN].map((part) => unescapeBash(part).replace(/^\n/, "").replace(/\n*$/, "\n")).filter((part) => part.trim() !== "");
  return header.join("\n") + "\n" + body.join("\n");
}

export function renderReconcileScript(d: Deployment, self: NativeMember): string {
  const s = nativeSettings(d);
  const l = nativeLayout(s.pgVersion);
  const header = [
    "#!/bin/bash",
    sh`# ems-ha reconciliation service of ${self.name}: repairs a stale primary, a forked or misattached standby, a stale witness.`,
    "# Managed by ems-ha (native-single-region); usage: ems-ha-reconcile [--once]",
    "set -uo pipefail",
    "cd /",
    shellVars({
      NODE_NAME: self.name,
      NODE_ID: self.nodeId,
      NODE_ADDRESS: self.address,
      // a node taken out of database.nodes retires itself (removed_from_cluster)
      CHECK_REMOVED: 1,
      ROLE: self.role,
      PG_PORT: self.port,
      BINDIR: l.bindir,
      SERVICE: l.service,
      REPMGR_CONF: l.repmgrConf,
      DATA_DIR: l.dataDir,
      CONF_DIR: l.confDir,
      STATE_DIR: l.stateDir,
      CONNECT_TIMEOUT: connectTimeout(d),
      INTERVAL: s.reconcileIntervalSeconds,
      GRACE: graceSeconds(d),
      FENCING: fencingEnabled(d),
      FENCE_AFTER: FENCE_AFTER_SECONDS,
      ELECT: electionRepairEnabled(d),
      ELECT_AFTER: electAfterSeconds(d),
      VALIDATE: l.validateFailoverScript,
      VALIDATE_TIMEOUT: failoverValidationBoundSeconds(d),
      MAX_ATTEMPTS: MAX_REJOIN_ATTEMPTS,
      UNSTICK_AFTER: UNSTICK_AFTER_SECONDS,
      UNSTICK_SILENT_AFTER: UNSTICK_SILENT_AFTER_SECONDS,
      UNSTICK_WHY_HUNG: UNSTICK_REASONS.hung,
      UNSTICK_WHY_SILENT: UNSTICK_REASONS.silent,
      // the separator of the fields of a PEERS / WITNESSES entry
      ENTRY_SEP: " ",
    }),
    shellArray("PEERS", peerEntries(d, self)),
    shellArray("WITNESSES", witnessEntries(d, self)),
  ];
  return reconcileScriptText(header, "");
}

export function reconcileUnitSections(pgVersion = 15): UnitSection[] {
  const l = nativeLayout(pgVersion);
  return [
    {
      name: "Unit",
      directives: [
        ["Description", "ems-ha reconciliation: repairs a stale primary, a forked or misattached standby, a stale witness"],
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
