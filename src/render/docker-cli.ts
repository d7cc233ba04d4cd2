/**
 * The "ssh" container engine (database.docker.engine = "ssh"): the container specification of
 * src/render/bitnami.ts as `docker volume create` / `docker run` in a script run over SSH on the DB
 * host, for sites where no Terraform provider can be downloaded.
 *
 * One container specification, two transports: the "provider" engine gives the same ContainerSpec
 * to the docker provider's docker_container (constructs/pg-ha-node.ts); this file turns it into
 * docker run arguments. test/constructs/docker-engine-parity.test.ts checks that both give the
 * same container. docs/topologies/single-region.md ("Container engines") describes the behaviour.
 *
 * The script is idempotent: a container of that name carrying the same spec hash label and
 * password fingerprint label (and running the image the tag names now) is left alone; another one is stopped gracefully and
 * recreated on the same volume. The data volume is created when missing and never removed.
 * Passwords reach `docker run` only through an env file (--env-file), never on a command line.
 */
import { createHash } from "node:crypto";
import type { Deployment } from "../config/schema";
import { BITNAMI_ENTRYPOINT, BITNAMI_REPMGR_CONF, DATA_MOUNT, DB_STOP_GRACE_SECONDS, DB_STOP_SIGNAL, imageRef, type ContainerSpec } from "./bitnami";
import { DOCKER_MEMBERSHIP_LIB, membershipVars, type DockerMembership } from "./docker-membership";
import { dockerEnvFile, raw, sh, shellSingleQuote, words } from "./escape";

/** Label recording the spec hash a container was created from. */
export const SPEC_LABEL = "ems-ha.spec-sha256";
/**
 * Label recording sha256(spec hash + env file) of the passwords a container was created with,
 * computed on the host (never in Terraform's state or plan), next to the container's own copy of
 * the passwords.
 */
export const SECRETS_LABEL = "ems-ha.secrets-sha256";
/** Directory of the generated scripts on a DB host. */
export const SSH_ENGINE_DIR = "/var/lib/ems-ha";
/** Root-only directory (0700) of the password env files. */
export const SSH_ENGINE_SECRETS_DIR = `${SSH_ENGINE_DIR}/secrets`;
/**
 * Seconds Docker waits after the stop signal (SIGINT) before SIGKILL (`--stop-timeout`, the
 * provider's stop_timeout), and what the script gives `docker stop --time` when it replaces a container.
 */
export const STOP_TIMEOUT_SECONDS = DB_STOP_GRACE_SECONDS;
/** Seconds PostgreSQL's fast shutdown may take inside the container before `docker stop`. */
export const PG_STOP_TIMEOUT_SECONDS = 90;
/** PostgreSQL's data directory inside the image (under the data volume). */
export const PG_DATA_DIR = `${DATA_MOUNT}/data`;

/** repmgr inside a node's container, as the ops commands run it (src/ops/repmgr-cli.ts). */
export const REPMGR_IN_CONTAINER = `${BITNAMI_ENTRYPOINT} repmgr -f ${BITNAMI_REPMGR_CONF}`;

/** Host path of a node's password env file. */
export function envFileOf(containerName: string): string {
  return `${SSH_ENGINE_SECRETS_DIR}/container-${containerName}.env`;
}

/** Host path of a node's container script. */
export function containerScriptPathOf(containerName: string): string {
  return `${SSH_ENGINE_DIR}/container-${containerName}.sh`;
}

/**
 * What identifies the image beyond its tag: the tarball's sha256 (a new tarball with the same
 * tag must give a new container), or the reference itself for a registry image.
 */
export function imageIdentity(d: Deployment): string {
  const src = d.database.image.source;
  return src.kind === "tarball" ? `${imageRef(d)}@tarball-sha256:${src.sha256}` : imageRef(d);
}

export interface DockerRunOptions {
  /** Host path of the env file holding the secret variables. */
  readonly envFile: string;
  /** The spec hash to record as a label. @default no label */
  readonly specHash?: string;
  /** Further labels (name, value). @default none */
  readonly labels?: ReadonlyArray<readonly [string, string]>;
  /** @default STOP_TIMEOUT_SECONDS */
  readonly stopTimeoutSeconds?: number;
}

/**
 * The `docker run` arguments (after "run") of a container spec. Secret variables come from
 * --env-file; every other value is the spec's, unquoted (an argv, not shell text).
 */
export function dockerRunArgs(spec: ContainerSpec, o: DockerRunOptions): string[] {
  const args = ["--restart", spec.restart, "--detach", "--name", spec.name];
  if (o.specHash !== undefined) args.push("--label", `${SPEC_LABEL}=${o.specHash}`);
  for (const [k, v] of o.labels ?? []) args.push("--label", `${k}=${v}`);
  for (const p of spec.ports) args.push("--publish", `${p.external}:${p.internal}`);
  if (spec.secretEnv.length > 0) args.push("--env-file", o.envFile);
  for (const [k, v] of spec.env) args.push("--env", `${k}=${v}`);
  for (const v of spec.volumes) args.push("--volume", `${v.volumeName ?? v.hostPath}:${v.containerPath}`);
  args.push("--shm-size", `${spec.shmSizeMb}m`);
  for (const [k, v] of spec.sysctls) args.push("--sysctl", `${k}=${v}`);
  if (spec.logs) {
    args.push("--log-driver", spec.logs.driver);
    for (const [k, v] of spec.logs.options) args.push("--log-opt", `${k}=${v}`);
  }
  for (const h of spec.hosts) args.push("--add-host", `${h.host}:${h.ip}`);
  args.push("--stop-signal", DB_STOP_SIGNAL, "--stop-timeout", String(o.stopTimeoutSeconds ?? STOP_TIMEOUT_SECONDS));
  args.push(spec.image);
  return args;
}

/**
 * The spec hash: sha256 of the docker run arguments (without the label), the image identity and
 * the names of the secret variables. Password VALUES are not part of it (docs: "Container engines").
 */
export function specHash(spec: ContainerSpec, image: string, o: Omit<DockerRunOptions, "specHash">): string {
  const canonical = JSON.stringify({ args: dockerRunArgs(spec, o), image, secretEnv: spec.secretEnv.map((s) => s.name) });
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * The env file's content as Terraform should write it: one KEY=value line per secret variable
 * (a docker --env-file, not shell: see dockerEnvFile). A literal value with a line break is
 * refused here; one from a Terraform variable by the construct's precondition and the script's check.
 */
export function envFileContent(spec: ContainerSpec, values: { readonly dbPassword: string; readonly repmgrPassword: string }): string {
  return dockerEnvFile(spec.secretEnv.map((s) => [s.name, s.secret === "dbPassword" ? values.dbPassword : values.repmgrPassword] as const));
}

export interface ContainerScriptOptions {
  /** Image identity (imageIdentity(d)), part of the spec hash. */
  readonly image: string;
  /** @default envFileOf(spec.name) */
  readonly envFile?: string;
  /** Bounded wait for the container to run: attempts x interval. @default 30 x 2 s */
  readonly waitAttempts?: number;
  readonly waitIntervalSeconds?: number;
  /** Bounded wait for PostgreSQL in the new container to answer in its role: attempts x waitIntervalSeconds. @default 150 */
  readonly readyAttempts?: number;
  /** The cluster's members (src/render/docker-membership.ts): checked before anything is touched, removed ones unregistered by the primary. @default no membership handling */
  readonly membership?: DockerMembership;
}

/** The remote script of a node's container step and the hash it records. */
export interface ContainerScript {
  readonly script: string;
  readonly specHash: string;
  readonly envFile: string;
  /** The docker run arguments known at synth time; the script adds `--label ems-ha.secrets-sha256=...` before the image. */
  readonly runArgs: string[];
}

/**
 * The idempotent script creating one node's volume and container:
 *   1. the env file checked (0600, in a 0700 directory, exactly one non-empty line per secret
 *      variable) and fingerprinted with the spec hash;
 *   2. each named volume: `docker volume create` when missing (never removed);
 *   3. an existing container with the same spec hash, fingerprint and image: left alone (started if
 *      stopped); one with another spec or passwords (or none recorded): PostgreSQL stopped with a fast shutdown, then
 *      `docker stop --time`, then `docker rm` without -v (the volume stays), then recreated;
 *      one mounting another volume at the data path: refused (its data would be left behind);
 *   4. `docker run` with the passwords from the env file, which is removed when the script ends;
 *   5. a bounded wait until the container runs steadily (the same start seen twice, an interval apart).
 */
export function renderContainerScript(spec: ContainerSpec, o: ContainerScriptOptions): ContainerScript {
  const envFile = o.envFile ?? envFileOf(spec.name);
  const hash = specHash(spec, o.image, { envFile });
  const runArgs = dockerRunArgs(spec, { envFile, specHash: hash });
  const attempts = o.waitAttempts ?? 30;
  const interval = o.waitIntervalSeconds ?? 2;
  const dataVolume = spec.volumes.find((v) => v.containerPath === DATA_MOUNT && v.volumeName)?.volumeName;
  const named = spec.volumes.filter((v) => v.volumeName).map((v) => v.volumeName!);
  const keys = spec.secretEnv.map((s) => s.name);
  const witness = spec.env.some(([k, v]) => k === "REPMGR_NODE_TYPE" && v === "witness");
  const readyAttempts = o.readyAttempts ?? 150;
  const pausedAttempts = Math.min(readyAttempts, 60);
  // Always single-quoted, as the scripts have shown them since the first release.
  const q = (v: string) => raw(shellSingleQuote(v));
  const lines = [
    "#!/usr/bin/env bash",
    sh`# ems-ha: the ${spec.name} container (ssh engine). Generated; do not edit.`,
    "set -euo pipefail",
    sh`log() { echo "[ems-ha ${spec.name}] $*"; }`,
    sh`fail() { echo "ems-ha ${spec.name}: $*" >&2; exit 1; }`,
    sh`NAME=${q(spec.name)}`,
    sh`SPEC=${hash}`,
    sh`IMAGE=${q(spec.image)}`,
    sh`ENV_FILE=${q(envFile)}`,
    "# The passwords are needed only by docker run (Docker keeps them in the container's configuration).",
    "# A pause of repmgrd taken for this replacement is undone whatever happens.",
    "PAUSED=no",
    'trap \'rm -f "$ENV_FILE"; [ "$PAUSED" = no ] || resume_repmgrd\' EXIT',
    'command -v docker >/dev/null || fail "docker is not installed; the prepare step installs it (database.installDocker)"',
    "",
    "running() { [ \"$(docker container inspect -f '{{.State.Running}} {{.State.Restarting}}' \"$NAME\" 2>/dev/null)\" = 'true false' ]; }",
    "# Running, and the same start (restart count, start time) at two checks in a row: not a restart loop.",
    "wait_running() {",
    '  local prev="" now',
    sh`  for _ in $(seq 1 ${attempts}); do`,
    "    now=$(docker container inspect -f '{{.State.Running}} {{.State.Restarting}} {{.RestartCount}} {{.State.StartedAt}}' \"$NAME\" 2>/dev/null || true)",
    '    case "$now" in "true false "*) if [ "$now" = "$prev" ]; then log "$NAME runs (spec $SPEC)"; return 0; fi ;; esac',
    '    prev="$now"',
    sh`    sleep ${interval}`,
    "  done",
    sh`  fail "$NAME is not running steadily after ${attempts * interval} s; check: docker logs $NAME"`,
    "}",
    "graceful_stop() {",
    "  # running, restarting or paused: stop it; created, exited or dead: nothing to stop.",
    '  case "$(docker container inspect -f \'{{.State.Status}}\' "$NAME")" in created | exited | dead) return 0 ;; esac',
    "  # repmgrd is the container's main process: stop PostgreSQL itself first (fast shutdown), then the container.",
    sh`  if docker exec "$NAME" pg_ctl stop -D ${PG_DATA_DIR} -m fast -w -t ${PG_STOP_TIMEOUT_SECONDS} >/dev/null 2>&1; then log "PostgreSQL in $NAME shut down"; else log "PostgreSQL in $NAME did not shut down by itself; docker stop follows"; fi`,
    sh`  docker stop --time ${STOP_TIMEOUT_SECONDS} "$NAME" >/dev/null`,
    '  log "stopped $NAME"',
    "}",
    "# PostgreSQL in the container over its own TCP port; the password stays in the container's environment.",
    "in_pg() {",
    '  docker exec "$NAME" bash -c \'PGPASSWORD="${POSTGRESQL_PASSWORD:-${POSTGRES_PASSWORD:-}}" PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -p "${POSTGRESQL_PORT_NUMBER:-5432}" -U "${POSTGRESQL_USERNAME:-${POSTGRES_USER:-postgres}}" -d postgres -tAc "$1"\' _ "$1" 2>/dev/null | tr -d \'[:space:]\'',
    "}",
    sh`repmgr_in() { docker exec "$NAME" ${raw(REPMGR_IN_CONTAINER)} "$@"; }`,
    ...(o.membership ? [...membershipVars(o.membership), ...DOCKER_MEMBERSHIP_LIB.trim().split("\n")] : []),
    "# When this container's PostgreSQL does not answer, the other nodes are resumed directly",
    "# (repmgr.repmgrd_pause(false), what repmgr service unpause calls on each node), so that they can fail over.",
    "# A node whose PostgreSQL does not answer at all (psql exit 2) is skipped: it starts unpaused.",
    "unpause_partners() {",
    '  docker exec "$NAME" bash -c \'ok=0; for e in ${REPMGR_PARTNER_NODES//[,;]/ }; do h=${e%%:*}; p=${REPMGR_PRIMARY_PORT:-5432}; [ "$h" = "$e" ] || p=${e##*:}; [ "$h" = "${REPMGR_NODE_NETWORK_NAME:-}" ] && continue; PGPASSWORD="$REPMGR_PASSWORD" PGCONNECT_TIMEOUT=3 psql -h "$h" -p "$p" -U "${REPMGR_USERNAME:-repmgr}" -d "${REPMGR_DATABASE:-repmgr}" -tAc "select repmgr.repmgrd_pause(false)" >/dev/null 2>&1; s=$?; [ $s = 0 ] || [ $s = 2 ] || ok=1; done; exit $ok\'',
    "}",
    "resume_repmgrd() {",
    '  [ "$PAUSED" = yes ] || return 0',
    '  if repmgr_in service unpause >/dev/null 2>&1; then PAUSED=no; log "repmgrd resumed on every node"',
    '  elif unpause_partners; then PAUSED=no; echo "ems-ha $NAME: repmgr service unpause failed in $NAME (it does not answer, or a node it lists no longer does); repmgrd resumed on its partners directly: they fail over if $NAME stays away" >&2',
    '  else echo "ems-ha $NAME: repmgrd is still PAUSED on the cluster (no automatic failover): run ems-ha resume" >&2; fi',
    "}",
    "# Ready: a data node answers as the primary or as a standby whose WAL receiver streams; a witness answers.",
    "wait_ready() {",
    // The cluster has no primary while a paused primary is away: a shorter bound, then the others fail over (resume_repmgrd on exit).
    sh`  local r attempts=${readyAttempts}`,
    sh`  [ "$PAUSED" = no ] || attempts=${pausedAttempts}`,
    '  for i in $(seq 1 "$attempts"); do',
    '    r=$(in_pg "select pg_is_in_recovery()" || true)',
    `    ${witness ? '[ -n "$r" ] && { log "$NAME answers"; return 0; }' : '[ "$r" = f ] && { log "$NAME answers as the primary"; return 0; }'}`,
    ...(witness
      ? []
      : [
          '    if [ "$r" = t ] && [ "$(in_pg "select status from pg_stat_wal_receiver" || true)" = streaming ]; then log "$NAME streams as a standby"; return 0; fi',
        ]),
    sh`    sleep ${interval}`,
    "  done",
    sh`  fail "$NAME does not answer ${raw(witness ? "" : "as the primary or as a streaming standby ")}after $((attempts * ${interval})) s; check: docker logs $NAME"`,
    "}",
    "check_env_file() {",
    '  [ -f "$ENV_FILE" ] || fail "the password env file $ENV_FILE is missing"',
    '  [ "$(stat -c %a "$ENV_FILE")" = 600 ] && [ "$(stat -c %u "$ENV_FILE")" = "$(id -u)" ] || fail "$ENV_FILE must be mode 0600 and owned by $(id -un)"',
    '  [ "$(stat -c %a "$(dirname "$ENV_FILE")")" = 700 ] || fail "$(dirname "$ENV_FILE") must be mode 0700"',
    sh`  local keys=(${words(keys)}) lines=()`,
    '  mapfile -t lines < "$ENV_FILE"',
    '  [ "${#lines[@]}" -eq "${#keys[@]}" ] || fail "the password env file holds ${#lines[@]} lines, not ${#keys[@]}: a password contains a line break; choose passwords without one"',
    '  for i in "${!keys[@]}"; do',
    '    case "${lines[$i]}" in "${keys[$i]}="?*) ;; *) fail "line $((i + 1)) of the password env file is not ${keys[$i]}=<non-empty value>" ;; esac',
    '    case "${lines[$i]}" in *$\'\\r\'*) fail "${keys[$i]} contains a carriage return; choose a password without one" ;; esac',
    "  done",
    "}",
    "",
    "# 1. The passwords: checked, and fingerprinted with the spec (a label next to the container's own",
    "#    copy of them) so that a replaced step with new passwords gives a new container.",
    "check_env_file",
    'SECRETS_SHA=$({ printf \'%s\\n\' "$SPEC"; cat "$ENV_FILE"; } | sha256sum | cut -d" " -f1)',
    "",
    ...(o.membership && !witness && dataVolume !== undefined && spec.env.some(([k, v]) => k === "REPMGR_PRIMARY_HOST" && v === spec.name)
      ? [
          "# The initial primary without data or container: not while the cluster exists without a primary.",
          sh`if ! docker volume inspect ${q(dataVolume)} >/dev/null 2>&1 && ! docker container inspect "$NAME" >/dev/null 2>&1; then check_fresh_primary; fi`,
        ]
      : []),
    "# 2. Named volumes: created when missing, never removed.",
    ...named.map((v) => sh`docker volume inspect ${q(v)} >/dev/null 2>&1 || { docker volume create ${q(v)} >/dev/null; log ${q("created volume " + v)}; }`),
    "",
    "# 3. The container: kept when it has this spec, these passwords and the image, replaced (gracefully, same volume) otherwise.",
    'if docker container inspect "$NAME" >/dev/null 2>&1; then',
    sh`  have=$(docker container inspect -f '{{index .Config.Labels "${raw(SPEC_LABEL)}"}}' "$NAME")`,
    sh`  have_secrets=$(docker container inspect -f '{{index .Config.Labels "${raw(SECRETS_LABEL)}"}}' "$NAME")`,
  ];
  if (dataVolume !== undefined) {
    lines.push(
      sh`  mounted=$(docker container inspect -f '{{range .Mounts}}{{if eq .Destination "${raw(DATA_MOUNT)}"}}{{.Name}}{{end}}{{end}}' "$NAME")`,
      sh`  [ "$mounted" = ${q(dataVolume)} ] || fail "the existing container $NAME mounts '$mounted' at ${DATA_MOUNT}, not ${dataVolume}: ems-ha does not replace it (its data would be left behind); move its data or rename it, then apply again"`,
    );
  }
  lines.push(
    "  image_now=$(docker image inspect -f '{{.Id}}' \"$IMAGE\" 2>/dev/null || true)",
    "  image_used=$(docker container inspect -f '{{.Image}}' \"$NAME\")",
    '  same_image=yes; [ -z "$image_now" ] || [ "$image_used" = "$image_now" ] || same_image=no',
    '  if [ "$have" = "$SPEC" ] && [ "$have_secrets" = "$SECRETS_SHA" ] && [ "$same_image" = yes ]; then',
    '    if running; then log "$NAME is up to date: nothing to do"; exit 0; fi',
    "    # A container the reconciliation service retired when its node left database.nodes has restart policy no: a member's is always.",
    sh`    docker update --restart=${spec.restart} "$NAME" >/dev/null`,
    '    docker start "$NAME" >/dev/null',
    '    log "started the existing $NAME"',
    "    wait_running",
    "    exit 0",
    "  fi",
    ...(o.membership
      ? ["  # The membership of database.nodes, checked against the registered cluster before the container is touched.", "  check_membership"]
      : []),
    '  if [ "$have" != "$SPEC" ]; then log "replacing $NAME: spec ${have:-not recorded} -> $SPEC"',
    '  elif [ "$have_secrets" != "$SECRETS_SHA" ]; then log "replacing $NAME: the passwords changed"',
    '  else log "replacing $NAME: $IMAGE is another image now"; fi',
    ...(witness
      ? []
      : [
          "  # The current primary: repmgrd paused on every node first, so that its replacement is a restart, not a failover.",
          '  if running && [ "$(in_pg "select pg_is_in_recovery()" || true)" = f ]; then',
          '    log "$NAME is the current primary: pausing repmgrd on every node while it is replaced (no failover; writes stop until it is back)"',
          `    ${o.membership ? "pause_members" : "repmgr_in service pause >/dev/null"} || fail "repmgr service pause failed in $NAME; nothing was changed"`,
          "    PAUSED=yes",
          "  fi",
        ]),
    "  graceful_stop",
    "  # Without -v: named volumes stay.",
    '  docker rm "$NAME" >/dev/null',
    "fi",
    "",
    "# 4. docker run, passwords from the env file only.",
    sh`docker run ${words(runArgs.slice(0, -1))} --label "${SECRETS_LABEL}=$SECRETS_SHA" ${runArgs[runArgs.length - 1]!} >/dev/null`,
    'log "created $NAME"',
    "wait_running",
    "# The next node's step starts only when this one is back: one DB node away at a time.",
    "wait_ready",
    // Before the resume: `repmgr service unpause` then only reaches members (a removed node's name no
    // longer resolves in the new container), and a removed node stays paused until it is retired.
    ...(o.membership && !witness ? ["# The primary unregisters the nodes no longer in database.nodes.", "unregister_removed"] : []),
    "resume_repmgrd",
  );
  return { script: lines.join("\n") + "\n", specHash: hash, envFile, runArgs };
}
