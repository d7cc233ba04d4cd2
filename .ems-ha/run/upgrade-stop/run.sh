#!/usr/bin/env bash
# ems-ha: runs this step's script as root, then removes its secrets (even when the script fails). Generated; do not edit.
set -euo pipefail
umask 077
here="$(cd "$(dirname "$0")" && pwd)"
cleanup() { rm -rf "$here/secrets" "$here/files"; }
trap cleanup EXIT
EMS_HA_SECRETS="$here/secrets" bash "$here/script.sh"
