/**
 * repmgrd's `failover_validation_command`: a check the election's winner runs before it promotes
 * itself (docs/reliability.md#two-standbys-promoted-at-once). repmgrd's election counts a sibling
 * standby it could not reach within `connect_timeout` as absent; on a loaded host two standbys can
 * each miss the other and both promote. This script asks every other data node again, with a longer
 * timeout and a second try, and refuses the promotion (repmgrd then runs the election again after
 * `election_rerun_interval`, and follows a node that has become primary meanwhile) when:
 *
 * - another data node answers as primary;
 * - another standby answers whose repmgrd runs and that ranks above this node by repmgr's own
 *   order (highest received LSN, then highest priority, then lowest node id; priority 0 never);
 * - a standby does not answer in time at all (a timeout, no route), the first time: a node that is
 *   only slow answers by the rerun. If the same standbys still do not answer at the next election,
 *   they are taken as down and the node promotes (a real double failure must still fail over).
 *   A standby whose host refuses the connection, or whose server says it is starting or shutting
 *   down, runs no PostgreSQL that could promote itself: it is taken as down at once.
 *
 * One script for both topologies; where it connects and where it keeps its one line of state are
 * parameters.
 */
import { dataNodes, failoverTiming, failoverWindowSeconds, witnessNodes } from "../config/derive";
import type { Deployment } from "../config/schema";
import { CANDIDATE_RANK_INCLUDE } from "./candidate-rank";
import { sh } from "./escape";
import { unescapeBash, shellVars } from "./native/shell";

export interface FailoverValidationOptions {
  /** psql binary. */
  readonly psql: string;
  /** This node's server: the port, and a socket directory or host (absent: libpq's default socket). */
  readonly localPort: number;
  readonly localHost?: string;
  /** Role for the local connection (absent: the OS user repmgrd runs as). */
  readonly localUser?: string;
  /** Seconds to wait for the failed primary (asked once: is it back as primary?). */
  readonly primaryTimeoutSeconds: number;
  /** Seconds per try for another standby, and how many tries. */
  readonly peerTimeoutSeconds: number;
  readonly peerTries: number;
  /** File (writable by repmgrd's user) where a refusal for standbys that did not answer is remembered. */
  readonly stateFile: string;
  /** How long that refusal counts: the next election after it (a rerun) must fall inside. */
  readonly stateMaxAgeSeconds: number;
  /**
   * How long a claim on a witness stops another node's promotion: long enough for the claimer to
   * promote and the witness to record it, after which the witness's records speak.
   */
  readonly claimTtlSeconds: number;
}

/**
 * repmgr.conf's value: repmgrd replaces %n with the candidate's (this node's) id. `viaBash` runs
 * the script through bash (a bind-mounted file whose host file system may be mounted noexec).
 */
export function failoverValidationCommand(scriptPath: string, viaBash = false): string {
  return viaBash ? sh`/bin/bash ${scriptPath} %n` : sh`${scriptPath} %n`;
}

/**
 * Where a witness records the claims to succeed a failed primary (in its `repmgr` database;
 * columns failed_node, claimer, claimed_at). The script creates it on first use; `ems-ha status`
 * reads it.
 */
export const PROMOTION_CLAIM_TABLE = "public.ems_ha_promotion_claim";

/**
 * Seconds a claim on a witness holds: repmgr's promote_check_timeout (60 s, how long `standby
 * promote` waits for the promotion), the witness's witness_sync_interval (15 s, after which its
 * records show the new primary), and a margin.
 */
export const CLAIM_TTL_SECONDS = 120;

/**
 * Seconds a claim counts when its node answers as a standby: long enough for a promotion under way
 * (repmgr's pg_promote returns in about a second), short enough that an earlier failover's claim
 * does not hold up the next one.
 */
export const CLAIM_STANDBY_GRACE_SECONDS = 30;

/** The timeouts a deployment's failover timing gives the script. */
export function failoverValidationTiming(
  d: Deployment,
): Pick<FailoverValidationOptions, "primaryTimeoutSeconds" | "peerTimeoutSeconds" | "peerTries" | "stateMaxAgeSeconds" | "claimTtlSeconds"> {
  const timing = failoverTiming(d);
  const ct = timing.connectTimeoutSeconds;
  const peerTimeoutSeconds = Math.max(5, 2 * ct);
  const peerTries = 2;
  // repmgr's election_rerun_interval, then its failover window again, then this script's own asking.
  const stateMaxAgeSeconds = timing.electionRerunIntervalSeconds + failoverWindowSeconds(d) + dataNodes(d).length * peerTries * (peerTimeoutSeconds + 10) + 60;
  return { primaryTimeoutSeconds: ct, peerTimeoutSeconds, peerTries, stateMaxAgeSeconds, claimTtlSeconds: CLAIM_TTL_SECONDS };
}

/**
 * Seconds the script may take at most with a deployment's timing: its four local questions (20 s
 * each), every other data node asked with its tries and every witness with its questions (each
 * bounded at its timeout and 10 s), and a margin. The reconciliation service bounds its own call with it.
 */
export function failoverValidationBoundSeconds(d: Deployment): number {
  const t = failoverValidationTiming(d);
  const others = dataNodes(d).length - 1;
  const witnesses = witnessNodes(d).length;
  // a witness: its records (one try), the claim's four questions (at most six tries)
  return 4 * 20 + others * t.peerTries * (t.peerTimeoutSeconds + 10) + witnesses * 7 * (t.peerTimeoutSeconds + 10) + 30;
}

export function renderFailoverValidationScript(o: FailoverValidationOptions): string {
  const header = [
    "#!/bin/bash",
    "# Managed by ems-ha: repmgrd's failover_validation_command (docs/reliability.md#two-standbys-promoted-at-once).",
    "# Usage: ems-ha-validate-failover NODE_ID (repmgrd passes %n, this node's id). Exit 0: promote.",
    "set -uo pipefail",
    shellVars({
      PSQL: o.psql,
      LOCAL_PORT: o.localPort,
      LOCAL_HOST: o.localHost ?? "",
      LOCAL_USER: o.localUser ?? "",
      PRIMARY_TIMEOUT: o.primaryTimeoutSeconds,
      PEER_TIMEOUT: o.peerTimeoutSeconds,
      PEER_TRIES: o.peerTries,
      STATE_FILE: o.stateFile,
      STATE_MAX_AGE: o.stateMaxAgeSeconds,
      CLAIM_TABLE: PROMOTION_CLAIM_TABLE,
      CLAIM_TTL: o.claimTtlSeconds,
      CLAIM_STANDBY_GRACE: CLAIM_STANDBY_GRACE_SECONDS,
    }),
  ].join("\n");
  return header + "\n" + unescapeBash(BODY);
}

const BODY = String.raw`
SEP=$'\x1f'
NODE_ID=\${1:-}
[[ $NODE_ID =~ ^[0-9]+$ ]] || { echo "usage: ems-ha-validate-failover NODE_ID (got '$NODE_ID')"; exit 2; }
# repmgrd reads only the first line of this command's output and then closes the pipe: a second
# line would meet a closed pipe (SIGPIPE, exit 141, which repmgrd takes as a veto). So the script
# prints one line, at the end (say), with what it noted on the way; and a write to a closed pipe
# fails instead of killing it.
trap '' PIPE
NOTES=""
note() { NOTES+="$*; "; }
say() { printf '%s%s\n' "$NOTES" "$*"; }
# psql's error of the last question to a peer (what kind of failure it was)
ERR_FILE=$(mktemp 2>/dev/null) || ERR_FILE=/dev/null
trap '[ "$ERR_FILE" = /dev/null ] || rm -f "$ERR_FILE"' EXIT
# The image passes the repmgr password in the environment (natively: ~postgres/.pgpass).
if [ -z "\${PGPASSWORD:-}" ] && [ -n "\${REPMGR_PASSWORD:-}" ]; then export PGPASSWORD=$REPMGR_PASSWORD; fi

q_local() {
  local args=(-X -qAt -v ON_ERROR_STOP=1 -F "$SEP" -p "$LOCAL_PORT" -d repmgr)
  [ -z "$LOCAL_HOST" ] || args+=(-h "$LOCAL_HOST")
  [ -z "$LOCAL_USER" ] || args+=(-U "$LOCAL_USER")
  timeout 20 "$PSQL" "\${args[@]}" -c "$1" 2>/dev/null
}

# one keyword's value of a conninfo (unquoted values only: the toolkit and the image write no others)
conn_key() {
  [[ " $2 " =~ [[:space:]]$1=([^[:space:]\']+)[[:space:]] ]] || return 1
  printf '%s' "\${BASH_REMATCH[1]}"
}

# ask a peer: conninfo, seconds per try, tries, SQL. Returns 0 when it answered (the answer printed);
# 1 when no PostgreSQL serves there (its host refused the connection, or the server said it is
# starting or shutting down): nothing there can promote itself now; 2 when nothing answered in time
# (a timeout, no route): slow or cut off, it may be running and electing itself.
q_peer() {
  local ci=$1 t=$2 n=$3 sql=$4 host port user pw pf i out env
  host=$(conn_key host "$ci") || return 2
  port=$(conn_key port "$ci") || port=5432
  user=$(conn_key user "$ci") || user=repmgr
  env=(LC_ALL=C PGHOST="$host" PGPORT="$port" PGUSER="$user" PGDATABASE=repmgr PGCONNECT_TIMEOUT="$t")
  if pw=$(conn_key password "$ci"); then env+=(PGPASSWORD="$pw"); fi
  if pf=$(conn_key passfile "$ci"); then env+=(PGPASSFILE="$pf"); fi
  for ((i = 1; i <= n; i++)); do
    if out=$(env "\${env[@]}" timeout $((t + 10)) "$PSQL" -X -qAt -v ON_ERROR_STOP=1 -F "$SEP" -c "$sql" 2>"$ERR_FILE"); then
      printf '%s\n' "$out"
      return 0
    fi
    case $(cat "$ERR_FILE" 2>/dev/null) in
      *"Connection refused"* | *"database system is starting up"* | *"database system is shutting down"* | *"not yet accepting connections"*) return 1 ;;
    esac
  done
  return 2
}

${CANDIDATE_RANK_INCLUDE}
# The witnesses arbitrate between standbys that cannot reach each other, just before this node
# promotes (docs/reliability.md#two-standbys-promoted-at-once). Each witness that answers is asked
# whether its records (synced from the primary by its repmgrd) name another primary since the
# failed one, other than a node that answered this script as a standby; then it records this
# node's claim to succeed the failed primary, unless another node's claim younger than CLAIM_TTL
# seconds is there (one INSERT ... ON CONFLICT: of two claims at once, one wins); a claim whose
# node answered this script as a standby counts only CLAIM_STANDBY_GRACE seconds (it did not
# promote: an earlier failover's). No witness
# answering: nothing to arbitrate with; the promotion goes on. Exits 1 on a refusal, 0 otherwise
# (the verdict, $1, said).
promote_after_witnesses() {
  local wid wname wci ans rc others o holder age seen
  # the nodes that answered as standbys, as an SQL list
  seen=$(printf '%s,' $standbys)
  seen=\${seen%,}
  while IFS="$SEP" read -r wid wname wci; do
    [ -n "$wid" ] || continue
    ans=$(q_peer "$wci" "$PEER_TIMEOUT" 1 "select coalesce(string_agg(node_id::text, ' '), '') from repmgr.nodes where active and type = 'primary' and node_id not in ($failed, $NODE_ID)")
    rc=$?
    if [ "$rc" -ne 0 ]; then
      note "witness $wname did not answer: no arbitration there"
      continue
    fi
    others=""
    for o in $ans; do [[ $standbys == *" $o "* ]] || others+="$o "; done
    if [ -n "$others" ]; then
      say "witness $wname's records name node \${others% } as primary since node $failed, and it did not answer this node as a standby: not promoting this node (if that node is gone, promote by hand)"
      exit 1
    fi
    ans=$(q_peer "$wci" "$PEER_TIMEOUT" 2 "create table if not exists $CLAIM_TABLE (failed_node integer primary key, claimer integer not null, claimed_at timestamptz not null)" >/dev/null &&
      q_peer "$wci" "$PEER_TIMEOUT" 2 "insert into $CLAIM_TABLE as c values ($failed, $NODE_ID, now()) on conflict (failed_node) do update set claimer = excluded.claimer, claimed_at = excluded.claimed_at where c.claimer = excluded.claimer or c.claimed_at < now() - make_interval(secs => $CLAIM_TTL) or (c.claimer in (\${seen:-0}) and c.claimed_at < now() - make_interval(secs => $CLAIM_STANDBY_GRACE))" >/dev/null &&
      q_peer "$wci" "$PEER_TIMEOUT" 1 "select claimer, extract(epoch from now() - claimed_at)::bigint from $CLAIM_TABLE where failed_node = $failed")
    rc=$?
    if [ "$rc" -ne 0 ]; then
      note "witness $wname did not take a claim: no arbitration there"
      continue
    fi
    IFS="$SEP" read -r holder age <<<"$ans"
    if [ "$holder" != "$NODE_ID" ]; then
      say "node $holder claimed the succession of node $failed on witness $wname \${age}s ago: not promoting this node"
      exit 1
    fi
    # this node is about to be primary: a claim to succeed it is an earlier failover's (a node that
    # was primary before, failed over, and is promoted again now)
    q_peer "$wci" "$PEER_TIMEOUT" 1 "delete from $CLAIM_TABLE where failed_node = $NODE_ID" >/dev/null ||
      note "witness $wname: an earlier claim to succeed this node could not be removed"
    note "claimed the succession of node $failed on witness $wname"
  done <<<"$witnesses"
  rm -f "$STATE_FILE"
  say "$1"
  exit 0
}

mine=$(q_local "select coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())") && [ -n "$mine" ] ||
  { say "this node's own server gives no WAL position: not promoting"; exit 1; }
mine_prio=$(q_local "select priority from repmgr.nodes where node_id = $NODE_ID") && [ -n "$mine_prio" ] ||
  { say "node $NODE_ID is not in this node's repmgr.nodes: not promoting"; exit 1; }
rows=$(q_local "select node_id, node_name, type, priority, conninfo from repmgr.nodes where active and type in ('primary', 'standby') and node_id <> $NODE_ID order by node_id") ||
  { say "this node's repmgr.nodes cannot be read: not promoting"; exit 1; }
witnesses=$(q_local "select node_id, node_name, conninfo from repmgr.nodes where active and type = 'witness' order by node_id") ||
  { say "this node's repmgr.nodes cannot be read: not promoting"; exit 1; }

missing=()
# the primary this node's records name (the failed one), and the nodes that answered as standbys
failed=0
standbys=" "
while IFS="$SEP" read -r id name type prio ci; do
  [ -n "$id" ] || continue
  [ "$type" != primary ] || failed=$id
  if [ "$type" = primary ]; then t=$PRIMARY_TIMEOUT n=1; else t=$PEER_TIMEOUT n=$PEER_TRIES; fi
  ans=$(q_peer "$ci" "$t" "$n" "select pg_is_in_recovery(), coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), repmgr.repmgrd_is_running()")
  rc=$?
  if [ "$rc" -ne 0 ]; then
    # the failed primary is expected not to answer
    if [ "$type" = primary ]; then continue; fi
    if [ "$rc" -eq 1 ]; then
      note "standby $name runs no PostgreSQL now (connection refused, or starting or stopping): taken as down"
    else
      missing+=("$name")
    fi
    continue
  fi
  IFS="$SEP" read -r rec lsn running <<<"$ans"
  [ "$rec" != t ] || standbys+="$id "
  if [ "$rec" = f ]; then
    say "$name (node $id) answers as primary: not promoting this node (repmgrd follows it)"
    exit 1
  fi
  [ "$rec" = t ] && [ -n "$lsn" ] && [ "\${prio:-0}" -gt 0 ] && [ "$running" = t ] || continue
  if ranks_above "$lsn" "$prio" "$id" "$mine" "$mine_prio" "$NODE_ID"; then
    say "$name (node $id, LSN $lsn, priority $prio) ranks above this node (LSN $mine, priority $mine_prio): not promoting this node"
    exit 1
  fi
done <<<"$rows"

if [ "\${#missing[@]}" -gt 0 ]; then
  absent="\${missing[*]}"
  now=$(date +%s)
  if read -r at was <"$STATE_FILE" 2>/dev/null && [ "$was" = "$absent" ] && [[ $at =~ ^[0-9]+$ ]] && [ $((now - at)) -le "$STATE_MAX_AGE" ]; then
    promote_after_witnesses "standby $absent still does not answer at this second election: taken as down; promoting (LSN $mine, priority $mine_prio)"
  fi
  if ! printf '%s %s\n' "$now" "$absent" >"$STATE_FILE" 2>/dev/null; then
    promote_after_witnesses "standby $absent did not answer, and $STATE_FILE cannot be written to wait for a second election: promoting (LSN $mine, priority $mine_prio)"
  fi
  say "standby $absent did not answer within $PEER_TRIES x \${PEER_TIMEOUT}s: not promoting this time; if it still does not answer at repmgrd's next election, promoting then"
  exit 1
fi
promote_after_witnesses "no other data node answers as primary and no standby ranks above this node (LSN $mine, priority $mine_prio): promoting"
`;
