/** The EMS installer: file name, command line and the install script run over SSH. */
import type { Deployment, EmsNodeConfig } from "../config/schema";
import { renderServiceCheck } from "./ems-services";
import { raw, sh, shellQuote, words } from "./escape";

/** Where the toolkit keeps its state on an EMS host. */
export const EMS_STATE_DIR = "/var/lib/ems-ha";
export const SECRET_DIR = `${EMS_STATE_DIR}/secrets` as const;
export const DB_PASSWORD_FILE = `${SECRET_DIR}/db_password` as const;
export const INSTALLED_VERSION_FILE = `${EMS_STATE_DIR}/ems-installed-version` as const;
export const INSTALL_SCRIPT_PATH = `${EMS_STATE_DIR}/install-ems.sh` as const;
/** What the last finished install was given, one `key=value` a line (no secret in it). */
export const INSTALL_SETTINGS_FILE = `${EMS_STATE_DIR}/ems-install-settings` as const;
/** sha256 of a per-host salt and the DB password the last finished install was given (root only). */
export const INSTALL_PASSWORD_DIGEST_FILE = `${EMS_STATE_DIR}/ems-install-password.sha256` as const;
/** The per-host random salt of that digest (root only). */
export const INSTALL_SALT_FILE = `${EMS_STATE_DIR}/ems-install-salt` as const;

export function installerFileName(version: string): string {
  return `forticlientems_${version}.F.bin`;
}

export function installerPath(d: Deployment): string {
  return `${d.installer.installDir.replace(/\/+$/, "")}/${installerFileName(d.installer.version)}`;
}

export interface InstallerArgsOptions {
  /** The first EMS node deploys the database; the others pass --skip_db_deploy. */
  readonly primary: boolean;
  /** Hosts for --db_host, in order. */
  readonly dbHosts: ReadonlyArray<string>;
  readonly dbPort: number;
  readonly dbUser: string;
  /** What to pass as --db_pass: a shell expression such as "$DB_PASS", never a literal secret. */
  readonly passwordExpr: string;
}

/** The installer's arguments after `--`, as the guide documents them. */
export function installerArgs(o: InstallerArgsOptions): string[] {
  const args = ["--db_host", o.dbHosts.join(","), "--db_port", String(o.dbPort), "--db_user", o.dbUser, "--db_pass", o.passwordExpr, "--skip_db_install"];
  if (!o.primary) args.push("--skip_db_deploy");
  args.push("--allowed_hosts", "*", "--enable_remote_https");
  return args;
}

/** A word of the command line; a double-quoted expansion of a variable such as "$DB_PASS" stays as it is. */
function q(s: string): string {
  return /^"\$[A-Za-z_][A-Za-z0-9_]*"$/.test(s) ? s : shellQuote(s);
}

/**
 * The remote-exec command that prepares an EMS host before the uploads: the installer's
 * directory, the state directory and the root-only secrets directory (created 0700 before
 * any secret is uploaded into it). For a remote-exec `inline` entry, pass it through
 * terraformLiteral (Terraform reads `${` in any string as an interpolation).
 */
export function renderEmsPrepareCommand(d: Deployment): string {
  return sh`mkdir -p ${d.installer.installDir} ${EMS_STATE_DIR} && install -d -m 700 ${SECRET_DIR}`;
}

/** The command line, e.g. `./forticlientems_7.4.4.2034.F.bin -- --db_host 10.0.0.1,10.0.0.2 ...`. */
export function installerCommandLine(version: string, o: InstallerArgsOptions): string {
  return [shellQuote(`./${installerFileName(version)}`), "--", ...installerArgs(o).map(q)].join(" ");
}

/** RHEL 9 prerequisites from the guide, per cloud. */
export function rhelPrerequisites(os: EmsNodeConfig["os"]): string[] {
  if (os === "rhel9-aws") return ["dnf config-manager --set-enabled codeready-builder-for-rhel-9-rhui-rpms"];
  if (os !== "rhel9-azure") return [];
  return [
    'if [ "$(dnf repolist enabled | grep -c codeready-builder-for-rhel-9-x86_64-eus-rhui-rpms)" = 0 ]; then subscription-manager repos --enable codeready-builder-for-rhel-9-x86_64-eus-rhui-rpms; fi',
    'dnf install -y "https://download.postgresql.org/pub/repos/yum/reporpms/EL-$(rpm -E %rhel)-$(uname -m)/pgdg-redhat-repo-latest.noarch.rpm"',
    "dnf config-manager --disable pgdg17 pgdg16",
    'dnf install -y "https://rpms.remirepo.net/enterprise/remi-release-$(rpm -q --qf "%{VERSION}" redhat-release).rpm"',
    "curl -fsSL -o /etc/pki/rpm-gpg/RPM-GPG-KEY-remi2021 https://rpms.remirepo.net/RPM-GPG-KEY-remi2021",
    "rpm --import /etc/pki/rpm-gpg/RPM-GPG-KEY-remi2021",
    'ln -sf /etc/pki/rpm-gpg/RPM-GPG-KEY-remi2021 "/etc/pki/rpm-gpg/RPM-GPG-KEY-remi.el$(rpm -q --qf "%{VERSION}" redhat-release)"',
  ];
}

export interface EmsInstallScriptOptions {
  readonly primary: boolean;
  readonly dbHosts: ReadonlyArray<string>;
}

/**
 * The `key=value` lines that say what an install of this node is given, but the password: the
 * version and installer checksum, the role, and the DB hosts, port and user of its command line.
 */
function emsInstallSettings(d: Deployment, o: EmsInstallScriptOptions): string[] {
  return [
    `version=${d.installer.version}`,
    `installer_sha256=${d.installer.source.sha256}`,
    `role=${o.primary ? "primary" : "secondary"}`,
    `db_hosts=${o.dbHosts.join(",")}`,
    `db_port=${d.database.port}`,
    `db_user=${d.database.user}`,
  ];
}

/**
 * The idempotent install script for one EMS node. It reads the DB password from
 * DB_PASSWORD_FILE (uploaded separately), never prints it, and removes it at exit.
 *
 * It runs the installer unless the last finished install was given the same settings
 * (`emsInstallSettings`: version, installer checksum, role, DB hosts, port, user) and the same DB
 * password (compared as a salted sha256 kept on the host, root only); then it only re-checks the
 * services. So a step replaced for a new DB host list
 * or a rotated password runs the installer with them, and one replaced with nothing changed does
 * not (docs/operations.md, "Rotating the passwords"). The record is removed before the installer
 * runs and written when it succeeds: an install that failed runs again.
 */
export function renderEmsInstallScript(d: Deployment, node: EmsNodeConfig, o: EmsInstallScriptOptions): string {
  const version = d.installer.version;
  const dir = d.installer.installDir.replace(/\/+$/, "");
  const file = installerFileName(version);
  const src = d.installer.source;
  const role = o.primary ? "primary" : "secondary";
  const cmd = installerCommandLine(version, {
    primary: o.primary,
    dbHosts: o.dbHosts,
    dbPort: d.database.port,
    dbUser: d.database.user,
    passwordExpr: '"$DB_PASS"',
  });
  const lines: string[] = [
    "#!/usr/bin/env bash",
    sh`# ems-ha: install FortiClient EMS ${version} on ${node.name} as the EMS ${role}. Generated; do not edit.`,
    "set -euo pipefail",
    `trap 'rm -f ${DB_PASSWORD_FILE}' EXIT`,
    sh`log() { echo "[ems-ha ${node.name}] $*"; }`,
    sh`mkdir -p ${EMS_STATE_DIR}`,
  ];
  if (node.clonedVm) {
    lines.push(
      sh`if [ ! -f ${EMS_STATE_DIR}/machine-id-reset ]; then`,
      `  log "cloned VM: regenerating machine-id"`,
      "  rm -f /etc/machine-id /var/lib/dbus/machine-id",
      "  systemd-machine-id-setup",
      sh`  touch ${EMS_STATE_DIR}/machine-id-reset`,
      "fi",
    );
  }
  lines.push(
    sh`[ -s ${DB_PASSWORD_FILE} ] || { echo "ems-ha: the DB password file is missing" >&2; exit 1; }`,
    "# What this install is given (no secret), and a salted digest of the password: the installer runs",
    "# again only when one of them differs from the last finished install.",
    sh`settings=$(printf '%s\\n' ${words(emsInstallSettings(d, o))})`,
    sh`[ -s ${INSTALL_SALT_FILE} ] || (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \\n' > ${INSTALL_SALT_FILE})`,
    sh`digest=$({ cat ${INSTALL_SALT_FILE}; printf '\\n'; cat ${DB_PASSWORD_FILE}; } | sha256sum | cut -d' ' -f1)`,
    'changed=""',
    sh`if [ ! -f ${INSTALLED_VERSION_FILE} ] || [ ! -f ${INSTALL_SETTINGS_FILE} ] || [ ! -f ${INSTALL_PASSWORD_DIGEST_FILE} ]; then`,
    '  changed="no record of a finished install"',
    "else",
    "  while IFS= read -r line; do",
    sh`    grep -qxF -- "$line" ${INSTALL_SETTINGS_FILE} || changed="\${changed:+$changed, }\${line%%=*}"`,
    '  done <<<"$settings"',
    sh`  [ "$(cat ${INSTALL_PASSWORD_DIGEST_FILE})" = "$digest" ] || changed="\${changed:+$changed, }the DB password"`,
    '  [ -z "$changed" ] || changed="changed since the last install: $changed"',
    "fi",
    'if [ -z "$changed" ]; then',
    sh`  log "EMS ${version} already installed with these settings and DB password: installer not run again"`,
    "else",
    '  log "running the installer ($changed)"',
    sh`  rm -f ${INSTALL_SETTINGS_FILE} ${INSTALL_PASSWORD_DIGEST_FILE}`,
    "  umask 022",
    "  # The guide: umask 022 in /etc/login.defs if the existing setting is more restrictive.",
    "  if grep -Eq '^UMASK[[:space:]]+0?(077|027|026|007)' /etc/login.defs 2>/dev/null; then",
    "    sed -i -E 's/^UMASK[[:space:]]+.*/UMASK\\t\\t022/' /etc/login.defs",
    '    log "umask in /etc/login.defs set to 022"',
    "  fi",
  );
  // Fixed commands of the guide (no deployment value in them).
  for (const step of rhelPrerequisites(node.os)) lines.push(sh`  ${raw(step)}`);
  lines.push(sh`  mkdir -p ${dir}`, sh`  cd ${dir}`);
  if (src.kind === "url") {
    lines.push(
      sh`  if ! echo "${src.sha256}  ${file}" | sha256sum -c --status 2>/dev/null; then`,
      `    log "downloading the installer"`,
      sh`    curl -fsSL --retry 3 --max-time 1800 -o ${`${file}.part`} ${src.url}`,
      sh`    mv ${`${file}.part`} ${file}`,
      "  fi",
    );
  }
  lines.push(
    sh`  if ! echo "${src.sha256}  ${file}" | sha256sum -c --status; then`,
    sh`    echo "ems-ha: ${dir}/${file} does not match sha256 ${src.sha256}" >&2`,
    "    exit 1",
    "  fi",
    sh`  chmod +x ${file}`,
    "  # The vendor installer takes the password only as --db_pass: its command line is the one place it",
    "  # shows (to local users, in ps, while the installer runs; docs/security.md). Nothing else gets it.",
    sh`  DB_PASS="$(cat ${DB_PASSWORD_FILE})"`,
    sh`  log "running the installer as EMS ${role} (--db_host ${o.dbHosts.join(",")})"`,
    // Every word of the command line is quoted by installerCommandLine.
    sh`  ${raw(cmd)}`,
    "  unset DB_PASS",
    sh`  echo "${version}" > ${INSTALLED_VERSION_FILE}`,
    sh`  printf '%s\\n' "$settings" > ${INSTALL_SETTINGS_FILE}`,
    sh`  (umask 077 && printf '%s\\n' "$digest" > ${INSTALL_PASSWORD_DIGEST_FILE})`,
    `  log "installer finished"`,
    "fi",
    sh`log "checking the services of an EMS ${role}"`,
    renderServiceCheck(role),
  );
  return lines.join("\n") + "\n";
}
