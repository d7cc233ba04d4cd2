/**
 * The per-node setup scripts of the native topology, run as root over SSH by the
 * provisioners. Each is idempotent: it checks state before every step (packages present,
 * files unchanged, primary registered, standby streaming, witness registered) and
 * never re-clones a node that is already a standby or holds other data.
 */
import { createHash } from "node:crypto";
import type { Deployment } from "../../config/schema";
import { renderHbaBlock } from "./pg-hba";
import { connectTimeout, nativeLayout, nativeMembers, nativeSettings, type NativeMember } from "./layout";
import { renderPostgresqlDropIn } from "./postgresql-conf";
import { renderReconcileScript, renderReconcileUnit } from "./reconcile";
import { renderNativeFailoverValidation, renderRepmgrConf } from "./repmgr-conf";
import { renderSynchronousDropIn, synchronousDropInPath } from "./synchronous";
import { renderRepmgrdDefaults, renderRepmgrdLogrotate, renderRepmgrdUnit } from "./repmgrd";
import { SETUP_LIB } from "./setup-lib";
import { MEMBERSHIP_LIB, memberIdsLine } from "./membership";
import { heredoc, raw, sh } from "../escape";
import { embedFile, HEREDOC_END, shellArray, shellVars, unescapeBash } from "./shell";

/** Secrets (Terraform variable names) a member's script reads from the secret directory. */
export function secretsFor(m: Pick<NativeMember, "role" | "initialPrimary">): string[] {
  return m.role === "data" ? ["db_password", "repmgr_password", "symmetric_key"] : ["repmgr_password"];
}

/** "name address port": names and addresses are plain words (nativeMembers refuses others). */
function entry(m: NativeMember): string {
  return [m.name, m.address, String(m.port)].join(" ");
}

function header(d: Deployment, m: NativeMember): string {
  const s = nativeSettings(d);
  const l = nativeLayout(s.pgVersion);
  const members = nativeMembers(d);
  return [
    "#!/bin/bash",
    sh`# ems-ha native setup of ${m.name} (${m.role}${raw(m.initialPrimary ? ", initial primary" : "")}), repmgr node id ${m.nodeId}.`,
    "# Managed by ems-ha (native-single-region). Idempotent: every step checks the node's state first.",
    "# Usage: native-setup.sh [--prepare | --ssh-sync]",
    "set -euo pipefail",
    "umask 022",
    "cd /",
    shellVars({
      NODE_NAME: m.name,
      NODE_ID: m.nodeId,
      ROLE: m.role,
      IS_INITIAL_PRIMARY: m.initialPrimary,
      PG_VERSION: s.pgVersion,
      PG_PORT: m.port,
      PACKAGES: s.packages,
      BINDIR: l.bindir,
      SERVICE: l.service,
      CONF_DIR: l.confDir,
      DATA_DIR: l.dataDir,
      HBA_FILE: l.hbaFile,
      REPMGR_CONF: l.repmgrConf,
      REPMGR_LOG_DIR: l.repmgrLogDir,
      STATE_DIR: l.stateDir,
      SECRET_DIR: l.secretDir,
      EXT_FILE: l.extensionsUpload,
      EXT_SHA256: m.role === "data" ? (s.extensions?.sha256 ?? "") : "",
      KEY_FILE: l.symmetricKeyFile,
      DB_USER: d.database.user,
      CONNECT_TIMEOUT: connectTimeout(d),
      SUDOERS_FILE: l.sudoersFile,
      SYSTEMCTL: l.systemctl,
    }),
    shellArray("PEERS", members.filter((x) => x.role === "data" && x.name !== m.name).map(entry)),
    shellArray("OTHERS", members.filter((x) => x.name !== m.name).map(entry)),
    // The script's own sessions (roles, passwords, repmgr registration) never wait for a synchronous
    // standby: it must be able to bootstrap the primary before any standby exists, and to re-apply
    // while standbys are away (docs/reliability.md#synchronous-replication).
    "export PGOPTIONS='-c synchronous_commit=local'",
    "PG_RESTART=0",
    "PG_RELOAD=0",
    "REPMGR_CONF_CHANGED=0",
  ].join("\n");
}

/** Writes postgresql.conf's drop-in, pg_hba.conf's block and repmgr.conf; records what changed. */
function configFiles(d: Deployment, m: NativeMember): string {
  const l = nativeLayout(nativeSettings(d).pgVersion);
  return [
    "configure_files() {",
    "  ensure_include_dir",
    sh`  ${raw(embedFile(l.dropIn, "0644", "postgres:postgres", renderPostgresqlDropIn(d, m)))}`,
    '  if [ "$WROTE" = 1 ]; then PG_RESTART=1; fi',
    ...(m.role === "data"
      ? [
          // synchronous_standby_names and synchronous_commit are reloadable: a change reloads, never restarts.
          sh`  ${raw(embedFile(synchronousDropInPath(l.pgVersion), "0644", "postgres:postgres", renderSynchronousDropIn(d, m)))}`,
          '  if [ "$WROTE" = 1 ]; then PG_RELOAD=1; fi',
        ]
      : []),
    "  " + heredoc('merge_block "$HBA_FILE" 0640 postgres:postgres', HEREDOC_END, renderHbaBlock(d, m)),
    '  if [ "$WROTE" = 1 ]; then PG_RELOAD=1; fi',
    m.role === "data" ? "  ensure_datadir_include" : "  :",
    '  install -d -o postgres -g postgres -m 0755 "$REPMGR_LOG_DIR"',
    sh`  ${raw(embedFile(l.repmgrConf, "0644", "root:root", renderRepmgrConf(d, m)))}`,
    // The preparation (a run of its own) may be the one that rewrites repmgr.conf: the join then
    // finds it unchanged, so the restart repmgrd needs is kept in a marker until it is done.
    '  if [ "$WROTE" = 1 ]; then REPMGR_CONF_CHANGED=1; mkdir -p "$STATE_DIR"; touch "$STATE_DIR/repmgrd-restart-pending"; fi',
    "}",
  ].join("\n");
}

function repmgrdFiles(d: Deployment): string {
  const l = nativeLayout(nativeSettings(d).pgVersion);
  return [
    "configure_repmgrd() {",
    "  local changed=$REPMGR_CONF_CHANGED",
    '  if [ -f "$STATE_DIR/repmgrd-restart-pending" ]; then changed=1; fi',
    sh`  ${raw(embedFile(l.repmgrdUnit, "0644", "root:root", renderRepmgrdUnit(l.pgVersion)))}`,
    '  if [ "$WROTE" = 1 ]; then changed=1; systemctl daemon-reload; fi',
    sh`  ${raw(embedFile(l.repmgrdDefaults, "0644", "root:root", renderRepmgrdDefaults(l.pgVersion)))}`,
    '  if [ "$WROTE" = 1 ]; then changed=1; fi',
    // rotation of repmgrd's log: read by logrotate at its next run, nothing to restart
    sh`  ${raw(embedFile(l.repmgrdLogrotate, "0644", "root:root", renderRepmgrdLogrotate(l.pgVersion)))}`,
    "  stop_stray_repmgrd",
    '  start_unit repmgrd "$changed"',
    '  rm -f "$STATE_DIR/repmgrd-restart-pending"',
    "}",
  ].join("\n");
}

function reconcileFiles(d: Deployment, m: NativeMember): string {
  const l = nativeLayout(nativeSettings(d).pgVersion);
  return [
    // repmgr.conf's failover_validation_command (data nodes); written before repmgr.conf names it
    "install_failover_validation() {",
    m.role === "data" ? sh`  ${raw(embedFile(l.validateFailoverScript, "0755", "root:root", renderNativeFailoverValidation(d, m)))}` : "  :",
    "}",
    "install_reconcile_script() {",
    sh`  ${raw(embedFile(l.reconcileScript, "0755", "root:root", renderReconcileScript(d, m)))}`,
    "  RECONCILE_CHANGED=$WROTE",
    // --prepare writes it before the join runs: the join must still restart the service (new peer lists).
    '  if [ "$WROTE" = 1 ]; then touch "$STATE_DIR/reconcile-restart-pending"; fi',
    "}",
    "configure_reconcile() {",
    "  local changed=$RECONCILE_CHANGED",
    '  if [ -f "$STATE_DIR/reconcile-restart-pending" ]; then changed=1; fi',
    sh`  ${raw(embedFile(l.reconcileUnit, "0644", "root:root", renderReconcileUnit(l.pgVersion)))}`,
    '  if [ "$WROTE" = 1 ]; then changed=1; systemctl daemon-reload; fi',
    '  start_unit ems-ha-reconcile "$changed"',
    '  rm -f "$STATE_DIR/reconcile-restart-pending"',
    "}",
  ].join("\n");
}

const DATA_MAIN = String.raw`
# The node is a standby: never cloned again; only its registration is checked.
standby_checks() {
  if local_registered standby; then
    log "standby, registered: no clone, no register"
  else
    log "standby without an active record: registering"
    as_pg "$BINDIR/repmgr" -f "$REPMGR_CONF" standby register --force
  fi
}

wait_streaming() {
  local i
  for ((i = 0; i < 90; i++)); do
    [ "$(q_local postgres "select status from pg_stat_wal_receiver")" = streaming ] && return 0
    sleep 1
  done
  return 1
}

# Clones a fresh node from the primary "name host port". Refuses when the node holds data.
clone_from() {
  local name host port theirs mine
  read -r name host port <<<"$1"
  theirs=$(q_peer "$host" "$port" "select system_identifier from pg_control_system()") || die "cannot read the system identifier of $name"
  mine=$(as_pg "$BINDIR/pg_controldata" -D "$DATA_DIR" | awk -F': *' '/^Database system identifier/ { print $2 }')
  if [ "$theirs" = "$mine" ]; then
    log "this node runs as a primary with a copy of $name's cluster: checking whether it is a stale primary"
    "$RECONCILE_SCRIPT" --once || true
    [ "$(q_local postgres "select pg_is_in_recovery()")" = t ] || die "this node and $name both run as primary on the same cluster and this node is not older: resolve by hand (repmgr cluster show)"
    return 0
  fi
  fresh_cluster || die "this node's cluster is not part of the cluster of $name but holds databases: refusing to overwrite it. Move them away or clear $DATA_DIR by hand"
  log "cloning from $name ($host:$port)"
  systemctl stop "$SERVICE"
  as_pg "$BINDIR/repmgr" -h "$host" -p "$port" -U repmgr -d repmgr -f "$REPMGR_CONF" standby clone --force --fast-checkpoint
  ensure_datadir_include
  start_pg
  as_pg "$BINDIR/repmgr" -f "$REPMGR_CONF" standby register --force
  wait_streaming || die "the new standby does not stream from $name after 90 s (see $REPMGR_LOG_DIR and journalctl -u $SERVICE)"
  log "standby streaming from $name"
}

bootstrap_primary() {
  local member
  member=$(any_member_set_up "\${OTHERS[@]}")
  if [ -n "$member" ]; then
    die "no data node answers as primary, but $member is already set up: not starting a second cluster. Bring the primary back, then apply again"
  fi
  ensure_repmgr_role_and_db
  log "registering as primary"
  as_pg "$BINDIR/repmgr" -f "$REPMGR_CONF" primary register --force
}

primary_roles() {
  ensure_repmgr_role_and_db
  if [ "$DB_USER" != postgres ] && [ "$(q_local postgres "select count(*) from pg_roles where rolname = '$DB_USER'")" = 0 ]; then
    as_pg "$BINDIR/createuser" -p "$PG_PORT" -s "$DB_USER"
    log "created role $DB_USER"
  fi
  set_role_password "$DB_USER" db_password
}

# Publishes this node's SSH keys in the cluster (table ems_ha.ssh_keys, on the primary).
publish_ssh_keys() {
  local home conn ukey hkey
  if ! command -v ssh-keygen >/dev/null; then
    log "WARNING: ssh-keygen is missing (openssh-client): postgres SSH keys skipped"
    return 0
  fi
  home=$(pg_home)
  install -d -m 0700 -o postgres -g postgres "$home/.ssh"
  if [ ! -f "$home/.ssh/id_ed25519" ]; then
    as_pg ssh-keygen -q -t ed25519 -N '' -C "postgres@$NODE_NAME" -f "$home/.ssh/id_ed25519"
    log "created postgres's SSH key"
  fi
  ukey=$(cat "$home/.ssh/id_ed25519.pub")
  hkey=$(cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub 2>/dev/null || true)
  if [ "$1" = local ]; then conn="port=$PG_PORT dbname=repmgr"; else
    local name host port
    read -r name host port <<<"$1"
    conn="host=$host port=$port user=repmgr dbname=repmgr connect_timeout=$CONNECT_TIMEOUT"
  fi
  as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -v name="$NODE_NAME" -v addr="$NODE_ADDRESS" -v ukey="$ukey" -v hkey="$hkey" "$conn" <<'SQL'
CREATE SCHEMA IF NOT EXISTS ems_ha;
CREATE TABLE IF NOT EXISTS ems_ha.ssh_keys (node_name text PRIMARY KEY, address text NOT NULL, user_key text NOT NULL, host_key text NOT NULL DEFAULT '');
INSERT INTO ems_ha.ssh_keys VALUES (:'name', :'addr', :'ukey', :'hkey')
  ON CONFLICT (node_name) DO UPDATE SET address = EXCLUDED.address, user_key = EXCLUDED.user_key, host_key = EXCLUDED.host_key;
SQL
}

# Writes the other data nodes' keys into postgres's authorized_keys and known_hosts.
ssh_sync() {
  local home keys hosts
  home=$(pg_home)
  [ -d "$home/.ssh" ] || { log "no $home/.ssh yet: nothing to sync"; return 0; }
  keys=$(q_local repmgr "select user_key from ems_ha.ssh_keys where node_name <> '$NODE_NAME' order by node_name" 2>/dev/null) || { log "no SSH keys published yet"; return 0; }
  hosts=$(q_local repmgr "select address || ' ' || host_key from ems_ha.ssh_keys where node_name <> '$NODE_NAME' and host_key <> '' order by node_name")
  printf '%s\n%s\n%s\n' "# BEGIN ems-ha data nodes" "$keys" "# END ems-ha data nodes" | grep -v '^$' | merge_block "$home/.ssh/authorized_keys" 0600 postgres:postgres
  printf '%s\n%s\n%s\n' "# BEGIN ems-ha data nodes" "$hosts" "# END ems-ha data nodes" | grep -v '^$' | merge_block "$home/.ssh/known_hosts" 0644 postgres:postgres
  log "postgres SSH keys of the other data nodes in place"
}

# --prepare: what needs no other host (packages, cluster, files, services' scripts); run on
# every host at once before the ordered join (main), which repeats it as no-ops.
prepare() {
  trap cleanup EXIT
  install_packages
  ensure_cluster
  install_extensions
  install_symmetric_key
  configure_sudoers
  configure_pgpass
  check_membership
  install_failover_validation
  configure_files
  install_reconcile_script
  apply_pg_changes
  log "prepared"
}

main() {
  local rec primary
  trap cleanup EXIT
  install_packages
  ensure_cluster
  if [ "$IS_INITIAL_PRIMARY" = 1 ] && [ -z "$(find_primary "\${PEERS[@]}")" ] && fresh_cluster; then ensure_utf8_if_fresh; fi
  install_extensions
  install_symmetric_key
  configure_sudoers
  configure_pgpass
  check_membership
  install_failover_validation
  configure_files
  install_reconcile_script
  apply_pg_changes

  rec=$(q_local postgres "select pg_is_in_recovery()")
  primary=$(find_primary "\${PEERS[@]}")
  if [ "$rec" = t ]; then
    standby_checks
  elif local_registered primary; then
    if [ -n "$primary" ]; then
      log "another primary answers: $primary; running the reconciliation once"
      "$RECONCILE_SCRIPT" --once || true
      [ "$(q_local postgres "select pg_is_in_recovery()")" = t ] || die "two primaries: this node and \${primary%% *}; the older one could not be determined or rejoined (see journalctl -u ems-ha-reconcile)"
    else
      log "already the registered primary: no register"
      primary_roles
    fi
  elif [ -n "$primary" ]; then
    check_clone_source "$primary"
    clone_from "$primary"
  elif [ "$IS_INITIAL_PRIMARY" = 1 ]; then
    bootstrap_primary
    primary_roles
  else
    die "no data node answers as primary (tried: \${PEERS[*]:-none}): deploy the initial primary first"
  fi

  rec=$(q_local postgres "select pg_is_in_recovery()")
  primary=$(find_primary "\${PEERS[@]}")
  if [ "$rec" = f ]; then
    unregister_removed
    publish_ssh_keys local
  elif [ -n "$primary" ]; then
    publish_ssh_keys "$primary"
  else
    log "WARNING: no primary answers: this node's SSH key is not published"
  fi
  ssh_sync
  configure_repmgrd
  configure_reconcile
  show_cluster
  log "done"
}

case "\${1:-}" in
  --ssh-sync) ssh_sync ;;
  --prepare) prepare ;;
  *) main ;;
esac
`;

const WITNESS_MAIN = String.raw`
prepare() {
  trap cleanup EXIT
  install_packages
  ensure_cluster
  configure_sudoers
  configure_pgpass
  check_membership
  configure_files
  apply_pg_changes
  log "prepared"
}

main() {
  local primary name host port n
  trap cleanup EXIT
  install_packages
  ensure_cluster
  configure_sudoers
  configure_pgpass
  check_membership
  configure_files
  install_reconcile_script
  apply_pg_changes
  [ "$(q_local postgres "select pg_is_in_recovery()")" = f ] || die "the witness's PostgreSQL runs in recovery; a witness is a cluster of its own"
  ensure_repmgr_role_and_db

  primary=$(find_primary "\${PEERS[@]}")
  [ -n "$primary" ] || die "no data node answers as primary (tried: \${PEERS[*]:-none}): deploy the data nodes first"
  read -r name host port <<<"$primary"
  n=$(q_peer "$host" "$port" "select count(*) from repmgr.nodes where node_id = $NODE_ID and type = 'witness' and active") || n=0
  if [ "$n" = 1 ] && local_registered witness; then
    log "witness already registered with $name: no register"
  else
    log "registering as witness of $name ($host:$port)"
    as_pg "$BINDIR/repmgr" -f "$REPMGR_CONF" -h "$host" -p "$port" -U repmgr -d repmgr witness register --force
  fi
  configure_repmgrd
  configure_reconcile
  show_cluster
  log "done"
}

case "\${1:-}" in
  --prepare) prepare ;;
  *) main ;;
esac
`;

/** The setup script of one member (no secret in it). */
export function renderSetupScript(d: Deployment, m: NativeMember): string {
  const l = nativeLayout(nativeSettings(d).pgVersion);
  const parts = [
    header(d, m),
    shellVarsLine("NODE_ADDRESS", m.address),
    shellVarsLine("RECONCILE_SCRIPT", l.reconcileScript),
    "RECONCILE_CHANGED=0",
    memberIdsLine(d),
    unescapeBash(SETUP_LIB),
    unescapeBash(MEMBERSHIP_LIB),
    configFiles(d, m),
    repmgrdFiles(d),
  ];
  parts.push(reconcileFiles(d, m), unescapeBash(m.role === "data" ? DATA_MAIN : WITNESS_MAIN));
  return parts.join("\n");
}

function shellVarsLine(name: string, value: string): string {
  return shellVars({ [name]: value });
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
