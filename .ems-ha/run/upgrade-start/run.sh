#!/usr/bin/env bash
# ems-ha: runs this step's script as root, then removes its secrets (even when the script fails). Generated; do not edit.
set -euo pipefail
umask 077
here="$(cd "$(dirname "$0")" && pwd)"
cleanup() { rm -rf "$here/secrets" "$here/files" /tmp/ems-ha-ssh-engine-k07RXZ/var-lib-ems-ha/secrets/pgn-2.env; }
trap cleanup EXIT
install -d -m 0700 /tmp/ems-ha-ssh-engine-k07RXZ/var-lib-ems-ha/secrets
install -m 0600 "$here/secrets/"env /tmp/ems-ha-ssh-engine-k07RXZ/var-lib-ems-ha/secrets/pgn-2.env
EMS_HA_SECRETS="$here/secrets" bash "$here/script.sh"
