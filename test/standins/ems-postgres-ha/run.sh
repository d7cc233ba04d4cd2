#!/bin/bash
# ---------------------------------------------------------------------------
# STAND-IN for the vendor image ems-postgres-ha: NOT the product (README.md).
# /opt/bitnami/scripts/postgresql-repmgr/run.sh: PostgreSQL is already up (entrypoint.sh);
# repmgrd runs in the foreground. When repmgrd exits the container exits, and Docker's
# restart policy starts it again. docker stop (SIGTERM): repmgrd stops, then PostgreSQL
# with a fast shutdown.
# ---------------------------------------------------------------------------
set -uo pipefail
# shellcheck source=libstandin.sh
. /opt/bitnami/scripts/postgresql-repmgr/libstandin.sh
standin_env

# The server log goes to docker logs.
tail -n 0 -F "$PG_LOG" 2>/dev/null &
TAIL_PID=$!

stopping=0
on_term() {
  stopping=1
  standin_log "stopping: repmgrd, then PostgreSQL (fast shutdown)"
  [[ -n "${REPMGRD_PID:-}" ]] && kill -TERM "$REPMGRD_PID" 2>/dev/null
  standin_stop_pg
  kill "$TAIL_PID" 2>/dev/null
  exit 0
}
trap on_term TERM INT

repmgrd -f "$REPMGR_CONF" --daemonize=false &
REPMGRD_PID=$!
wait "$REPMGRD_PID"
rc=$?
((stopping)) && exit 0
standin_log "repmgrd exited ($rc); stopping PostgreSQL so the container restarts cleanly"
standin_stop_pg
kill "$TAIL_PID" 2>/dev/null
exit $((rc == 0 ? 1 : rc))
