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
import { shellQuote as q } from "./shell-quote";

export const UPGRADE_STATE_DIR = "/var/lib/ems-ha";
/** Label on every container the upgrade creates; its value identifies the new image. */
export const UPGRADE_LABEL = "ems-ha.upgrade";
/** The guide's register command (step 5), inside the new primary container. */
export const PRIMARY_REGISTER =
  "/opt/bitnami/scripts/postgresql-repmgr/entrypoint.sh repmgr -f /opt/bitnami/repmgr/conf/repmgr.conf primary register --force";

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
function prelude(d: Deployment, u: NodeUpgrade, step: string): string[] {
  const name = u.node.name;
  return [
    "#!/usr/bin/env bash",
    `# ems-ha: upgrade step "${step}" on ${name} (${u.role}). Generated; do not edit.`,
    "set -euo pipefail",
    `log() { echo "[ems-ha ${name} ${step}] $*"; }`,
    `fail() { echo "ems-ha ${name} ${step}: $*" >&2; exit 1; }`,
    `command -v docker >/dev/null || fail "docker is not installed on ${name}"`,
    `NEW=${q(name)}`,
    `MARK=${q(upgradeMark(d))}`,
    `VOLUME=${q(u.volume)}`,
    "# The new container runs when a container of this name carries the upgrade label.",
    `new_running() { [ "$(docker inspect -f '{{index .Config.Labels "${UPGRADE_LABEL}"}} {{.State.Running}}' "$NEW" 2>/dev/null)" = "$MARK true" ]; }`,
    `new_exists() { [ "$(docker inspect -f '{{index .Config.Labels "${UPGRADE_LABEL}"}}' "$NEW" 2>/dev/null)" = "$MARK" ]; }`,
    "# The old container: under its old name, or renamed once stopped when the new one keeps the name.",
    "old_name() {",
    `  for c in ${[...new Set([u.oldContainerAfter, u.oldContainer])].map(q).join(" ")}; do`,
    `    if docker inspect "$c" >/dev/null 2>&1 && [ "$(docker inspect -f '{{index .Config.Labels "${UPGRADE_LABEL}"}}' "$c")" != "$MARK" ]; then echo "$c"; return 0; fi`,
    "  done",
    "  return 1",
    "}",
    `mounted_volume() { docker inspect -f '{{range .Mounts}}{{if eq .Destination "${DATA_MOUNT}"}}{{.Name}}{{end}}{{end}}' "$1"; }`,
  ];
}

function psqlIn(container: string, user: string, port: number, sql: string): string {
  return `docker exec ${container} bash -c 'PGPASSWORD="\${POSTGRESQL_PASSWORD:-\${POSTGRES_PASSWORD:-}}" psql -h 127.0.0.1 -p ${port} -U ${user} -d postgres -v ON_ERROR_STOP=1 -tAc "${sql}"'`;
}

/**
 * Step 1 on one node: checks the old container (exists, mounts the node's volume, has the role the
 * deployment expects) and sets shared_preload_libraries with ALTER SYSTEM. Skipped once upgraded.
 */
export function renderUpgradePrepareScript(d: Deployment, u: NodeUpgrade): string {
  const { port, user } = d.database;
  const libs = d.upgrade?.sharedPreloadLibraries ?? "pg_stat_statements, repmgr";
  const lines = prelude(d, u, "prepare");
  lines.push(
    'if new_running; then log "already upgraded: $NEW runs the new image"; exit 0; fi',
    `OLD=$(old_name) || fail "old container ${u.oldContainer} not found; set upgrade.previous for ${u.node.name} to its container name"`,
    'got=$(mounted_volume "$OLD")',
    `[ "$got" = "$VOLUME" ] || fail "$OLD mounts volume '$got' at ${DATA_MOUNT}, not $VOLUME; set upgrade.previous[].volume to '$got'"`,
  );
  if (u.role !== "witness") {
    const expect = u.role === "primary" ? "f" : "t";
    lines.push(
      'if [ "$(docker inspect -f \'{{.State.Running}}\' "$OLD")" = true ]; then',
      `  r=$(${psqlIn('"$OLD"', user, port, "select pg_is_in_recovery()")} | tr -d '[:space:]')`,
      `  [ "$r" = "${expect}" ] || fail "$OLD is ${u.role === "primary" ? "not the primary" : "not a standby"} (pg_is_in_recovery=$r); set database.initialPrimary to the node that is the primary now"`,
      "fi",
    );
  }
  lines.push(
    'if [ "$(docker inspect -f \'{{.State.Running}}\' "$OLD")" = true ]; then',
    `  ${psqlIn('"$OLD"', user, port, `ALTER SYSTEM SET shared_preload_libraries TO ${libs};`)} >/dev/null`,
    `  log "shared_preload_libraries set to ${libs} on $OLD"`,
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
    "# --restart always would start the old container again at the next boot, on the same volume as the new one.",
    'docker update --restart=no "$OLD" >/dev/null',
    'if [ "$(docker inspect -f \'{{.State.Running}}\' "$OLD")" = true ]; then docker stop --time 60 "$OLD" >/dev/null; log "stopped $OLD"; fi',
  );
  if (u.oldContainerAfter !== u.oldContainer) {
    lines.push(
      `if [ "$OLD" = ${q(u.oldContainer)} ]; then docker rename "$OLD" ${q(u.oldContainerAfter)}; log "kept the old container as ${u.oldContainerAfter} (rollback)"; fi`,
    );
  }
  return lines.join("\n") + "\n";
}

/** The `docker run` arguments of the new container; the passwords come from --env-file. */
export function upgradeRunArgs(d: Deployment, u: NodeUpgrade): string[] {
  const s = u.spec;
  const args = ["run", "--restart", s.restart, "--detach", "--name", s.name, "--label", `${UPGRADE_LABEL}=${upgradeMark(d)}`];
  for (const p of s.ports) args.push("-p", `${p.external}:${p.internal}`);
  args.push("--env-file", u.envFile);
  for (const [k, v] of s.env) args.push("--env", `${k}=${v}`);
  for (const v of s.volumes) args.push("--volume", `${v.volumeName ?? v.hostPath}:${v.containerPath}`);
  args.push("--shm-size", `${s.shmSizeMb}m`);
  for (const h of s.hosts) args.push("--add-host", `${h.host}:${h.ip}`);
  args.push(s.image);
  return args;
}

/** The env file's content: the secret variables as Terraform expressions supply them. */
export function upgradeEnvFileContent(values: { dbPassword: string; repmgrPassword: string }): string {
  return `POSTGRESQL_PASSWORD=${values.dbPassword}\nREPMGR_PASSWORD=${values.repmgrPassword}\n`;
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
    `trap 'rm -f ${u.envFile}' EXIT`,
    'if new_exists && ! new_running; then docker start "$NEW" >/dev/null; log "started the existing new container"; fi',
  );
  const run = `docker ${upgradeRunArgs(d, u).map(q).join(" ")}`;
  lines.push(
    "if ! new_exists; then",
    '  if old=$(old_name) && [ "$(docker inspect -f \'{{.State.Running}}\' "$old")" = true ]; then fail "old container $old still runs; the stop step must run first"; fi',
    '  docker volume inspect "$VOLUME" >/dev/null 2>&1 || fail "volume $VOLUME does not exist on this host; it must be the volume the old container used (docker would create an empty one)"',
    '  users=$(docker ps -q --filter "volume=$VOLUME")',
    '  [ -z "$users" ] || fail "volume $VOLUME is in use by running container(s) $users"',
    `  [ -s ${u.envFile} ] || fail "the password env file is missing"`,
    `  ${run} >/dev/null`,
    `  log "started $NEW on its own volume $VOLUME"`,
    "fi",
  );
  if (u.role === "witness") {
    lines.push(
      `for i in $(seq 1 ${attempts}); do`,
      '  if new_running; then log "witness running"; exit 0; fi',
      `  sleep ${interval}`,
      "done",
      `fail "$NEW is not running after ${attempts * interval} s; check: docker logs $NEW"`,
    );
    return lines.join("\n") + "\n";
  }
  const expect = u.role === "primary" ? "f" : "t";
  lines.push(
    `for i in $(seq 1 ${attempts}); do`,
    `  r=$(${psqlIn('"$NEW"', user, port, "select pg_is_in_recovery()")} 2>/dev/null | tr -d '[:space:]' || true)`,
    `  [ "$r" = "${expect}" ] && break`,
    `  [ "$i" = ${attempts} ] && fail "$NEW did not come up as ${u.role} within ${attempts * interval} s; check: docker logs $NEW"`,
    `  log "waiting for $NEW to run as ${u.role} ($i/${attempts})"`,
    `  sleep ${interval}`,
    "done",
  );
  if (u.role === "primary") {
    lines.push(
      `if [ ! -f ${registered} ]; then`,
      `  docker exec "$NEW" ${PRIMARY_REGISTER}`,
      `  mkdir -p ${UPGRADE_STATE_DIR} && touch ${registered}`,
      '  log "registered the new primary (primary register --force)"',
      "fi",
    );
  }
  lines.push(`log "$NEW runs as ${u.role}"`);
  return lines.join("\n") + "\n";
}
