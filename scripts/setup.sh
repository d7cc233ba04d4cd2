#!/usr/bin/env bash
# One-time machine setup for the test suite (`npm run setup`), on Debian 12 / Ubuntu:
#  - the Debian packages the tests use: PostgreSQL 15 + repmgr and sshd (the operations tests on
#    loopback), debootstrap and systemd-container (the lab tests' Debian 12 hosts), logrotate
#    (reads the native topology's rotation of repmgrd's log);
#  - an empty Terraform CLI config at ~/.config/ems-ha/terraformrc, for those who point
#    TF_CLI_CONFIG_FILE at it (a missing file makes every terraform call warn);
#  - a check that Terraform >= 1.5 is on PATH (the plan tests run it; it is not a Debian package).
# Installing needs root (or sudo). Idempotent: installs only what is missing.
set -euo pipefail

PKGS=(postgresql-15 postgresql-15-repmgr openssh-server openssh-client sudo debootstrap systemd-container iproute2 procps logrotate)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "setup: installing Debian packages needs root; run as root or install sudo" >&2; exit 1
  fi
}

echo "== Debian packages"
command -v dpkg >/dev/null || { echo "setup: dpkg not found: this script installs Debian packages (Debian 12 / Ubuntu); install ${PKGS[*]} yourself" >&2; exit 1; }
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "all present: ${PKGS[*]}"
fi
# The distribution's default cluster is not used by the tests.
clusters="$(command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null || true)"
if [[ "$clusters" =~ (^|$'\n')15\ main[^$'\n']*online ]]; then
  as_root pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
fi

echo "== Terraform CLI config"
mkdir -p "$HOME/.config/ems-ha"
[ -e "$HOME/.config/ems-ha/terraformrc" ] || : > "$HOME/.config/ems-ha/terraformrc"
echo "$HOME/.config/ems-ha/terraformrc (empty unless you added to it)"

echo "== terraform"
if ! command -v terraform >/dev/null; then
  echo "setup: terraform is not on PATH: the plan and lab tests need Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install)" >&2
  exit 1
fi
# Captured, then cut: piping terraform's version into a reader that stops after one line fails
# the script (141, under pipefail) whenever terraform writes its second line after that reader left.
tf_version="$(TF_CLI_CONFIG_FILE="$HOME/.config/ems-ha/terraformrc" terraform version)"
echo "${tf_version%%$'\n'*}"
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$TF_CLI_CONFIG_FILE" ]; then
  echo "note: TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE does not exist, so every terraform call warns (cdktf shows it as [ERROR])."
  echo "      Create that file, unset the variable, or: export TF_CLI_CONFIG_FILE=$HOME/.config/ems-ha/terraformrc"
fi
