#!/usr/bin/env bash
# ems-ha: upgrade step "stop" on pgn-1 (primary). Generated; do not edit.
set -euo pipefail
log() { echo "[ems-ha pgn-1 stop] $*"; }
fail() { echo "ems-ha pgn-1 stop: $*" >&2; exit 1; }
command -v docker >/dev/null || fail "docker is not installed on pgn-1"
NEW=pgn-1
MARK=ems-postgres-ha:latest@0000000000000000
VOLUME=pg_1_data
# The new container runs when a container of this name carries the upgrade label.
new_running() { [ "$(docker inspect -f '{{index .Config.Labels "ems-ha.upgrade"}} {{.State.Running}}' "$NEW" 2>/dev/null)" = "$MARK true" ]; }
new_exists() { [ "$(docker inspect -f '{{index .Config.Labels "ems-ha.upgrade"}}' "$NEW" 2>/dev/null)" = "$MARK" ]; }
# The old container: under its old name, or renamed once stopped when the new one keeps the name.
old_name() {
  for c in pg-1; do
    if docker inspect "$c" >/dev/null 2>&1 && [ "$(docker inspect -f '{{index .Config.Labels "ems-ha.upgrade"}}' "$c")" != "$MARK" ]; then echo "$c"; return 0; fi
  done
  return 1
}
mounted_volume() { docker inspect -f '{{range .Mounts}}{{if eq .Destination "/bitnami/postgresql"}}{{.Name}}{{end}}{{end}}' "$1"; }
if new_exists; then log "already upgraded: nothing to stop"; exit 0; fi
OLD=$(old_name) || { log "no old container left to stop"; exit 0; }
# --restart always would start the old container again at the next boot, on the same volume as the new one.
docker update --restart=no "$OLD" >/dev/null
if [ "$(docker inspect -f '{{.State.Running}}' "$OLD")" = true ]; then docker stop --time 60 "$OLD" >/dev/null; log "stopped $OLD"; fi
