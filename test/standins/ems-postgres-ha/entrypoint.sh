#!/bin/bash
# ---------------------------------------------------------------------------
# STAND-IN for the vendor image ems-postgres-ha: NOT the product (README.md).
# /opt/bitnami/scripts/postgresql-repmgr/entrypoint.sh, as in the Bitnami image:
#   - with the default command (run.sh): sets the node up (primary, standby or witness),
#     then runs run.sh (repmgrd as the main process);
#   - with any other command (docker exec NODE entrypoint.sh repmgr -f ... cluster show):
#     prepares the environment and runs it.
# ---------------------------------------------------------------------------
set -euo pipefail
# shellcheck source=libstandin.sh
. /opt/bitnami/scripts/postgresql-repmgr/libstandin.sh
standin_env
if [[ "${1:-}" == "$STANDIN_DIR/run.sh" ]]; then
  standin_setup
fi
exec "$@"
