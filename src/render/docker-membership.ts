/**
 * Cluster membership in the ssh engine's container script (src/render/docker-cli.ts): what keeps
 * adding, removing and replacing a DB node of a running Docker cluster safe when database.nodes
 * changes (docs/operations.md, "Replacing, adding and removing DB nodes (Docker)").
 *
 * - check_membership (every node whose container runs, before its volume or container is touched):
 *   asks the current primary (found among the running container's partners) for the cluster's node
 *   records and refuses a change that gives this registered node another repmgr node id, or drops
 *   the current primary from the deployment. The initial primary's step runs first in the chain, so
 *   a refused change stops the apply before any container is replaced.
 * - check_fresh_primary (the initial primary's step, when neither its volume nor its container
 *   exists): refuses to create it while other data nodes answer but none as the primary, since its
 *   image would then initialise a second cluster (REPMGR_PRIMARY_HOST without data).
 * - pause_members: when `repmgr service pause` fails because a node no longer answers under the
 *   address its partners know (a node rebuilt at a new address), every member is paused at its
 *   address in the deployment instead; members that do not answer at all are skipped (their
 *   repmgrd cannot promote without their PostgreSQL).
 * - unregister_removed (a data node's step, once its container answers as the primary): the
 *   repmgr records of nodes no longer in the deployment are unregistered and their replication
 *   slots dropped. The removed host's reconciliation service then sees that its record is gone and
 *   stops its container for good (restart policy "no", volume kept): src/render/docker-reconcile.ts.
 *
 * Node ids: without nodeId the image derives a node's id from the number in its name
 * (docs/background.md), so inserting or removing a node renumbers nobody.
 */
import { repmgrNodeId } from "../config/derive";
import type { DbNodeConfig, Deployment } from "../config/schema";
import { sh, UnsafeValueError, words } from "./escape";
import { STATE_DIR } from "./native/layout";

/** A member of the cluster as the script needs it. */
export interface DockerMember {
  readonly name: string;
  readonly address: string;
  readonly nodeId: number;
  readonly role: DbNodeConfig["role"];
}

export interface DockerMembership {
  /** This node's repmgr node id. */
  readonly nodeId: number;
  /** Every DB node of the deployment. */
  readonly members: ReadonlyArray<DockerMember>;
  /** database.port */
  readonly port: number;
}

/** File on the DB host with the reasons of a refused membership change (Terraform may hide a step's output). */
export const MEMBERSHIP_REFUSED_FILE = `${STATE_DIR}/membership-refused`;

/** The variables of the membership functions (shell assignments). */
export function membershipVars(m: DockerMembership): string[] {
  return [
    sh`MY_ID=${String(m.nodeId)}`,
    // space-separated, with a space at each end (is_member_id matches " ID ")
    sh`MEMBER_IDS=${["", ...m.members.map((x) => x.nodeId), ""].join(" ")}`,
    sh`MEMBER_ADDRS=(${words(m.members.map((x) => `${x.address}:${m.port}`))})`,
    sh`REFUSED_FILE=${MEMBERSHIP_REFUSED_FILE}`,
    sh`OTHER_DATA_ADDRS=(${words(m.members.filter((x) => x.role === "data" && x.nodeId !== m.nodeId).map((x) => `${x.address}:${m.port}`))})`,
  ];
}

/**
 * psql as the repmgr user, run inside a container of the image: the password and user from the
 * container's environment (or its env file), a bounded connect; host, port and query follow.
 */
const REPMGR_PSQL = 'PGPASSWORD="$REPMGR_PASSWORD" PGCONNECT_TIMEOUT=3 psql -X -qtA -U "${REPMGR_USERNAME:-repmgr}" -d "${REPMGR_DATABASE:-repmgr}"';

/**
 * The bash functions (need: NAME, fail, log, running, repmgr_in). SQL runs inside the container
 * as the repmgr user with the password from the container's own environment.
 */
export const DOCKER_MEMBERSHIP_LIB = String.raw`
is_member_id() { case "$MEMBER_IDS" in *" $1 "*) return 0 ;; esac; return 1; }
# The cluster's node records ("id|name|type|active" lines) from the partner that is the registered active primary.
cluster_records() {
  docker exec "$NAME" bash -c 'for e in ${"$"}{REPMGR_PARTNER_NODES//[,;]/ }; do h=${"$"}{e%%:*}; p=${"$"}{REPMGR_PRIMARY_PORT:-5432}; [ "$h" = "$e" ] || p=${"$"}{e##*:}; r=$(printf "%s\n" "select node_id, node_name, type, active from repmgr.nodes where not pg_is_in_recovery() and exists (select 1 from repmgr.nodes where type = '"'"'primary'"'"' and active and node_name = :'"'"'h'"'"') order by node_id;" | ${REPMGR_PSQL} -F "|" -v h="$h" -h "$h" -p "$p" 2>/dev/null) || continue; [ -n "$r" ] && { printf "%s\n" "$r"; exit 0; }; done; exit 0'
}
# Refuses, before anything is touched, a change of database.nodes that the registered cluster cannot follow.
check_membership() {
  running || return 0
  local recs r id name type active bad=()
  mapfile -t recs < <(cluster_records || true)
  for r in "${"$"}{recs[@]}"; do
    IFS='|' read -r id name type active <<<"$r"
    [ -n "$id" ] || continue
    if [ "$name" = "$NAME" ] && [ "$id" != "$MY_ID" ]; then
      bad+=("$NAME is registered with repmgr node id $id, but the deployment now gives it id $MY_ID: set database.nodes[name=$NAME].nodeId to $id")
    elif [ "$type" = primary ] && [ "$active" = t ] && ! is_member_id "$id"; then
      bad+=("$name (repmgr node id $id) is the current primary and is no longer in database.nodes: switch over to a data node that stays (ems-ha switchover --to NAME), then apply again")
    fi
  done
  [ ${"$"}{#bad[@]} -eq 0 ] || refuse "${"$"}{bad[@]}"
  rm -f "$REFUSED_FILE"
}
refuse() {
  mkdir -p "$(dirname "$REFUSED_FILE")"
  printf '%s\n' "$@" >"$REFUSED_FILE"
  local r
  for r in "$@"; do echo "ems-ha $NAME: REFUSED: $r" >&2; done
  fail "the change is refused (reasons in $REFUSED_FILE on this host); nothing was changed"
}
# The initial primary (REPMGR_PRIMARY_HOST) about to be created without data: its image initialises
# a new cluster unless it finds a primary among its partners. When other data nodes answer (the
# cluster exists) but none answers as the primary, that would be a second cluster: refused. Asked
# from a throwaway container of the image (psql as the repmgr user, the password from the env file).
check_fresh_primary() {
  [ ${"$"}{#OTHER_DATA_ADDRS[@]} -gt 0 ] || return 0
  local r answering primaries
  r=$(docker run --rm --network host --env-file "$ENV_FILE" --entrypoint bash "$IMAGE" -c 'a=0; p=0; for x in "$@"; do r=$(${REPMGR_PSQL} -h "${"$"}{x%:*}" -p "${"$"}{x##*:}" -c "select pg_is_in_recovery()" 2>/dev/null) || continue; a=$((a + 1)); [ "$r" = f ] && p=$((p + 1)); done; echo "$a $p"' _ "${"$"}{OTHER_DATA_ADDRS[@]}") ||
    fail "could not ask the other data nodes from a throwaway $IMAGE container; nothing was changed"
  read -r answering primaries <<<"$r"
  [ "${"$"}{answering:-0}" != 0 ] || return 0
  if [ "${"$"}{primaries:-0}" -ge 1 ]; then log "$NAME has no data: its image clones it from the primary among its partners"; return 0; fi
  refuse "$NAME is the initial primary (REPMGR_PRIMARY_HOST) and has no data, and $answering other data node(s) answer but none as the primary: its image would initialise a second cluster. Make a data node primary first (ems-ha status; ems-ha promote NODE), then apply again"
}
# repmgrd paused on every member: repmgr service pause, else each member at its address in the deployment.
pause_members() {
  repmgr_in service pause >/dev/null 2>&1 && return 0
  log "repmgr service pause failed (a node does not answer where its partners look for it): pausing every member at its address instead"
  docker exec "$NAME" bash -c 'rc=0; for a in "$@"; do h=${"$"}{a%:*}; p=${"$"}{a##*:}; ${REPMGR_PSQL} -h "$h" -p "$p" -c "select repmgr.repmgrd_pause(true)" >/dev/null 2>&1; s=$?; if [ $s = 2 ]; then echo "$h does not answer: skipped (its repmgrd cannot promote without its PostgreSQL)"; elif [ $s != 0 ]; then rc=1; fi; done; exit $rc' _ "${"$"}{MEMBER_ADDRS[@]}"
}
# On the primary: the records of nodes no longer in the deployment unregistered, their slots dropped.
unregister_removed() {
  [ "$(in_pg "select pg_is_in_recovery()" || true)" = f ] || return 0
  local recs r id name type active
  mapfile -t recs < <(docker exec "$NAME" bash -c '${REPMGR_PSQL} -F "|" -h 127.0.0.1 -p "${"$"}{POSTGRESQL_PORT_NUMBER:-5432}" -c "$1"' _ "select node_id, node_name, type, active from repmgr.nodes order by node_id" || true)
  for r in "${"$"}{recs[@]}"; do
    IFS='|' read -r id name type active <<<"$r"
    [ -n "$id" ] || continue
    is_member_id "$id" && continue
    # an inactive primary record (a failed-over primary's), a standby's or a witness's (--force: the witness is not asked)
    [ "$type" != primary ] || [ "$active" = f ] || fail "$name (node id $id) is registered as an active primary but is no longer in database.nodes: not unregistered"
    local extra=()
    [ "$type" != witness ] || extra=(--force)
    [[ " primary standby witness " == *" $type "* ]] || { log "WARNING: $name (node id $id) has record type $type: left registered"; continue; }
    repmgr_in "$type" unregister --node-id "$id" "${"$"}{extra[@]}" >/dev/null
    log "unregistered $name (repmgr node id $id, $type): it is no longer in database.nodes; its host's reconciliation service stops its container, its volume stays"
    drop_slot "$id" "$name"
  done
}
# Ends the walsender of a removed node and drops its replication slot (bounded): the primary would keep WAL for it for ever.
drop_slot() {
  local slot="repmgr_slot_$1" i
  for i in $(seq 1 10); do
    if [ "$(in_pg "select count(*) from pg_replication_slots where slot_name = '$slot'" || true)" != 1 ]; then
      [ "$i" = 1 ] || log "dropped replication slot $slot of $2"
      return 0
    fi
    in_pg "select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = '$slot' and active" >/dev/null || true
    sleep 1
    in_pg "select pg_drop_replication_slot('$slot')" >/dev/null || true
  done
  echo "ems-ha $NAME: WARNING: could not drop replication slot $slot of $2 (select * from pg_replication_slots): drop it by hand once $2 has stopped" >&2
}
`;

/** The membership of `node`'s script: the deployment's DB nodes with their repmgr node ids. */
export function dockerMembership(d: Deployment, node: DbNodeConfig): DockerMembership {
  const id = (n: DbNodeConfig): number => {
    const v = repmgrNodeId(n);
    if (v === undefined)
      throw new UnsafeValueError(
        `node ${JSON.stringify(n.name)}: its repmgr node id cannot be derived; name it like pg-1 (a trailing -<number>) or set nodeId`,
      );
    return v;
  };
  return {
    nodeId: id(node),
    port: d.database.port,
    members: d.database.nodes.map((n) => ({ name: n.name, address: n.address, nodeId: id(n), role: n.role })),
  };
}
