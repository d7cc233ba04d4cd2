/**
 * The standalone remote PostgreSQL server of the guide's "EMS nodes in HA with standalone remote
 * DB" (and of the VM appliances), installed natively on one Debian/Ubuntu host: PostgreSQL 15,
 * the EMS extensions, the extension's symmetric key, listen_addresses, pg_hba for the EMS nodes,
 * the password of the EMS database user, PGTune. One idempotent script, run over SSH.
 */
import { isIpv4 } from "../config/semantics";
import type { DbNodeConfig, Deployment, StandaloneSettings } from "../config/schema";
import { pgtuneForNode } from "./pgtune";
import { hbaField, heredoc, pgConfValue, raw, sh, shellSingleQuote, sqlIdent, sqlLiteral } from "./escape";

type Managed = Extract<StandaloneSettings, { mode: "managed" }>;

export const STANDALONE_STATE_DIR = "/var/lib/ems-ha";
export const STANDALONE_SCRIPT_PATH = `${STANDALONE_STATE_DIR}/setup-standalone-db.sh` as const;
export const STANDALONE_PASSWORD_FILE = `${STANDALONE_STATE_DIR}/secrets/db_password` as const;
export const EXTENSIONS_UPLOAD_PATH = `${STANDALONE_STATE_DIR}/ems_pg_extensions.tar.gz` as const;
const PG = 15;
const CONF_DIR = `/etc/postgresql/${PG}/main` as const;
/** Where the guide keeps the extension's key (native topology, step 3). */
export const SYMMETRIC_KEY_FILE = `/var/lib/postgresql/${PG}/symmetric_key.txt` as const;
export const HBA_BEGIN = "# BEGIN ems-ha standalone (rewritten on deploy)";
export const HBA_END = "# END ems-ha standalone";
/** The sed program that deletes the block (the parentheses of HBA_BEGIN as `.`). */
const HBA_SED_DELETE = "/^# BEGIN ems-ha standalone .rewritten on deploy.$/,/^# END ems-ha standalone$/d";

/** The one server of a standalone topology. */
export function standaloneServer(d: Deployment): DbNodeConfig {
  const n = d.database.nodes[0];
  if (!n) throw new Error("database.nodes is empty; validate the deployment first");
  return n;
}

function hbaAddress(address: string): string {
  return isIpv4(address) ? `${address}/32` : hbaField(address, "an address");
}

/** pg_hba lines, placed before Debian's defaults (first match wins, docs/background.md#native-postgresql-and-repmgr). */
export function standaloneHbaLines(d: Deployment, s: Managed): string[] {
  const user = d.database.user;
  const sources = [...d.emsNodes.map((n) => hbaAddress(n.address)), ...s.clientNetworks];
  return [
    HBA_BEGIN,
    ...[...new Set(sources)].map((src) =>
      ["host   ", "all   ", hbaField(user, "database.user") + "   ", hbaField(src, "a client network") + "   ", "scram-sha-256"].join(" "),
    ),
    HBA_END,
  ];
}

/** The drop-in in conf.d: listen address, port, and PGTune's settings. */
export function standaloneConf(d: Deployment, s: Managed): string {
  const server = standaloneServer(d);
  const lines = [
    "# ems-ha: standalone EMS database. Generated; do not edit.",
    "listen_addresses = " + pgConfValue(`localhost,${server.address}`, "listen_addresses"),
    "port = " + String(d.database.port),
  ];
  if (s.tune) lines.push(pgtuneForNode(server, d.database.maxConnections).trimEnd());
  else lines.push("max_connections = " + String(d.database.maxConnections));
  return lines.join("\n") + "\n";
}

function packageSteps(s: Managed): string[] {
  if (s.packages === "preinstalled") {
    return [
      `[ -x /usr/lib/postgresql/${PG}/bin/postgres ] || fail "postgresql-${PG} is not installed and standalone.packages is preinstalled; install it or choose pgdg/distribution"`,
    ];
  }
  const steps = [`if ! dpkg -s postgresql-${PG} >/dev/null 2>&1; then`, "  export DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8"];
  if (s.packages === "pgdg") {
    steps.push(
      "  apt-get update -q",
      "  apt-get install -y --no-install-recommends curl ca-certificates lsb-release",
      "  install -d /usr/share/postgresql-common/pgdg",
      "  curl -fsS -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc",
      '  echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt $(lsb_release -cs)-pgdg main" > /etc/apt/sources.list.d/pgdg.list',
    );
  }
  steps.push("  apt-get update -q", `  apt-get install -y --no-install-recommends postgresql-${PG}`, `  log "installed postgresql-${PG}"`, "fi");
  return steps;
}

/**
 * The setup script. Every step checks before it changes: a second run on a healthy server
 * changes nothing (no initdb over data, no key regenerated, no restart without a config change).
 */
export function renderStandaloneDbScript(d: Deployment, s: Managed): string {
  const server = standaloneServer(d);
  const user = d.database.user;
  const conf = standaloneConf(d, s);
  const hba = standaloneHbaLines(d, s);
  const port = d.database.port;
  const lines = [
    "#!/usr/bin/env bash",
    sh`# ems-ha: standalone EMS database on ${server.name}. Generated; do not edit.`,
    "set -euo pipefail",
    `trap 'rm -f ${STANDALONE_PASSWORD_FILE}' EXIT`,
    sh`log() { echo "[ems-ha ${server.name}] $*"; }`,
    sh`fail() { echo "ems-ha ${server.name}: $*" >&2; exit 1; }`,
    `[ "$(id -u)" = 0 ] || fail "run as root (ssh.user root, or a user with passwordless sudo)"`,
    sh`mkdir -p ${STANDALONE_STATE_DIR}`,
    ...packageSteps(s),
    sh`if [ ! -f ${CONF_DIR}/postgresql.conf ]; then`,
    sh`  pg_createcluster --locale C.UTF-8 ${PG} main`,
    sh`  log "created cluster ${PG}/main"`,
    "fi",
    sh`svc() { if [ -d /run/systemd/system ]; then systemctl "$1" postgresql@${PG}-main; else pg_ctlcluster --skip-systemctl-redirect ${PG} main "$1"; fi; }`,
    "restart=no; reload=no",
  ];
  if (s.extensions) {
    const sha = s.extensions.sha256;
    const marker = `${STANDALONE_STATE_DIR}/extensions-${sha}`;
    lines.push(
      sh`if [ ! -f ${marker} ]; then`,
      sh`  echo "${sha}  ${EXTENSIONS_UPLOAD_PATH}" | sha256sum -c --status || fail "${EXTENSIONS_UPLOAD_PATH} does not match sha256 ${sha}"`,
      sh`  tar -xzf ${EXTENSIONS_UPLOAD_PATH} -C /`,
      sh`  touch ${marker}`,
      "  restart=yes",
      '  log "EMS PostgreSQL extensions extracted to /"',
      "fi",
    );
  }
  const confFile = `${CONF_DIR}/conf.d/ems-ha.conf`;
  lines.push(
    "# The extension's key: created once, never replaced (data encrypted with it would be lost).",
    sh`if [ ! -s ${SYMMETRIC_KEY_FILE} ]; then`,
    "  # created 0600 before the key is written into it",
    sh`  install -m 600 -o postgres -g postgres /dev/null ${SYMMETRIC_KEY_FILE}`,
    "  key=$(head -c 20 /dev/urandom | md5sum)",
    sh`  printf '%s' "\${key:0:20}" > ${SYMMETRIC_KEY_FILE}`,
    '  log "symmetric key created"',
    "fi",
    sh`mkdir -p ${CONF_DIR}/conf.d`,
    heredoc(sh`cat > ${confFile}.new`, "EMS_HA_CONF", conf),
    sh`if cmp -s ${confFile}.new ${confFile}; then rm -f ${confFile}.new; else`,
    sh`  mv ${confFile}.new ${confFile}; chown postgres:postgres ${confFile}; restart=yes; log "conf.d/ems-ha.conf written"`,
    "fi",
    sh`grep -Eq "^[[:space:]]*include_dir[[:space:]]*=[[:space:]]*'conf.d'" ${CONF_DIR}/postgresql.conf || fail "${CONF_DIR}/postgresql.conf does not include conf.d; add include_dir = 'conf.d'"`,
    sh`hba=${CONF_DIR}/pg_hba.conf`,
    heredoc("{ cat", "EMS_HA_HBA", hba.join("\n")),
    sh`  sed ${HBA_SED_DELETE} "$hba"; } > "$hba.new"`,
    'if cmp -s "$hba.new" "$hba"; then rm -f "$hba.new"; else mv "$hba.new" "$hba"; chown postgres:postgres "$hba"; chmod 640 "$hba"; reload=yes; log "pg_hba.conf: EMS nodes allowed"; fi',
    'if [ "$restart" = yes ]; then svc restart; log "PostgreSQL restarted"; elif ! svc status >/dev/null 2>&1; then svc start; elif [ "$reload" = yes ]; then svc reload; fi',
    sh`for i in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p ${port} && break; [ "$i" = 30 ] && fail "PostgreSQL does not answer on port ${port}"; sleep 2; done`,
    sh`[ -s ${STANDALONE_PASSWORD_FILE} ] || fail "the DB password file is missing"`,
    "# The password reaches psql in its environment (\\getenv), never on a command line or in a file postgres can read;",
    "# the session logs no statement (an audit log_statement would otherwise record the ALTER ROLE with it).",
    sh`EMS_HA_PW="$(cat ${STANDALONE_PASSWORD_FILE})" runuser -u postgres -- psql -p ${port} -v ON_ERROR_STOP=1 -q <<'EMS_HA_SQL'
\\getenv pw EMS_HA_PW
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${sqlLiteral(user)}) AS missing \\gset
\\if :missing
CREATE ROLE ${sqlIdent(user)} WITH LOGIN SUPERUSER;
\\endif
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
ALTER ROLE ${sqlIdent(user)} WITH PASSWORD :'pw';
EMS_HA_SQL`,
    sh`log "password of ${user} set from the sensitive variable"`,
    sh`log "ready: EMS connects with --db_host ${server.address} --db_port ${port} --db_user ${user}"`,
  );
  return lines.join("\n") + "\n";
}

/** A bounded TCP check, run on an EMS node, that the server answers before the installer runs. */
export function renderDbReachableCheck(address: string, port: number, attempts = 12, intervalSeconds = 5): string {
  // Quoted twice: for the inner bash (the address in its script) and for this one (the script as one word).
  const probe = shellSingleQuote(sh`exec 3<>/dev/tcp/${address}/${port}`);
  return [
    sh`for i in $(seq 1 ${attempts}); do`,
    sh`  if timeout 3 bash -c ${raw(probe)} 2>/dev/null; then echo "[ems-ha] ${address}:${port} answers"; exit 0; fi`,
    sh`  sleep ${intervalSeconds}`,
    "done",
    sh`echo "ems-ha: the database ${address}:${port} does not answer from $(hostname) after ${attempts * intervalSeconds} s; check the server, its listen_addresses and the firewall" >&2`,
    "exit 1",
  ].join("\n");
}
