/**
 * Bash functions shared by the native setup scripts. Every step checks the host's state
 * first, so a second run changes nothing on a healthy node. Secrets are read from files
 * the provisioners upload to a root-only directory; they go to files and to psql through
 * the environment, never to the command line or the output, and the directory is removed
 * when the script exits.
 */

import { ENSURE_DATADIR_INCLUDE } from "./shell";

/** The function library (no node-specific values; those come in the header). */
export const SETUP_LIB = String.raw`
log() { printf '%s [ems-ha %s] %s\n' "$(date '+%F %T')" "$NODE_NAME" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }
as_pg() { runuser -u postgres -- "$@"; }
psql_local() { as_pg "$BINDIR/psql" -X -qAt -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@"; }
q_local() { psql_local -d "$1" -c "$2"; }
q_peer() { as_pg timeout 20 "$BINDIR/psql" -X -qAt -v ON_ERROR_STOP=1 "host=$1 port=$2 user=repmgr dbname=repmgr connect_timeout=$CONNECT_TIMEOUT" -c "$3" 2>/dev/null; }
cleanup() { rm -rf "$SECRET_DIR" "$EXT_FILE"; }
read_secret() {
  local f="$SECRET_DIR/$1"
  [ -s "$f" ] || die "secret $1 was not uploaded to $f: set TF_VAR_$1 and apply again"
  cat "$f"
}
pg_home() { getent passwd postgres | cut -d: -f6; }

# install_text DEST MODE OWNER < content: writes DEST only when the content differs; WROTE=1 when it did.
WROTE=0
install_text() {
  local dest=$1 mode=$2 owner=$3 tmp
  # Only a missing directory is created: install -d would reset an existing one's mode (/etc/sudoers.d, /tmp).
  [ -d "$(dirname "$dest")" ] || install -d "$(dirname "$dest")"
  tmp=$(mktemp "$dest.ems-ha.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
    chmod "$mode" "$dest"
    chown "$owner" "$dest"
    WROTE=0
  else
    mv -f "$tmp" "$dest"
    WROTE=1
    log "wrote $dest"
  fi
}

# merge_block FILE MODE OWNER < block: puts the block (first and last lines are its markers)
# at the top of FILE, replacing an earlier copy; the rest of FILE stays as it was.
merge_block() {
  local file=$1 mode=$2 owner=$3 block begin end tmp
  block=$(cat)
  begin=\${block%%$'\n'*}
  end=\${block##*$'\n'}
  tmp=$(mktemp)
  {
    printf '%s\n' "$block"
    if [ -f "$file" ]; then awk -v b="$begin" -v e="$end" '$0 == b { skip = 1; next } $0 == e { skip = 0; next } !skip' "$file"; fi
  } >"$tmp"
  install_text "$file" "$mode" "$owner" <"$tmp"
  rm -f "$tmp"
}

pkg_installed() {
  local status
  status=$(dpkg-query -W -f='\${Status}' "$1" 2>/dev/null) || status=
  [[ $status == *'ok installed' ]]
}

# logrotate rotates repmgrd's log (/etc/logrotate.d/ems-ha-repmgrd): installed with the others,
# except that a host whose packages are "preinstalled" only gets a warning without it.
install_packages() {
  local missing=() p
  for p in "postgresql-$PG_VERSION" "postgresql-$PG_VERSION-repmgr" sudo; do
    pkg_installed "$p" || missing+=("$p")
  done
  if ! pkg_installed logrotate; then
    if [ "$PACKAGES" = preinstalled ]; then
      log "WARNING: logrotate is not installed: $REPMGR_LOG_DIR/repmgr.log will not be rotated (apt-get install logrotate)"
    else
      missing+=(logrotate)
    fi
  fi
  if [ \${#missing[@]} -eq 0 ]; then
    log "packages present: postgresql-$PG_VERSION, postgresql-$PG_VERSION-repmgr, sudo"
    return 0
  fi
  case "$PACKAGES" in
    preinstalled) die "packages missing: \${missing[*]}. native.packages is \"preinstalled\": install them first, or set native.packages to \"distribution\" or \"pgdg\"" ;;
    pgdg) add_pgdg_repository ;;
  esac
  log "installing \${missing[*]} (native.packages: $PACKAGES)"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -q
  timeout 1800 apt-get install -y -q --no-install-recommends "\${missing[@]}"
}

add_pgdg_repository() {
  local list=/etc/apt/sources.list.d/pgdg.list key=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc codename
  if [ -s "$key" ] && [ -f "$list" ]; then return 0; fi
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  if ! command -v curl >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -q
    timeout 600 apt-get install -y -q --no-install-recommends curl ca-certificates
  fi
  install -d /usr/share/postgresql-common/pgdg
  timeout 120 curl -fsSL -o "$key" https://www.postgresql.org/media/keys/ACCC4CF8.asc
  printf 'deb [signed-by=%s] https://apt.postgresql.org/pub/repos/apt %s-pgdg main\n' "$key" "$codename" >"$list"
  log "added the PGDG repository ($codename-pgdg)"
}

wait_ready() {
  local i
  for ((i = 0; i < 120; i++)); do
    as_pg "$BINDIR/pg_isready" -q -p "$PG_PORT" && return 0
    sleep 1
  done
  die "PostgreSQL did not accept connections within 120 s (journalctl -u $SERVICE)"
}

start_pg() {
  if ! systemctl is-active --quiet "$SERVICE"; then
    log "starting $SERVICE"
    systemctl start "$SERVICE"
  fi
  wait_ready
}

ensure_cluster() {
  if [ ! -f "$CONF_DIR/postgresql.conf" ]; then
    if [ -d "$DATA_DIR" ] && [ -n "$(ls -A "$DATA_DIR" 2>/dev/null)" ]; then
      die "$DATA_DIR holds data but $CONF_DIR/postgresql.conf is missing: repair the cluster by hand"
    fi
    log "creating cluster $PG_VERSION/main with locale C.UTF-8"
    pg_createcluster --locale C.UTF-8 "$PG_VERSION" main
  fi
  start_pg
}

# The cluster holds nothing but the databases initdb creates and is not a standby.
fresh_cluster() {
  [ "$(q_local postgres "select pg_is_in_recovery()")" = f ] || return 1
  [ "$(q_local postgres "select count(*) from pg_database where datname not in ('postgres', 'template0', 'template1')")" = 0 ]
}

# A cluster created without a locale is SQL_ASCII (docs/background.md#native-postgresql-and-repmgr): recreate it while it is still empty.
ensure_utf8_if_fresh() {
  local enc
  enc=$(q_local postgres "select pg_encoding_to_char(encoding) from pg_database where datname = 'template1'")
  [ "$enc" = UTF8 ] && return 0
  if ! fresh_cluster; then
    log "WARNING: the cluster's encoding is $enc, but it already holds databases: left as it is"
    return 0
  fi
  log "recreating the empty cluster $PG_VERSION/main with locale C.UTF-8 (its encoding was $enc)"
  pg_dropcluster --stop "$PG_VERSION" main
  pg_createcluster --locale C.UTF-8 "$PG_VERSION" main
  start_pg
}

install_extensions() {
  local have actual marker="$STATE_DIR/ems_pg_extensions.sha256"
  if [ -z "$EXT_SHA256" ]; then
    log "no EMS extensions tarball configured (native.extensions): step skipped"
    return 0
  fi
  have=$(cat "$marker" 2>/dev/null || true)
  if [ "$have" = "$EXT_SHA256" ]; then
    log "EMS extensions $EXT_SHA256 already installed"
    return 0
  fi
  [ -f "$EXT_FILE" ] || die "the extensions tarball was not uploaded to $EXT_FILE"
  actual=$(sha256sum "$EXT_FILE" | cut -d' ' -f1)
  [ "$actual" = "$EXT_SHA256" ] || die "ems_pg_extensions.tar.gz has sha256 $actual, native.extensions.sha256 says $EXT_SHA256"
  tar -xzf "$EXT_FILE" -C /
  printf '%s\n' "$EXT_SHA256" >"$marker"
  log "EMS extensions extracted to /"
}

install_symmetric_key() {
  local key
  key=$(read_secret symmetric_key)
  [ \${#key} -eq 20 ] || die "symmetric_key must be 20 characters, like the guide's (head -c 20 /dev/urandom | md5sum | head -c 20); got \${#key}"
  if [ -f "$KEY_FILE" ]; then
    if [ "$(cat "$KEY_FILE")" = "$key" ]; then
      log "symmetric key in place"
      chown postgres:postgres "$KEY_FILE"
      chmod 0600 "$KEY_FILE"
      return 0
    fi
    die "$KEY_FILE holds a different key than TF_VAR_symmetric_key: not replaced (data encrypted with it would become unreadable). Set TF_VAR_symmetric_key to the key in use"
  fi
  printf '%s' "$key" | install_text "$KEY_FILE" 0600 postgres:postgres
}

configure_sudoers() {
  install_text "$SUDOERS_FILE" 0440 root:root <<SUDOERS
# Managed by ems-ha: repmgr runs as postgres and controls the PostgreSQL unit through these commands.
postgres ALL=(root) NOPASSWD: $SYSTEMCTL start $SERVICE, $SYSTEMCTL stop $SERVICE, $SYSTEMCTL restart $SERVICE, $SYSTEMCTL reload $SERVICE
SUDOERS
  if ! visudo -cqf "$SUDOERS_FILE"; then
    rm -f "$SUDOERS_FILE"
    die "visudo rejected $SUDOERS_FILE"
  fi
}

configure_pgpass() {
  local pw esc
  pw=$(read_secret repmgr_password)
  esc=$(printf '%s' "$pw" | sed -e 's/\\/\\\\/g' -e 's/:/\\:/g')
  printf '*:*:repmgr:repmgr:%s\n*:*:replication:repmgr:%s\n' "$esc" "$esc" | install_text "$(pg_home)/.pgpass" 0600 postgres:postgres
}

ensure_include_dir() {
  if ! grep -Eq "^[[:space:]]*include_dir[[:space:]]*=[[:space:]]*'conf\.d'" "$CONF_DIR/postgresql.conf"; then
    printf "\n# added by ems-ha\ninclude_dir = 'conf.d'\n" >>"$CONF_DIR/postgresql.conf"
    log "enabled include_dir 'conf.d' in $CONF_DIR/postgresql.conf"
    PG_RESTART=1
  fi
  install -d -o postgres -g postgres "$CONF_DIR/conf.d"
}

${ENSURE_DATADIR_INCLUDE}

# This node is a running member of the cluster: its PostgreSQL runs and its repmgr metadata holds
# an active record of it (a fresh node, before its clone or registration, is not).
in_service() {
  local n
  systemctl is-active --quiet "$SERVICE" || return 1
  n=$(q_local repmgr "select count(*) from repmgr.nodes where node_id = $NODE_ID and active" 2>/dev/null) || n=0
  [ "$n" = 1 ]
}

# Applies what configure_files changed: a reload for pg_hba.conf; for postgresql.conf a restart
# while the node is not yet a member, else a reload only: the settings that need a restart wait
# (pg_settings.pending_restart) for the rolling restart step, which restarts one node at a time,
# the primary last after a switchover (src/render/native/rolling.ts). The steps of several nodes
# run at once, so no member restarts here.
apply_pg_changes() {
  if [ "$PG_RESTART" = 1 ] && in_service; then
    log "postgresql.conf changed: reloading $SERVICE; settings that need a restart wait for the rolling restart (one node at a time)"
    systemctl reload "$SERVICE"
  elif [ "$PG_RESTART" = 1 ]; then
    log "restarting $SERVICE (postgresql.conf changed; not yet a cluster member)"
    systemctl restart "$SERVICE"
  elif [ "$PG_RELOAD" = 1 ]; then
    log "reloading $SERVICE (pg_hba.conf changed)"
    systemctl reload "$SERVICE"
  fi
  start_pg
}

# set_role_password ROLE SECRET: the password reaches psql in its environment, and the session logs no
# statement (an audit log_statement would otherwise record the ALTER ROLE with the password in it).
set_role_password() {
  local pw
  pw=$(read_secret "$2")
  EMS_HA_PW="$pw" as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres <<SQL
\getenv pw EMS_HA_PW
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
ALTER ROLE "$1" WITH LOGIN PASSWORD :'pw';
SQL
}

ensure_repmgr_role_and_db() {
  if [ "$(q_local postgres "select count(*) from pg_roles where rolname = 'repmgr'")" = 0 ]; then
    as_pg "$BINDIR/createuser" -p "$PG_PORT" -s repmgr
    log "created role repmgr"
  fi
  if [ "$(q_local postgres "select count(*) from pg_database where datname = 'repmgr'")" = 0 ]; then
    as_pg "$BINDIR/createdb" -p "$PG_PORT" -O repmgr repmgr
    log "created database repmgr"
  fi
  # repmgr's metadata writes (registration, events, repmgrd) never wait for a synchronous standby: a
  # promotion or a standby's registration must not block on the standbys it is about to serve.
  if [ "$(q_local postgres "select count(*) from pg_db_role_setting s join pg_roles r on r.oid = s.setrole where r.rolname = 'repmgr' and s.setdatabase = 0 and 'synchronous_commit=local' = any(s.setconfig)")" = 0 ]; then
    q_local postgres "ALTER ROLE repmgr SET synchronous_commit = local" >/dev/null
    log "repmgr's sessions commit without waiting for a synchronous standby"
  fi
  set_role_password repmgr repmgr_password
}

# local_registered TYPE: this node has an active record of that type in the local repmgr metadata.
local_registered() {
  local n
  n=$(q_local repmgr "select count(*) from repmgr.nodes where node_id = $NODE_ID and type = '$1' and active" 2>/dev/null) || n=0
  [ "$n" = 1 ]
}

# find_primary "name host port"...: prints the first that answers as a primary.
find_primary() {
  local p name host port r
  for p in "$@"; do
    read -r name host port <<<"$p"
    r=$(q_peer "$host" "$port" "select pg_is_in_recovery()") || continue
    if [ "$r" = f ]; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  return 0
}

# any_member_set_up "name host port"...: one of them already answers as repmgr.
any_member_set_up() {
  local p name host port
  for p in "$@"; do
    read -r name host port <<<"$p"
    if q_peer "$host" "$port" "select 1" >/dev/null; then
      printf '%s\n' "$name"
      return 0
    fi
  done
  return 0
}

stop_stray_repmgrd() {
  local main p pid
  main=$(systemctl show -p MainPID --value repmgrd 2>/dev/null || echo 0)
  for p in /proc/[0-9]*; do
    pid=\${p#/proc/}
    [ "$(cat "$p/comm" 2>/dev/null)" = repmgrd ] || continue
    [ "$pid" = "$main" ] && continue
    log "stopping repmgrd pid $pid, which systemd did not start (the guide's --daemonize instance)"
    kill "$pid" 2>/dev/null || true
  done
}

# start_unit NAME CHANGED: enables the unit and starts it, or restarts it when its files changed.
start_unit() {
  local unit=$1 changed=$2
  systemctl enable --quiet "$unit"
  if systemctl is-active --quiet "$unit"; then
    if [ "$changed" = 1 ]; then
      log "restarting $unit (its configuration changed)"
      systemctl restart "$unit"
    else
      log "$unit running, unchanged"
    fi
  else
    log "starting $unit"
    systemctl start "$unit"
  fi
  sleep 3
  if ! systemctl is-active --quiet "$unit"; then
    journalctl -u "$unit" -n 20 --no-pager >&2 || true
    die "$unit is not running (journalctl -u $unit; $REPMGR_LOG_DIR/repmgr.log)"
  fi
}

show_cluster() {
  # cluster show exits non-zero when it sees any problem (docs/background.md#native-postgresql-and-repmgr): print it, never fail on it.
  as_pg "$BINDIR/repmgr" -f "$REPMGR_CONF" cluster show 2>&1 || true
}
`;
