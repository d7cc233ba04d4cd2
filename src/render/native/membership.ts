/**
 * Cluster membership in the native setup scripts: what keeps adding, removing and replacing a
 * node safe when the deployment's list of nodes changes (docs/operations.md#adding-removing-and-replacing-db-nodes).
 *
 * - check_membership (every node, before any file is written): refuses a change that would give a
 *   registered node another repmgr node id, hand a registered id to another node, or drop the
 *   current primary from the deployment.
 * - check_clone_source (a new or rebuilt data node, before it clones): refuses to clone while the
 *   cluster is degraded in a way that could pick the wrong source: several data nodes answer as
 *   primary, or the one that answers is not the registered active primary.
 * - unregister_removed (the current primary's setup): unregisters the repmgr records of nodes no
 *   longer in the deployment, lets a removed standby receive that, then drops its replication slot.
 *   The removed host keeps its data; its reconciliation service stops its repmgrd
 *   (reconcile.ts, removed_from_cluster).
 */
import type { Deployment } from "../../config/schema";
import { nativeMembers } from "./layout";
import { shellVars } from "./shell";

/** MEMBER_IDS: the repmgr node ids of every member, space-separated. */
export function memberIdsLine(d: Deployment): string {
  return shellVars({
    MEMBER_IDS: nativeMembers(d)
      .map((m) => m.nodeId)
      .join(" "),
  });
}

/** The bash functions (need the setup library: log, die, q_local, q_peer, find_primary, as_pg). */
export const MEMBERSHIP_LIB = String.raw`
is_member_id() { case " $MEMBER_IDS " in *" $1 "*) return 0 ;; esac; return 1; }

# The cluster's node records as "id|name|type|active" lines: from the primary among the peers, else
# from this node's own copy (a standby's is replicated, a witness's is copied by its repmgrd); none on a new host.
cluster_records() {
  local sql="select node_id, node_name, type, active from repmgr.nodes order by node_id" p name host port
  p=$(find_primary "\${PEERS[@]}")
  if [ -n "$p" ]; then
    read -r name host port <<<"$p"
    q_peer "$host" "$port" "$sql" && return 0
  fi
  q_local repmgr "$sql" 2>/dev/null || true
}

# Refuses, before anything is written, a change of database.nodes that registered nodes cannot follow.
check_membership() {
  local recs r id name type active bad=()
  mapfile -t recs < <(cluster_records)
  for r in "\${recs[@]}"; do
    IFS='|' read -r id name type active <<<"$r"
    [ -n "$id" ] || continue
    if [ "$id" = "$NODE_ID" ] && [ "$name" != "$NODE_NAME" ]; then
      bad+=("repmgr node id $id is registered to $name, but the deployment now gives it to $NODE_NAME (without nodeId, ids follow the position in database.nodes: inserting or removing a node renumbers the ones after it). Give every node its registered id with database.nodes[].nodeId (repmgr cluster show lists them)")
    elif [ "$name" = "$NODE_NAME" ] && [ "$id" != "$NODE_ID" ]; then
      bad+=("$NODE_NAME is registered with repmgr node id $id, but the deployment now gives it id $NODE_ID (without nodeId, ids follow the position in database.nodes). Set its nodeId to $id")
    elif [ "$type" = primary ] && [ "$active" = t ] && ! is_member_id "$id"; then
      bad+=("$name (repmgr node id $id) is the current primary and is no longer in database.nodes: switch over to a data node that stays (ems-ha switchover --to NAME), then apply again")
    fi
  done
  if [ \${#bad[@]} -gt 0 ]; then
    # Terraform hides the output of steps that carry secrets: the reasons also go to a file.
    mkdir -p "$STATE_DIR"
    printf '%s\n' "\${bad[@]}" >"$STATE_DIR/membership-refused"
    for r in "\${bad[@]}"; do log "REFUSED: $r" >&2; done
    die "the change of database.nodes is refused (reasons in $STATE_DIR/membership-refused); nothing was changed on this host"
  fi
  rm -f "$STATE_DIR/membership-refused"
}

# On the primary: unregisters the records of nodes no longer in the deployment and releases their slots.
unregister_removed() {
  local recs r id name type active
  mapfile -t recs < <(q_local repmgr "select node_id, node_name, type, active from repmgr.nodes order by node_id")
  for r in "\${recs[@]}"; do
    IFS='|' read -r id name type active <<<"$r"
    [ -n "$id" ] || continue
    is_member_id "$id" && continue
    case "$type" in
      primary)
        [ "$active" = f ] || die "$name (node id $id) is registered as an active primary but is no longer in database.nodes: not unregistered"
        as_pg "$BINDIR/repmgr" -f "$REPMGR_CONF" primary unregister --node-id "$id" </dev/null ;;
      standby) as_pg "$BINDIR/repmgr" -f "$REPMGR_CONF" standby unregister --node-id "$id" </dev/null ;;
      witness) as_pg "$BINDIR/repmgr" -f "$REPMGR_CONF" witness unregister --node-id "$id" --force </dev/null ;;
      *) log "WARNING: $name (node id $id) has record type $type: left registered"; continue ;;
    esac
    log "unregistered $name (repmgr node id $id, $type): it is no longer in database.nodes; its host and its data are left as they are"
    release_slot "$id" "$name"
  done
}

# Lets a removed standby replay its unregistration (bounded), then ends its walsender and drops its slot:
# the primary would otherwise keep WAL for it for ever. pg_hba no longer admits it for replication.
release_slot() {
  local slot="repmgr_slot_$1" name=$2 target i
  [ "$(q_local postgres "select count(*) from pg_replication_slots where slot_name = '$slot'")" = 1 ] || return 0
  target=$(q_local postgres "select pg_current_wal_lsn()")
  for ((i = 0; i < 30; i++)); do
    [ "$(q_local postgres "select not active or coalesce(restart_lsn >= '$target'::pg_lsn, false) from pg_replication_slots where slot_name = '$slot'")" = t ] && break
    sleep 1
  done
  for ((i = 0; i < 10; i++)); do
    q_local postgres "select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = '$slot' and active" >/dev/null || true
    sleep 1
    if q_local postgres "select pg_drop_replication_slot('$slot')" >/dev/null 2>&1; then
      log "dropped replication slot $slot of $name"
      return 0
    fi
  done
  log "WARNING: could not drop replication slot $slot of $name (select * from pg_replication_slots): drop it by hand once $name has stopped"
}

# Before a clone from "$1" ("name host port"): exactly one data node answers as primary, and it is the registered one.
check_clone_source() {
  local p name host port n=0 all=() reg
  for p in "\${PEERS[@]}"; do
    read -r name host port <<<"$p"
    if [ "$(q_peer "$host" "$port" "select pg_is_in_recovery()")" = f ]; then
      n=$((n + 1))
      all+=("$name")
    fi
  done
  [ "$n" -le 1 ] || die "the cluster is degraded: \${all[*]} all answer as primary; not cloning from any of them. Resolve it first (ems-ha status), then apply again"
  read -r name host port <<<"$1"
  reg=$(q_peer "$host" "$port" "select count(*) from repmgr.nodes where type = 'primary' and active and node_name = '$name'") || reg=0
  [ "$reg" = 1 ] || die "the cluster is degraded: $name answers as primary but is not the registered active primary (repmgr cluster show); not cloning from it. Resolve it first, then apply again"
}
`;
