#!/usr/bin/env bash
# ems-ha: upgrade step "start" on pgn-2 (standby). Generated; do not edit.
set -euo pipefail
log() { echo "[ems-ha pgn-2 start] $*"; }
fail() { echo "ems-ha pgn-2 start: $*" >&2; exit 1; }
command -v docker >/dev/null || fail "docker is not installed on pgn-2"
NEW=pgn-2
MARK=ems-postgres-ha:latest@0000000000000000
VOLUME=pg_2_data
# The new container runs when a container of this name carries the upgrade label.
new_running() { [ "$(docker inspect -f '{{index .Config.Labels "ems-ha.upgrade"}} {{.State.Running}}' "$NEW" 2>/dev/null)" = "$MARK true" ]; }
new_exists() { [ "$(docker inspect -f '{{index .Config.Labels "ems-ha.upgrade"}}' "$NEW" 2>/dev/null)" = "$MARK" ]; }
# The old container: under its old name, or renamed once stopped when the new one keeps the name.
old_name() {
  for c in pg-2; do
    if docker inspect "$c" >/dev/null 2>&1 && [ "$(docker inspect -f '{{index .Config.Labels "ems-ha.upgrade"}}' "$c")" != "$MARK" ]; then echo "$c"; return 0; fi
  done
  return 1
}
mounted_volume() { docker inspect -f '{{range .Mounts}}{{if eq .Destination "/bitnami/postgresql"}}{{.Name}}{{end}}{{end}}' "$1"; }
ENV_FILE=/tmp/ems-ha-ssh-engine-k07RXZ/var-lib-ems-ha/secrets/pgn-2.env
trap 'rm -f "$ENV_FILE"' EXIT
if new_exists && ! new_running; then docker start "$NEW" >/dev/null; log "started the existing new container"; fi
if ! new_exists; then
  if old=$(old_name) && [ "$(docker inspect -f '{{.State.Running}}' "$old")" = true ]; then fail "old container $old still runs; the stop step must run first"; fi
  docker volume inspect "$VOLUME" >/dev/null 2>&1 || fail "volume $VOLUME does not exist on this host; it must be the volume the old container used (docker would create an empty one)"
  users=$(docker ps -q --filter "volume=$VOLUME")
  [ -z "$users" ] || fail "volume $VOLUME is in use by running container(s) $users"
  [ -s "$ENV_FILE" ] || fail "the password env file is missing"
check_env_file() {
  local f=$1 line key n=0 seen=" "
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    key=${line%%=*}
    case "$key" in
      POSTGRESQL_PASSWORD|REPMGR_PASSWORD) ;;
      *) fail "line $n of $f does not set a password variable: a secret contains a newline; remove it from TF_VAR_db_password / TF_VAR_repmgr_password" ;;
    esac
    case "$seen" in *" $key "*) fail "$key is set twice in $f: a secret contains a newline; remove it" ;; esac
    seen="$seen$key "
  done < "$f"
  [ "$n" = 2 ] || fail "$f has $n lines, not 2: a secret contains a newline, or the file is incomplete"
}
check_env_file /tmp/ems-ha-ssh-engine-k07RXZ/var-lib-ems-ha/secrets/pgn-2.env
  docker run --restart always --detach --name pgn-2 --label ems-ha.upgrade=ems-postgres-ha:latest@0000000000000000 -p 5432:5432 --env-file /tmp/ems-ha-ssh-engine-k07RXZ/var-lib-ems-ha/secrets/pgn-2.env --env REPMGR_PRIMARY_HOST=pgn-1 --env REPMGR_PRIMARY_PORT=5432 --env REPMGR_PARTNER_NODES=pgn-1,pgn-2,pgnw-1:5432 --env REPMGR_NODE_NAME=pgn-2 --env REPMGR_NODE_NETWORK_NAME=pgn-2 --env REPMGR_PORT_NUMBER=5432 --env REPMGR_DEGRADED_MONITORING_TIMEOUT=-1 --env REPMGR_NODE_PRIORITY=100 --env REPMGR_UPGRADE_EXTENSION=yes --volume pg_2_data:/bitnami/postgresql --volume /home/ems/conf.d:/bitnami/postgresql/conf/conf.d --shm-size 1024m --add-host pgn-1:192.168.1.21 --add-host pgn-2:192.168.1.22 --add-host pgnw-1:192.168.1.23 ems-postgres-ha:latest >/dev/null
  log "started $NEW on its own volume $VOLUME"
fi
for i in $(seq 1 60); do
  r=$(docker exec "$NEW" bash -c 'PGPASSWORD="${POSTGRESQL_PASSWORD:-${POSTGRES_PASSWORD:-}}" psql -h 127.0.0.1 -p "$2" -U "$1" -d postgres -v ON_ERROR_STOP=1 -tAc "$3"' _ postgres 5432 'select pg_is_in_recovery()' 2>/dev/null | tr -d '[:space:]' || true)
  [ "$r" = "t" ] && break
  [ "$i" = 60 ] && fail "$NEW did not come up as standby within 300 s; check: docker logs $NEW"
  log "waiting for $NEW to run as standby ($i/60)"
  sleep 5
done
log "$NEW runs as standby"
