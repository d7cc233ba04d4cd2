/**
 * The guide's procedure "To upgrade a previously installed EMS deployment with Postgres HA using
 * EMS PostgreSQL HA Docker to 7.4.4", as per-node scripts run over SSH with the docker CLI:
 *
 *   1. prepare: ALTER SYSTEM SET shared_preload_libraries on the old container (every node);
 *   2. stop:    the old containers, witnesses and standbys before the primary (no failover),
 *               with their restart policy cleared so a reboot cannot start them again;
 *   3. load:    the new image (src/render/docker-host.ts, keyed on the tarball's sha256);
 *   4. start:   a new container on the node's OWN existing volume with REPMGR_UPGRADE_EXTENSION=yes;
 *               on the primary then `primary register --force`; then standbys; then witnesses.
 *
 * Departures from the guide (docs/topologies/upgrade-7-4-4.md): each node mounts its own volume
 * (the guide's step 7 mounts pg_1_data on node 2), the partner list keeps the witnesses, a volume
 * that does not exist is an error (docker would silently create an empty one), and every step is
 * skipped when the node's new container already runs.
 */
import { dataNodes, initialPrimary, witnessNodes } from "../config/derive";
import type { DbNodeConfig, Deployment } from "../config/schema";
import { containerSpec, DATA_MOUNT, type ContainerSpec } from "./bitnami";
import { dockerRunArgs, REPMGR_IN_CONTAINER } from "./docker-cli";
import { DOCKER_RECONCILE_UNIT_NAME } from "./docker-reconcile";
import { dockerEnvFile, raw, sh, sqlIdent, words } from "./escape";

export const UPGRADE_STATE_DIR = "/var/lib/ems-ha";
/** Label on every container the upgrade creates; its value identifies the new image. */
export const UPGRADE_LABEL = "ems-ha.upgrade";
/** The guide's register command (step 5), inside the new primary container. */
export const PRIMARY_REGISTER = `${REPMGR_IN_CONTAINER} primary register --force`;

export type UpgradeRole = "primary" | "standby" | "witness";

/** What a node ran before the upgrade and what it runs after. */
export interface NodeUpgrade {
  readonly node: DbNodeConfig;
  readonly role: UpgradeRole;
  /** The old container (stopped, kept for rollback). */
  readonly oldContainer: string;
  /** The old container's name once stopped, when the new container takes over its name. */
  readonly oldContainerAfter: string;
  /** The node's own existing data volume. */
  readonly volume: string;
  /** The new container's flags: the cluster's spec on the node's own volume, with REPMGR_UPGRADE_EXTENSION=yes. */
  readonly spec: ContainerSpec;
  /** Host path of the env file holding the passwords (uploaded as a sensitive file, removed by the script). */
  readonly envFile: string;
}

/** The value of UPGRADE_LABEL: the new image and, for a tarball, its sha256. */
export function upgradeMark(d: Deployment): string {
  const src = d.database.image.source;
  return `${d.database.image.name}:${d.database.image.tag}${src.kind === "tarball" ? `@${src.sha256.slice(0, 16)}` : ""}`;
}

export function roleInUpgrade(d: Deployment, node: DbNodeConfig): UpgradeRole {
  if (node.role === "witness") return "witness";
  return node.name === initialPrimary(d).name ? "primary" : "standby";
}

/** Per node: old container, own volume, new container spec. */
export function nodeUpgrade(d: Deployment, node: DbNodeConfig): NodeUpgrade {
  const upgrade = d.upgrade;
  const prev = upgrade?.previous.find((p) => p.node === node.name);
  const oldContainer = prev?.container ?? node.name;
  const volume = prev?.volume ?? `${oldContainer.replace(/-/g, "_")}_data`;
  const base = containerSpec(d, node);
  const spec: ContainerSpec = {
    ...base,
    env: [...base.env, ["REPMGR_UPGRADE_EXTENSION", "yes"]],
    volumes: base.volumes.map((v) => (v.containerPath === DATA_MOUNT ? { ...v, volumeName: volume } : v)),
  };
  return {
    node,
    role: roleInUpgrade(d, node),
    oldContainer,
    oldContainerAfter: oldContainer === node.name ? `${oldContainer}${upgrade?.renameSuffix ?? "-pre-upgrade"}` : oldContainer,
    volume,
    spec,
    envFile: `${UPGRADE_STATE_DIR}/secrets/${node.name}.env`,
  };
}

/** The nodes in the order their new containers start: primary, standbys, witnesses. */
export function upgradeOrder(d: Deployment): NodeUpgrade[] {
  const primary = initialPrimary(d);
  const standbys = dataNodes(d).filter((n) => n.name !== primary.name);
  return [primary, ...standbys, ...witnessNodes(d)].map((n) => nodeUpgrade(d, n));
}

/** The nodes in the order their old containers stop: witnesses, standbys, primary last (so nobody fails over). */
export function stopOrder(d: Deployment): NodeUpgrade[] {
  const start = upgradeOrder(d);
  return [...start.filter((u) => u.role === "witness"), ...start.filter((u) => u.role === "standby"), ...start.filter((u) => u.role === "primary")];
}

/** Shell functions shared by the steps of one node. */
function prelude(d: Deployment, u: NodeUpgrade, step: "prepare" | "stop" | "start"): string[] {
  const name = u.node.name;
  const label = raw(UPGRADE_LABEL);
  return [
    "#!/usr/bin/env bash",
    sh`# ems-ha: upgrade step "${step}" on ${name} (${u.role}). Generated; do not edit.`,
    "set -euo pipefail",
    sh`log() { echo "[ems-ha ${name} ${step}] $*"; }`,
    sh`fail() { echo "ems-ha ${name} ${step}: $*" >&2; exit 1; }`,
    sh`command -v docker >/dev/null || fail "docker is not installed on ${name}"`,
    sh`NEW=${name}`,
    sh`MARK=${upgradeMark(d)}`,
    sh`VOLUME=${u.volume}`,
    "# The new container runs when a container of this name carries the upgrade label.",
    sh`new_running() { [ "$(docker inspect -f '{{index .Config.Labels "${label}"}} {{.State.Running}}' "$NEW" 2>/dev/null)" = "$MARK true" ]; }`,
    sh`new_exists() { [ "$(docker inspect -f '{{index .Config.Labels "${label}"}}' "$NEW" 2>/dev/null)" = "$MARK" ]; }`,
    "# The old container: under its old name, or renamed once stopped when the new one keeps the name.",
    "old_name() {",
    sh`  for c in ${words([...new Set([u.oldContainerAfter, u.oldContainer])])}; do`,
    sh`    if docker inspect "$c" >/dev/null 2>&1 && [ "$(docker inspect -f '{{index .Config.Labels "${label}"}}' "$c")" != "$MARK" ]; then echo "$c"; return 0; fi`,
    "  done",
    "  return 1",
    "}",
    sh`mounted_volume() { docker inspect -f '{{range .Mounts}}{{if eq .Destination "${raw(DATA_MOUNT)}"}}{{.Name}}{{end}}{{end}}' "$1"; }`,
  ];
}

/**
 * psql inside a container (`container` is a shell expression such as "$OLD"). The user, port and
 * SQL reach the inner bash as arguments, never as part of its script text.
 */
function psqlIn(container: '"$OLD"' | '"$NEW"', user: string, port: number, sql: string): string {
  return sh`docker exec ${raw(container)} bash -c 'PGPASSWORD="\${POSTGRESQL_PASSWORD:-\${POSTGRES_PASSWORD:-}}" psql -h 127.0.0.1 -p "$2" -U "$1" -d postgres -v ON_ERROR_STOP=1 -tAc "$3"' _ ${user} ${port} ${sql}`;
}

/**
 * Step 1 on one node: checks the old container (exists, mounts the node's volume, has the role the
 * deployment expects) and sets shared_preload_libraries with ALTER SYSTEM. Skipped once upgraded.
 */
export function renderUpgradePrepareScript(d: Deployment, u: NodeUpgrade): string {
  const { port, user } = d.database;
  const libs = d.upgrade?.sharedPreloadLibraries ?? "pg_stat_statements, repmgr";
  // Each library an SQL identifier: plain names stay as they are, others are double-quoted.
  const libList = libs
    .split(",")
    .map((x) => sqlIdent(x.trim()))
    .join(", ");
  const lines = prelude(d, u, "prepare");
  lines.push(
    'if new_running; then log "already upgraded: $NEW runs the new image"; exit 0; fi',
    sh`OLD=$(old_name) || fail "old container ${u.oldContainer} not found; set upgrade.previous for ${u.node.name} to its container name"`,
    'got=$(mounted_volume "$OLD")',
    sh`[ "$got" = "$VOLUME" ] || fail "$OLD mounts volume '$got' at ${raw(DATA_MOUNT)}, not $VOLUME; set upgrade.previous[].volume to '$got'"`,
  );
  if (u.role !== "witness") {
    const expect = u.role === "primary" ? "f" : "t";
    lines.push(
      'if [ "$(docker inspect -f \'{{.State.Running}}\' "$OLD")" = true ]; then',
      sh`  r=$(${raw(psqlIn('"$OLD"', user, port, "select pg_is_in_recovery()"))} | tr -d '[:space:]')`,
      sh`  [ "$r" = "${expect}" ] || fail "$OLD is ${u.role === "primary" ? "not the primary" : "not a standby"} (pg_is_in_recovery=$r); set database.initialPrimary to the node that is the primary now"`,
      "fi",
    );
  }
  lines.push(
    'if [ "$(docker inspect -f \'{{.State.Running}}\' "$OLD")" = true ]; then',
    sh`  ${raw(psqlIn('"$OLD"', user, port, "ALTER SYSTEM SET shared_preload_libraries TO " + libList + ";"))} >/dev/null`,
    sh`  log "shared_preload_libraries set to ${libs} on $OLD"`,
    "else",
    '  log "$OLD is stopped already: ALTER SYSTEM skipped (run it by hand if the old container never had it)"',
    "fi",
  );
  return lines.join("\n") + "\n";
}

/** Step 2 on one node: stops the old container and clears its restart policy; renames it when the new container keeps the name. */
export function renderUpgradeStopScript(d: Deployment, u: NodeUpgrade): string {
  const lines = prelude(d, u, "stop");
  lines.push(
    'if new_exists; then log "already upgraded: nothing to stop"; exit 0; fi',
    'OLD=$(old_name) || { log "no old container left to stop"; exit 0; }',
    "# A reconciliation service on this host (an ems-ha deployment's) must not repair a node while the upgrade",
    "# moves it: stopped here; the upgrade's last step installs it for the new container and starts it.",
    sh`if systemctl is-active --quiet ${DOCKER_RECONCILE_UNIT_NAME} 2>/dev/null; then systemctl stop ${DOCKER_RECONCILE_UNIT_NAME}; log "stopped ${DOCKER_RECONCILE_UNIT_NAME} until the upgrade is done"; fi`,
    "# --restart always would start the old container again at the next boot, on the same volume as the new one.",
    'docker update --restart=no "$OLD" >/dev/null',
    'if [ "$(docker inspect -f \'{{.State.Running}}\' "$OLD")" = true ]; then docker stop --time 60 "$OLD" >/dev/null; log "stopped $OLD"; fi',
  );
  if (u.oldContainerAfter !== u.oldContainer) {
    lines.push(
      sh`if [ "$OLD" = ${u.oldContainer} ]; then docker rename "$OLD" ${u.oldContainerAfter}; log "kept the old container as ${u.oldContainerAfter} (rollback)"; fi`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * The `docker run` arguments of the new container: those of the single-region and geo-redundant
 * containers (src/render/docker-cli.ts, stop signal and grace included), labelled as the upgrade's;
 * the passwords come from --env-file.
 */
export function upgradeRunArgs(d: Deployment, u: NodeUpgrade): string[] {
  return ["run", ...dockerRunArgs(u.spec, { envFile: u.envFile, labels: [[UPGRADE_LABEL, upgradeMark(d)]] })];
}

/** The equivalent command, for people to paste: every word quoted (the passwords come from the env file). */
export function upgradeDockerRunCommand(d: Deployment, u: NodeUpgrade): string {
  return sh`docker ${words(upgradeRunArgs(d, u))}`;
}

/**
 * The env file's content: the secret variables as Terraform expressions supply them. docker reads
 * one VAR=value per line, the value taken literally: a newline in a value would start another
 * variable, so a value that holds one is refused here, and the start step checks the uploaded
 * file (values from Terraform are only known on apply; see {@link renderEnvFileCheck}).
 */
export function upgradeEnvFileContent(values: { dbPassword: string; repmgrPassword: string }): string {
  return dockerEnvFile([
    ["POSTGRESQL_PASSWORD", values.dbPassword],
    ["REPMGR_PASSWORD", values.repmgrPassword],
  ]);
}

/** The variables the password env file may set, once each. */
export const ENV_FILE_KEYS = ["POSTGRESQL_PASSWORD", "REPMGR_PASSWORD"] as const;

/**
 * Bash that fails (through the script's `fail`) unless the env file holds exactly one line per
 * variable of ENV_FILE_KEYS: a secret with a newline in it shows up as an extra line. Reads the
 * file with bash builtins only (no secret on a command line) and never prints a value.
 */
export function renderEnvFileCheck(file: string): string {
  const keys = ENV_FILE_KEYS.join("|");
  return [
    sh`check_env_file() {`,
    '  local f=$1 line key n=0 seen=" "',
    '  while IFS= read -r line || [ -n "$line" ]; do',
    "    n=$((n + 1))",
    "    key=${line%%=*}",
    '    case "$key" in',
    sh`      ${raw(keys)}) ;;`,
    '      *) fail "line $n of $f does not set a password variable: a secret contains a newline; remove it from TF_VAR_db_password / TF_VAR_repmgr_password" ;;',
    "    esac",
    '    case "$seen" in *" $key "*) fail "$key is set twice in $f: a secret contains a newline; remove it" ;; esac',
    '    seen="$seen$key "',
    '  done < "$f"',
    `  [ "$n" = ${ENV_FILE_KEYS.length} ] || fail "$f has $n lines, not ${ENV_FILE_KEYS.length}: a secret contains a newline, or the file is incomplete"`,
    "}",
    sh`check_env_file ${file}`,
  ].join("\n");
}

export interface WaitBounds {
  /** @default 60 */
  readonly attempts?: number;
  /** @default 5 */
  readonly intervalSeconds?: number;
}

/**
 * Step 4 on one node: the new container on the node's own existing volume, then (primary)
 * `primary register --force`. Waits (bounded) for the node's role. Skipped when it already runs.
 */
export function renderUpgradeStartScript(d: Deployment, u: NodeUpgrade, w: WaitBounds = {}): string {
  const { port, user } = d.database;
  const attempts = w.attempts ?? 60;
  const interval = w.intervalSeconds ?? 5;
  const registered = `${UPGRADE_STATE_DIR}/upgrade-registered-${u.node.name}`;
  const lines = prelude(d, u, "start");
  lines.push(
    sh`ENV_FILE=${u.envFile}`,
    `trap 'rm -f "$ENV_FILE"' EXIT`,
    'if new_exists && ! new_running; then docker start "$NEW" >/dev/null; log "started the existing new container"; fi',
  );
  lines.push(
    "if ! new_exists; then",
    '  if old=$(old_name) && [ "$(docker inspect -f \'{{.State.Running}}\' "$old")" = true ]; then fail "old container $old still runs; the stop step must run first"; fi',
    '  docker volume inspect "$VOLUME" >/dev/null 2>&1 || fail "volume $VOLUME does not exist on this host; it must be the volume the old container used (docker would create an empty one)"',
    '  users=$(docker ps -q --filter "volume=$VOLUME")',
    '  [ -z "$users" ] || fail "volume $VOLUME is in use by running container(s) $users"',
    '  [ -s "$ENV_FILE" ] || fail "the password env file is missing"',
    renderEnvFileCheck(u.envFile),
    sh`  docker ${words(upgradeRunArgs(d, u))} >/dev/null`,
    `  log "started $NEW on its own volume $VOLUME"`,
    "fi",
  );
  if (u.role === "witness") {
    lines.push(
      sh`for i in $(seq 1 ${attempts}); do`,
      '  if new_running; then log "witness running"; exit 0; fi',
      sh`  sleep ${interval}`,
      "done",
      sh`fail "$NEW is not running after ${attempts * interval} s; check: docker logs $NEW"`,
    );
    return lines.join("\n") + "\n";
  }
  const expect = u.role === "primary" ? "f" : "t";
  lines.push(
    sh`for i in $(seq 1 ${attempts}); do`,
    sh`  r=$(${raw(psqlIn('"$NEW"', user, port, "select pg_is_in_recovery()"))} 2>/dev/null | tr -d '[:space:]' || true)`,
    sh`  [ "$r" = "${expect}" ] && break`,
    sh`  [ "$i" = ${attempts} ] && fail "$NEW did not come up as ${u.role} within ${attempts * interval} s; check: docker logs $NEW"`,
    sh`  log "waiting for $NEW to run as ${u.role} ($i/${attempts})"`,
    sh`  sleep ${interval}`,
    "done",
  );
  if (u.role === "primary") {
    lines.push(
      sh`if [ ! -f ${registered} ]; then`,
      sh`  docker exec "$NEW" ${raw(PRIMARY_REGISTER)}`,
      sh`  mkdir -p ${UPGRADE_STATE_DIR} && touch ${registered}`,
      '  log "registered the new primary (primary register --force)"',
      "fi",
    );
  }
  lines.push(sh`log "$NEW runs as ${u.role}"`);
  return lines.join("\n") + "\n";
}
