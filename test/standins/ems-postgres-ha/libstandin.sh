# shellcheck shell=bash
# ---------------------------------------------------------------------------
# STAND-IN for the vendor image ems-postgres-ha (forticlientems_postgres-ha.tar.gz).
# It is NOT the product. The ems-ha lab builds it from Debian's postgresql-15 and
# postgresql-15-repmgr so the Docker topologies can run for real; see README.md
# next to this file for the contract it honours and where it had to guess.
#
# Installed in the image as /opt/bitnami/scripts/postgresql-repmgr/libstandin.sh,
# sourced by entrypoint.sh and run.sh.
# ---------------------------------------------------------------------------

STANDIN_DIR=/opt/bitnami/scripts/postgresql-repmgr
PG_BIN=/usr/lib/postgresql/15/bin
PG_BASE=/bitnami/postgresql
PGDATA_DIR=$PG_BASE/data
CONF_D=$PG_BASE/conf/conf.d
REPMGR_CONF=/opt/bitnami/repmgr/conf/repmgr.conf
PG_HOME=/opt/bitnami/postgresql
PG_LOG=$PG_HOME/logs/postgresql.log
SOCKET_DIR=/tmp

standin_log() { echo "ems-postgres-ha-standin $(date -u +%H:%M:%S) ${REPMGR_NODE_NAME:-?}: $*" >&2; }
standin_die() {
  standin_log "ERROR: $*"
  exit 1
}

# --- environment -----------------------------------------------------------

# Every POSTGRESQL_*, POSTGRES_* and REPMGR_* variable may come from a file: X_FILE=/path sets X.
standin_read_file_vars() {
  local fv v
  for fv in $(compgen -e | grep -E '^(POSTGRESQL|POSTGRES|REPMGR)_[A-Z0-9_]+_FILE$' || true); do
    v=${fv%_FILE}
    [[ -r "${!fv}" ]] || standin_die "$fv names ${!fv}, which cannot be read"
    printf -v "$v" '%s' "$(<"${!fv}")"
    export "${v?}"
  done
}

standin_env() {
  standin_read_file_vars
  # The POSTGRES_* spellings the guide uses are aliases; the POSTGRESQL_* name wins when both are set.
  export POSTGRESQL_PASSWORD="${POSTGRESQL_PASSWORD:-${POSTGRES_PASSWORD:-}}"
  export POSTGRESQL_USERNAME="${POSTGRESQL_USERNAME:-${POSTGRES_USER:-postgres}}"
  export POSTGRESQL_DATABASE="${POSTGRESQL_DATABASE:-${POSTGRES_DB:-postgres}}"
  export POSTGRESQL_PORT_NUMBER="${POSTGRESQL_PORT_NUMBER:-5432}"
  export POSTGRESQL_POSTGRES_PASSWORD="${POSTGRESQL_POSTGRES_PASSWORD:-$POSTGRESQL_PASSWORD}"
  export REPMGR_USERNAME="${REPMGR_USERNAME:-repmgr}"
  export REPMGR_DATABASE="${REPMGR_DATABASE:-repmgr}"
  export REPMGR_NODE_NAME="${REPMGR_NODE_NAME:-$(hostname)}"
  export REPMGR_NODE_NETWORK_NAME="${REPMGR_NODE_NETWORK_NAME:-$REPMGR_NODE_NAME}"
  export REPMGR_PORT_NUMBER="${REPMGR_PORT_NUMBER:-5432}"
  export REPMGR_PRIMARY_PORT="${REPMGR_PRIMARY_PORT:-5432}"
  export REPMGR_PRIMARY_HOST="${REPMGR_PRIMARY_HOST:-}"
  export REPMGR_PARTNER_NODES="${REPMGR_PARTNER_NODES:-}"
  export REPMGR_NODE_TYPE="${REPMGR_NODE_TYPE:-data}"
  export REPMGR_NODE_PRIORITY="${REPMGR_NODE_PRIORITY:-100}"
  export REPMGR_NODE_LOCATION="${REPMGR_NODE_LOCATION:-default}"
  export REPMGR_NODE_ID_START_SEED="${REPMGR_NODE_ID_START_SEED:-1000}"
  export REPMGR_DEGRADED_MONITORING_TIMEOUT="${REPMGR_DEGRADED_MONITORING_TIMEOUT:-5}"
  export REPMGR_RECONNECT_ATTEMPTS="${REPMGR_RECONNECT_ATTEMPTS:-3}"
  export REPMGR_RECONNECT_INTERVAL="${REPMGR_RECONNECT_INTERVAL:-5}"
  export REPMGR_CONNECT_TIMEOUT="${REPMGR_CONNECT_TIMEOUT:-5}"
  export REPMGR_MONITOR_INTERVAL="${REPMGR_MONITOR_INTERVAL:-2}"
  export REPMGR_FAILOVER="${REPMGR_FAILOVER:-automatic}"
  export REPMGR_UPGRADE_EXTENSION="${REPMGR_UPGRADE_EXTENSION:-no}"
  # Stand-in only: how long a node waits for a primary among its partners before it exits
  # (the restart policy then starts it again).
  export STANDIN_PRIMARY_WAIT_SECONDS="${STANDIN_PRIMARY_WAIT_SECONDS:-300}"
  export PATH="$PG_BIN:$PATH"
  export PGPASSFILE="$PG_HOME/.pgpass"
  export HOME="$PG_HOME"
}

# Node id: REPMGR_NODE_ID, else the number after the last '-' of the node name + the seed.
standin_node_id() {
  if [[ -n "${REPMGR_NODE_ID:-}" ]]; then
    [[ "$REPMGR_NODE_ID" =~ ^[0-9]+$ ]] || standin_die "REPMGR_NODE_ID must be a number, not '$REPMGR_NODE_ID'"
    echo "$REPMGR_NODE_ID"
    return
  fi
  local n=${REPMGR_NODE_NAME##*-}
  [[ "$REPMGR_NODE_NAME" == *-* && "$n" =~ ^[0-9]+$ ]] ||
    standin_die "REPMGR_NODE_NAME '$REPMGR_NODE_NAME' must end in -<number> (pg-1, pgw-1) or REPMGR_NODE_ID must be set"
  [[ "$REPMGR_NODE_ID_START_SEED" =~ ^[0-9]+$ ]] || standin_die "REPMGR_NODE_ID_START_SEED must be a number"
  echo $((10#$n + REPMGR_NODE_ID_START_SEED))
}

# REPMGR_PARTNER_NODES split on ',' or ';'; each entry host[:port], default port REPMGR_PRIMARY_PORT.
# Prints "host port" per line, this node excluded.
standin_partners() {
  local entry host port
  local IFS=',;'
  for entry in $REPMGR_PARTNER_NODES; do
    entry=${entry// /}
    [[ -n "$entry" ]] || continue
    host=${entry%%:*}
    port=$REPMGR_PRIMARY_PORT
    [[ "$entry" == *:* ]] && port=${entry##*:}
    [[ "$host" == "$REPMGR_NODE_NETWORK_NAME" ]] && continue
    echo "$host $port"
  done
}

standin_validate() {
  [[ -n "$POSTGRESQL_PASSWORD" ]] || standin_die "POSTGRESQL_PASSWORD (or POSTGRES_PASSWORD, or the _FILE form) must be set"
  [[ -n "${REPMGR_PASSWORD:-}" ]] || standin_die "REPMGR_PASSWORD (or REPMGR_PASSWORD_FILE) must be set"
  [[ -n "$REPMGR_PARTNER_NODES" ]] || standin_die "REPMGR_PARTNER_NODES must list the cluster's nodes"
  [[ "$REPMGR_NODE_TYPE" == data || "$REPMGR_NODE_TYPE" == witness ]] || standin_die "REPMGR_NODE_TYPE must be data or witness, not '$REPMGR_NODE_TYPE'"
  [[ "$REPMGR_FAILOVER" == automatic || "$REPMGR_FAILOVER" == manual ]] || standin_die "REPMGR_FAILOVER must be automatic or manual"
  if [[ "$REPMGR_NODE_TYPE" == data && -z "$REPMGR_PRIMARY_HOST" ]]; then standin_die "REPMGR_PRIMARY_HOST must be set on data nodes"; fi
  local v
  for v in POSTGRESQL_PORT_NUMBER REPMGR_PORT_NUMBER REPMGR_PRIMARY_PORT REPMGR_RECONNECT_ATTEMPTS REPMGR_RECONNECT_INTERVAL REPMGR_CONNECT_TIMEOUT REPMGR_MONITOR_INTERVAL; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || standin_die "$v must be a number, not '${!v}'"
  done
  [[ "$REPMGR_NODE_PRIORITY" =~ ^-?[0-9]+$ ]] || standin_die "REPMGR_NODE_PRIORITY must be a number"
  [[ "$REPMGR_DEGRADED_MONITORING_TIMEOUT" =~ ^-?[0-9]+$ ]] || standin_die "REPMGR_DEGRADED_MONITORING_TIMEOUT must be a number (-1: off)"
  [[ "$REPMGR_NODE_LOCATION" =~ ^[A-Za-z0-9_.-]+$ ]] || standin_die "REPMGR_NODE_LOCATION '$REPMGR_NODE_LOCATION' must be letters, digits, _ . -"
}

# --- files -----------------------------------------------------------------

# Single quotes doubled, for a value inside '...' in postgresql.conf / repmgr.conf.
standin_q() { printf "%s" "${1//\'/\'\'}"; }

standin_write_pgpass() {
  local f=$PGPASSFILE
  umask 077
  # host:port:database:user:password; ':' and '\' escaped as libpq wants.
  local rp=${REPMGR_PASSWORD//\\/\\\\} dp=${POSTGRESQL_PASSWORD//\\/\\\\}
  rp=${rp//:/\\:}
  dp=${dp//:/\\:}
  {
    echo "*:*:*:$REPMGR_USERNAME:$rp"
    echo "*:*:*:$POSTGRESQL_USERNAME:$dp"
  } >"$f.new"
  mv "$f.new" "$f"
  umask 022
}

standin_conninfo() { echo "host=$REPMGR_NODE_NETWORK_NAME port=$REPMGR_PORT_NUMBER user=$REPMGR_USERNAME dbname=$REPMGR_DATABASE connect_timeout=$REPMGR_CONNECT_TIMEOUT"; }

standin_write_repmgr_conf() {
  local id=$1 ctl="$PG_BIN/pg_ctl -D $PGDATA_DIR -w -t 120"
  mkdir -p "$(dirname "$REPMGR_CONF")"
  local priority=$REPMGR_NODE_PRIORITY
  [[ "$REPMGR_NODE_TYPE" == witness ]] && priority=0
  cat >"$REPMGR_CONF.new" <<EOF
# ems-postgres-ha STAND-IN: written at every container start from the environment.
node_id=$id
node_name='$(standin_q "$REPMGR_NODE_NAME")'
conninfo='$(standin_q "$(standin_conninfo)")'
data_directory='$PGDATA_DIR'
pg_bindir='$PG_BIN'
location='$(standin_q "$REPMGR_NODE_LOCATION")'
priority=$priority
failover='$REPMGR_FAILOVER'
promote_command='$PG_BIN/repmgr standby promote -f $REPMGR_CONF --log-level INFO'
follow_command='$PG_BIN/repmgr standby follow -f $REPMGR_CONF --log-level INFO --upstream-node-id=%n'
reconnect_attempts=$REPMGR_RECONNECT_ATTEMPTS
reconnect_interval=$REPMGR_RECONNECT_INTERVAL
monitor_interval_secs=$REPMGR_MONITOR_INTERVAL
degraded_monitoring_timeout=$REPMGR_DEGRADED_MONITORING_TIMEOUT
monitoring_history=no
use_replication_slots=yes
log_level='INFO'
repmgrd_pid_file='/tmp/repmgrd.pid'
passfile='$PGPASSFILE'
service_start_command='$ctl -l $PG_LOG start'
service_stop_command='$ctl -m fast stop'
service_restart_command='$ctl -m fast -l $PG_LOG restart'
service_reload_command='$PG_BIN/pg_ctl -D $PGDATA_DIR reload'
EOF
  standin_merge_mounted_repmgr_conf "$REPMGR_CONF.new"
  mv "$REPMGR_CONF.new" "$REPMGR_CONF"
}

# Bitnami's contract (librepmgr.sh, repmgr_generate_repmgr_config): a repmgr.conf in
# REPMGR_MOUNTED_CONF_DIR (default /bitnami/repmgr/conf) is merged into the generated file at every
# start: a generated line whose key the mounted file sets is dropped, and the mounted file is
# appended. (Bitnami's own merge matches keys as patterns; this one compares whole keys.)
standin_merge_mounted_repmgr_conf() {
  local target=$1 mounted="${REPMGR_MOUNTED_CONF_DIR:-/bitnami/repmgr/conf}/repmgr.conf" line
  [[ -f "$mounted" ]] || return 0
  local -A set=()
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" =~ ^[[:space:]]*([A-Za-z_]+)[[:space:]]*= ]] || continue
    set[${BASH_REMATCH[1]}]=1
  done <"$mounted"
  : >"$target.merged"
  while IFS= read -r line; do
    if [[ "$line" =~ ^[[:space:]]*([A-Za-z_]+)[[:space:]]*= ]] && [[ -n "${set[${BASH_REMATCH[1]}]:-}" ]]; then continue; fi
    printf '%s\n' "$line" >>"$target.merged"
  done <"$target"
  cat "$mounted" >>"$target.merged"
  mv "$target.merged" "$target"
  standin_log "merged $mounted into repmgr.conf (${!set[*]})"
}

# postgresql.conf and pg_hba.conf live in the data directory (pg_rewind's recovery step needs
# postgresql.conf there) and are rewritten at every start; conf.d/*.conf comes last and wins.
standin_write_pg_conf() {
  mkdir -p "$CONF_D" 2>/dev/null || true
  cat >"$PGDATA_DIR/postgresql.conf" <<EOF
# ems-postgres-ha STAND-IN: written at every container start. Add settings in $CONF_D/*.conf.
listen_addresses = '*'
port = $POSTGRESQL_PORT_NUMBER
unix_socket_directories = '$SOCKET_DIR'
password_encryption = scram-sha-256
wal_level = replica
hot_standby = on
max_wal_senders = 16
max_replication_slots = 16
wal_log_hints = on
wal_keep_size = 512MB
shared_preload_libraries = 'repmgr'
logging_collector = off
log_line_prefix = '%m [%p] '
dynamic_shared_memory_type = posix
timezone = 'UTC'
EOF
  if [[ -d "$CONF_D" ]]; then echo "include_dir = '$CONF_D'" >>"$PGDATA_DIR/postgresql.conf"; fi
  cat >"$PGDATA_DIR/pg_hba.conf" <<EOF
# ems-postgres-ha STAND-IN: written at every container start.
# Inside the container (unix socket): trust. Over the network: passwords (scram-sha-256).
local   all          all                    trust
host    replication  all      0.0.0.0/0     scram-sha-256
host    replication  all      ::/0          scram-sha-256
host    all          all      0.0.0.0/0     scram-sha-256
host    all          all      ::/0          scram-sha-256
EOF
}

# --- PostgreSQL ------------------------------------------------------------

standin_pg_running() { "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; }

# Starts PostgreSQL; 1 (its log's tail on stderr) when it does not start.
standin_try_start_pg() {
  mkdir -p "$(dirname "$PG_LOG")"
  standin_pg_running && return 0
  "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -w -t 120 -l "$PG_LOG" start >/dev/null || {
    tail -n 30 "$PG_LOG" >&2 || true
    return 1
  }
}
standin_start_pg() { standin_try_start_pg || standin_die "PostgreSQL did not start"; }

standin_stop_pg() {
  standin_pg_running || return 0
  "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -w -t 60 -m fast stop >/dev/null || standin_log "pg_ctl stop failed"
}

# SQL on the local server over the unix socket; extra arguments go to psql.
standin_psql_local() { psql -h "$SOCKET_DIR" -p "$POSTGRESQL_PORT_NUMBER" -U postgres -XtAq -v ON_ERROR_STOP=1 "$@"; }

# SQL on a partner as the repmgr user (password from the passfile); quiet, bounded.
standin_psql_partner() {
  PGCONNECT_TIMEOUT=3 psql "host=$1 port=$2 user=$REPMGR_USERNAME dbname=$REPMGR_DATABASE" -XtAq -v ON_ERROR_STOP=1 -c "$3" 2>/dev/null
}

# Roles and databases of a new cluster (primary or witness). Passwords come from the
# environment through psql's \getenv, never from a command line.
standin_create_roles() {
  standin_psql_local -d postgres <<'EOF'
\getenv pg_pw POSTGRESQL_POSTGRES_PASSWORD
\getenv rm_pw REPMGR_PASSWORD
\getenv rm_user REPMGR_USERNAME
\getenv rm_db REPMGR_DATABASE
ALTER ROLE postgres PASSWORD :'pg_pw';
CREATE ROLE :"rm_user" WITH LOGIN SUPERUSER REPLICATION PASSWORD :'rm_pw';
CREATE DATABASE :"rm_db" OWNER :"rm_user";
EOF
  if [[ "$POSTGRESQL_USERNAME" != postgres ]]; then
    standin_psql_local -d postgres <<'EOF'
\getenv u POSTGRESQL_USERNAME
\getenv pw POSTGRESQL_PASSWORD
CREATE ROLE :"u" WITH LOGIN SUPERUSER PASSWORD :'pw';
EOF
  fi
  if [[ "$POSTGRESQL_DATABASE" != postgres && "$REPMGR_NODE_TYPE" == data ]]; then
    standin_psql_local -d postgres <<'EOF'
\getenv db POSTGRESQL_DATABASE
\getenv u POSTGRESQL_USERNAME
CREATE DATABASE :"db" OWNER :"u";
EOF
  fi
}

standin_initdb() {
  standin_log "initialising a new cluster in $PGDATA_DIR"
  mkdir -p "$PGDATA_DIR"
  chmod 700 "$PGDATA_DIR"
  initdb -D "$PGDATA_DIR" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null ||
    standin_die "initdb failed"
}

# --- who is the primary? -----------------------------------------------------

# Asks every partner. Sets FOUND_PRIMARY ("host port") to a partner that is writable and
# whose own repmgr metadata names itself the primary, and NAMED_PRIMARY to a host that any
# partner's metadata names as primary other than this node (a witness or standby knows
# about a promotion even when the new primary does not answer).
standin_find_primary() {
  FOUND_PRIMARY=""
  NAMED_PRIMARY=""
  local host port r state conninfo named
  while read -r host port; do
    [[ -n "$host" ]] || continue
    r=$(standin_psql_partner "$host" "$port" "select case when pg_is_in_recovery() then 'standby' else 'writable' end || ' ' || coalesce((select conninfo from repmgr.nodes where type = 'primary' and active order by node_id limit 1), '-')") || continue
    state=${r%% *}
    conninfo=${r#* }
    named=$(sed -n 's/.*host=\([^ ]*\).*/\1/p' <<<"$conninfo")
    if [[ "$state" == writable && "$named" == "$host" ]]; then FOUND_PRIMARY="$host $port"; fi
    if [[ -n "$named" && "$named" != "$REPMGR_NODE_NETWORK_NAME" ]]; then NAMED_PRIMARY=$named; fi
  done < <(standin_partners)
}

# Waits (bounded by STANDIN_PRIMARY_WAIT_SECONDS) until a partner is the primary.
standin_wait_for_primary() {
  local deadline=$((SECONDS + STANDIN_PRIMARY_WAIT_SECONDS)) said=0
  while :; do
    standin_find_primary
    [[ -n "$FOUND_PRIMARY" ]] && return 0
    ((SECONDS >= deadline)) && standin_die "no primary among the partners ($REPMGR_PARTNER_NODES) within $STANDIN_PRIMARY_WAIT_SECONDS s${NAMED_PRIMARY:+ (metadata names $NAMED_PRIMARY)}; the restart policy will try again"
    ((said++ % 10 == 0)) && standin_log "waiting for a primary among the partners${NAMED_PRIMARY:+ (metadata names $NAMED_PRIMARY)}"
    sleep 3
  done
}

# --- roles -------------------------------------------------------------------

standin_repmgr() { repmgr -f "$REPMGR_CONF" "$@"; }

standin_system_id_local() { "$PG_BIN/pg_controldata" -D "$PGDATA_DIR" 2>/dev/null | sed -n 's/^Database system identifier: *//p'; }

standin_become_primary() {
  standin_start_pg
  standin_repmgr primary register --force >/dev/null || standin_die "repmgr primary register failed"
  if [[ "$REPMGR_UPGRADE_EXTENSION" == yes ]]; then
    standin_log "REPMGR_UPGRADE_EXTENSION=yes: ALTER EXTENSION repmgr UPDATE"
    standin_psql_local -d "$REPMGR_DATABASE" -c "ALTER EXTENSION repmgr UPDATE" || standin_die "ALTER EXTENSION repmgr UPDATE failed"
  fi
  standin_log "running as the primary"
}

standin_clone_from() {
  local host=$1 port=$2
  standin_log "cloning a standby from $host:$port"
  standin_repmgr -h "$host" -p "$port" -U "$REPMGR_USERNAME" -d "$REPMGR_DATABASE" standby clone --fast-checkpoint --force >/dev/null 2>"$PG_HOME/clone.err" || {
    cat "$PG_HOME/clone.err" >&2
    standin_die "repmgr standby clone from $host failed"
  }
  standin_write_pg_conf
  standin_start_pg
  standin_repmgr standby register --force >/dev/null || standin_die "repmgr standby register failed"
  standin_log "running as a standby of $host (cloned)"
}

# Streaming from the primary within ~20 s?
standin_streaming_from() {
  local host=$1 i r
  for i in $(seq 1 20); do
    r=$(standin_psql_local -d postgres -c "select status || ' ' || coalesce(sender_host, '') from pg_stat_wal_receiver" 2>/dev/null || true)
    [[ "$r" == "streaming $host" ]] && return 0
    sleep 1
  done
  return 1
}

# The node record on the primary under this node's id, when its name or conninfo is another's:
# after a rename (the upgrade moves pg-2's volume to pgn-2) repmgr would look for the old name.
# Data nodes: the record is updated; witnesses: removed (witness register then creates it).
standin_refresh_record() {
  local host=$1 port=$2 id=$3 sql
  if [[ "$REPMGR_NODE_TYPE" == witness ]]; then
    sql="DELETE FROM repmgr.nodes WHERE node_id = :id AND (node_name <> :'name' OR conninfo <> :'ci');"
  else
    sql="UPDATE repmgr.nodes SET node_name = :'name', conninfo = :'ci' WHERE node_id = :id AND (node_name <> :'name' OR conninfo <> :'ci');"
  fi
  PGCONNECT_TIMEOUT=3 psql "host=$host port=$port user=$REPMGR_USERNAME dbname=$REPMGR_DATABASE" -XtAq -v ON_ERROR_STOP=1 \
    -v id="$id" -v name="$REPMGR_NODE_NAME" -v ci="$(standin_conninfo)" <<<"$sql" >/dev/null 2>&1 ||
    standin_log "could not check this node's record on $host"
}

# Points a standby's data at the primary: primary_conninfo in postgresql.auto.conf (a clone made
# it for the old primary, possibly under another name); the replication slot stays.
standin_point_at() {
  local host=$1 port=$2 f=$PGDATA_DIR/postgresql.auto.conf ci
  ci="user=$REPMGR_USERNAME connect_timeout=$REPMGR_CONNECT_TIMEOUT host=$host port=$port application_name=$REPMGR_NODE_NAME passfile=$PGPASSFILE"
  { grep -v '^primary_conninfo' "$f" 2>/dev/null || true; echo "primary_conninfo = '$(standin_q "$ci")'"; } >"$f.new"
  mv "$f.new" "$f"
}

standin_primary_node_id() { standin_psql_partner "$1" "$2" "select node_id from repmgr.nodes where type = 'primary' and active order by node_id limit 1"; }

# A node with data whose partners have another primary: keep the data whenever possible.
standin_rejoin() {
  local host=$1 port=$2 mine theirs
  mine=$(standin_system_id_local)
  theirs=$(standin_psql_partner "$host" "$port" "select system_identifier from pg_control_system()") || standin_die "cannot read the system identifier of $host"
  [[ "$mine" == "$theirs" ]] ||
    standin_die "the data in $PGDATA_DIR (system identifier $mine) is not from the cluster of primary $host ($theirs); refusing to touch it. Move it away by hand to clone a new standby."

  standin_refresh_record "$host" "$port" "$(standin_node_id)"
  if [[ -f "$PGDATA_DIR/standby.signal" ]]; then
    standin_point_at "$host" "$port"
    # A standby that forked (it replayed WAL past where $host left its timeline) does not start on
    # $host's timeline: then straight to the rewind, not a restart loop.
    if standin_try_start_pg; then
      if standin_streaming_from "$host"; then
        standin_repmgr standby register --force >/dev/null || standin_die "repmgr standby register failed"
        standin_log "running as a standby of $host (data kept)"
        return 0
      fi
      local id
      id=$(standin_primary_node_id "$host" "$port" || true)
      if [[ -n "$id" ]] && standin_repmgr standby follow --upstream-node-id="$id" >/dev/null 2>&1 && standin_streaming_from "$host"; then
        standin_repmgr standby register --force >/dev/null || true
        standin_log "running as a standby of $host (followed, data kept)"
        return 0
      fi
      standin_log "the standby does not stream from $host; trying node rejoin with pg_rewind"
    else
      standin_log "PostgreSQL does not start as a standby of $host (a forked timeline?); trying node rejoin with pg_rewind"
    fi
    standin_stop_pg
  else
    standin_log "this node was a primary; $host is the primary now: node rejoin --force-rewind"
  fi
  standin_psql_partner "$host" "$port" "CHECKPOINT" >/dev/null || true
  standin_stop_pg
  if standin_repmgr node rejoin -d "host=$host port=$port user=$REPMGR_USERNAME dbname=$REPMGR_DATABASE connect_timeout=$REPMGR_CONNECT_TIMEOUT" \
    --force-rewind --verbose >"$PG_HOME/rejoin.log" 2>&1; then
    standin_write_pg_conf
    standin_stop_pg
    standin_start_pg
    if standin_streaming_from "$host"; then
      standin_log "rejoined as a standby of $host (pg_rewind where needed, data kept)"
      return 0
    fi
  fi
  cat "$PG_HOME/rejoin.log" >&2 || true
  standin_stop_pg
  local aside
  aside="$PG_BASE/data.displaced-$(date -u +%Y%m%dT%H%M%SZ)"
  standin_log "node rejoin failed: moving the old data to $aside (kept, never deleted) and cloning from $host"
  mv "$PGDATA_DIR" "$aside"
  standin_clone_from "$host" "$port"
}

standin_setup_witness() {
  if [[ ! -f "$PGDATA_DIR/PG_VERSION" ]]; then
    standin_initdb
    standin_write_pg_conf
    standin_start_pg
    standin_create_roles
  else
    standin_write_pg_conf
    standin_start_pg
  fi
  standin_wait_for_primary
  read -r host port <<<"$FOUND_PRIMARY"
  standin_refresh_record "$host" "$port" "$(standin_node_id)"
  standin_repmgr witness register -h "$host" -p "$port" -U "$REPMGR_USERNAME" -d "$REPMGR_DATABASE" --force >/dev/null ||
    standin_die "repmgr witness register with $host failed"
  standin_log "registered as a witness of $host"
}

standin_setup_data() {
  local host port tries=3
  [[ -f "$PGDATA_DIR/PG_VERSION" ]] || tries=2
  # Partners may still be starting: a few quick looks before deciding.
  for _ in $(seq 1 "$tries"); do
    standin_find_primary
    [[ -n "$FOUND_PRIMARY" ]] && break
    sleep 2
  done
  if [[ -n "$FOUND_PRIMARY" ]]; then
    read -r host port <<<"$FOUND_PRIMARY"
    if [[ -f "$PGDATA_DIR/PG_VERSION" ]]; then
      standin_write_pg_conf
      standin_rejoin "$host" "$port"
    else
      standin_clone_from "$host" "$port"
    fi
    return 0
  fi
  if [[ -n "$NAMED_PRIMARY" ]]; then
    standin_log "no partner answers as the primary, but the metadata names $NAMED_PRIMARY: waiting for it"
    standin_wait_for_primary
    standin_setup_data
    return 0
  fi
  if [[ -f "$PGDATA_DIR/PG_VERSION" && ! -f "$PGDATA_DIR/standby.signal" ]]; then
    standin_log "this node's data is a primary's and no partner is a primary: starting as the primary"
    standin_write_pg_conf
    standin_become_primary
    return 0
  fi
  if [[ ! -f "$PGDATA_DIR/PG_VERSION" && "$REPMGR_PRIMARY_HOST" == "$REPMGR_NODE_NETWORK_NAME" ]]; then
    standin_initdb
    standin_write_pg_conf
    standin_start_pg
    standin_create_roles
    standin_become_primary
    return 0
  fi
  standin_wait_for_primary
  standin_setup_data
}

standin_setup() {
  standin_validate
  local id
  id=$(standin_node_id)
  standin_log "node id $id, type $REPMGR_NODE_TYPE, location $REPMGR_NODE_LOCATION, image $(cat /opt/bitnami/standin/VERSION 2>/dev/null || echo unknown)"
  mkdir -p "$PG_HOME/logs"
  standin_write_pgpass
  standin_write_repmgr_conf "$id"
  # Setup runs first in a fresh container: no server runs yet, so a postmaster.pid is stale
  # (left by a killed container; its PID could belong to another process here).
  rm -f "$PGDATA_DIR/postmaster.pid"
  if [[ "$REPMGR_NODE_TYPE" == witness ]]; then standin_setup_witness; else standin_setup_data; fi
}
