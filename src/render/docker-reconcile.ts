/**
 * The reconciliation service of a Docker DB host (single-region, geo-redundant): the native
 * service's repairs (src/render/native/reconcile.ts, docs/reliability.md "Self-healing") for a
 * node whose PostgreSQL and repmgr run in the ems-postgres-ha container. A systemd unit on the
 * host runs the same script as on a native host; only the functions that reach PostgreSQL and
 * repmgr are redefined, to act through `docker exec` in the node's container:
 *
 * - psql, pg_ctl, pg_controldata: `docker exec <container> ...` as the image's user (programs
 *   on the image's PATH), SQL as the repmgr user over TCP with the password the container
 *   already has in its environment (`$REPMGR_PASSWORD` expands inside the container, never on a
 *   command line of the host);
 * - repmgr: through the image's entrypoint with the image's repmgr.conf, as the guide runs it
 *   (`docker exec <c> /opt/bitnami/scripts/postgresql-repmgr/entrypoint.sh repmgr -f
 *   /opt/bitnami/repmgr/conf/repmgr.conf ...`);
 * - WAL segments a rewind would discard: listed in the container, copied to the host with
 *   `docker cp` next to the rewind record in /var/lib/ems-ha (what `ems-ha status` shows);
 * - "PostgreSQL runs": the container runs and `pg_ctl status` says so; a node is only looked at
 *   once the image has finished its start-up (repmgrd, the image's main process, runs);
 * - repmgrd is the container's main process: it is never restarted (that would restart the
 *   container; with degraded monitoring off, as the stacks set it, it reconnects by itself);
 * - when `node rejoin` fails, the container is restarted: the image's start logic then joins the
 *   node to the current primary (it re-clones a standby). What the rewind would have discarded is
 *   recorded before either happens.
 *
 * - fencing (a primary that sees no majority for FENCE_AFTER stops PostgreSQL, as natively, with
 *   three or more nodes; single-region only, see dockerFencingEnabled): PostgreSQL is stopped
 *   inside the running container, and the container's restart policy is "no" until the fence is
 *   lifted, so that neither Docker nor the image starts it again as the primary meanwhile.
 * docs/topologies/single-region.md ("Reconciliation service") says what is relied on.
 */
import { failoverTiming, failoverWindowSeconds, oneLocation, repmgrNodeId } from "../config/derive";
import type { DbNodeConfig, Deployment } from "../config/schema";
import { BITNAMI_ENTRYPOINT, BITNAMI_REPMGR_CONF, containerSpec, DOCKER_VALIDATE_FAILOVER } from "./bitnami";
import { PG_DATA_DIR } from "./docker-cli";
import { failoverValidationBoundSeconds } from "./failover-validation";
import { heredoc, sh, UnsafeValueError } from "./escape";
import {
  MAX_REJOIN_ATTEMPTS,
  FENCE_AFTER_SECONDS,
  UNSTICK_AFTER_SECONDS,
  UNSTICK_SILENT_AFTER_SECONDS,
  UNSTICK_REASONS,
  electAfterSeconds,
  reconcileScriptText,
} from "./native/reconcile";
import { formatUnit, type UnitSection } from "./native/repmgrd";
import { shellArray, shellVars } from "./native/shell";
import { STATE_DIR } from "./native/layout";

export const DOCKER_RECONCILE_SCRIPT = "/usr/local/sbin/ems-ha-reconcile";
export const DOCKER_RECONCILE_UNIT_NAME = "ems-ha-reconcile";
export const DOCKER_RECONCILE_UNIT = `/etc/systemd/system/${DOCKER_RECONCILE_UNIT_NAME}.service`;

/** Seconds between two looks of the service on a Docker host. */
export const DOCKER_RECONCILE_INTERVAL_SECONDS = 5;

/**
 * Seconds a fault must last before the service repairs it: longer than repmgrd's own failover
 * (detection, reconnect attempts, their connect timeouts), so repmgrd always gets the first go.
 */
export function dockerGraceSeconds(d: Deployment): number {
  return Math.max(2 * DOCKER_RECONCILE_INTERVAL_SECONDS, failoverWindowSeconds(d) + DOCKER_RECONCILE_INTERVAL_SECONDS);
}

/**
 * Whether a Docker primary fences itself when isolated (docs/reliability.md#split-brain-fencing):
 * single-region with three or more nodes, as natively. Not geo-redundant: there repmgr's location
 * rule keeps the other location from promoting while it cannot see the primary's, so a fence of
 * a primary whose location is cut off would stop every write with nobody promoted.
 */
export function dockerFencingEnabled(d: Deployment): boolean {
  return d.topology === "single-region" && d.database.nodes.length >= 3;
}

/** Whether a standby promotes itself when repmgrd's election did not: where it fences, in one location, as natively (electionRepairEnabled). */
export function dockerElectionRepairEnabled(d: Deployment): boolean {
  return dockerFencingEnabled(d) && oneLocation(d);
}

function nodeIdOrThrow(n: DbNodeConfig): number {
  const id = repmgrNodeId(n);
  if (id === undefined)
    throw new UnsafeValueError(`node ${JSON.stringify(n.name)}: its repmgr node id cannot be derived; name it like pg-1 (a trailing -<number>) or set nodeId`);
  return id;
}

/** The separator of the fields of a PEERS / WITNESSES entry: a control character no name holds. */
const ENTRY_SEP = "\x1f";

/**
 * A node name as the script uses it (quoting for the shell is done where it is written): not
 * empty, no line break (an entry is read as one line) and no ENTRY_SEP.
 */
function nodeWord(name: string): string {
  // eslint-disable-next-line no-control-regex
  if (name === "" || /[\x00\n\x1f]/.test(name))
    throw new UnsafeValueError(`node ${JSON.stringify(name)}: a DB node name must not be empty or hold a line break or the character 0x1f`);
  return name;
}

/**
 * "name nodeId host port" (separated by ENTRY_SEP) of a member as the script's PEERS / WITNESSES want it: the host is the
 * node's name, which the containers resolve (--add-host) and repmgr's conninfo uses.
 */
function entry(d: Deployment, n: DbNodeConfig): string {
  return [nodeWord(n.name), nodeIdOrThrow(n), n.name, d.database.port].join(ENTRY_SEP);
}

/** The functions that differ on a Docker host (bash; `\${` stands for bash's own `${`). */
const DOCKER_FLAVOUR = String.raw`
# --- Docker host: PostgreSQL and repmgr run in the container $CONTAINER; these replace the native definitions.
container_running() { [ "$(timeout 30 docker inspect -f '{{.State.Running}}' "$CONTAINER" 2>/dev/null)" = true ]; }
# Where programs run: the node's container; while it is fenced and stopped, the probe (fenced_look).
EXEC_IN=$CONTAINER
PROBE="$CONTAINER-ems-ha-probe"
# pg_run SECONDS PROGRAM ARGS...: a program inside the container, as the image's user, bounded
pg_run() { local t=$1; shift; timeout $((t + 30)) docker exec "$EXEC_IN" timeout "$t" "$@"; }
# repmgr_run SECONDS ARGS...: repmgr through the image's entrypoint, with the image's repmgr.conf and the repmgr password of the container's environment
repmgr_run() {
  local t=$1
  shift
  timeout $((t + 30)) docker exec "$EXEC_IN" "$ENTRYPOINT" bash -c 'export PGPASSWORD="\${REPMGR_PASSWORD:-}"; exec timeout "$@"' _ "$t" repmgr -f "$REPMGR_CONF" "$@"
}
# psql_in CONNINFO SQL: SQL as the repmgr user from inside the container (the password from its
# environment). In a round that found the container's repmgrd (node_state), the container's own
# psql runs in its mount and network namespaces through nsenter, as repmgrd's user, with the
# password of repmgrd's environment: a fraction of what a docker exec costs (the docker CLI,
# dockerd, a shim and runc for each question; docs/performance.md). Otherwise, and in the probe
# container, a docker exec.
psql_in() {
  # (ns_ready's one log line to stderr: psql_in's output is the answer)
  if ns_ready >&2; then
    PGPASSWORD=$NS_PW LD_LIBRARY_PATH=$NS_LD timeout 20 "$NSENTER" -t "$NS_PID" -m -n -S "$NS_UID" -G "$NS_GID" -- "$NS_PSQL" -X -qAt -v ON_ERROR_STOP=1 -d "$1" -c "$2" 2>/dev/null
    return $?
  fi
  pg_run 15 bash -c 'PGPASSWORD="\${REPMGR_PASSWORD:-}" exec psql -X -qAt -v ON_ERROR_STOP=1 -d "$1" -c "$2"' _ "$1" "$2" 2>/dev/null
}
NSENTER=$(command -v nsenter 2>/dev/null) || NSENTER=""
# ns_is_repmgrd PID: a process named repmgrd in another mount namespace than this service's (a container's)
ns_is_repmgrd() {
  local comm=""
  [ -n "$1" ] || return 1
  { read -r comm <"/proc/$1/comm"; } 2>/dev/null && [ "$comm" = repmgrd ] || return 1
  ! [ "/proc/$1/ns/mnt" -ef /proc/self/ns/mnt ]
}
# repmgrd's pid as the host sees it, from this round's docker top (node_state); empty: not known
NS_PID=""
# ns_ready: whether NS_PID is still the container's repmgrd (its name; another mount namespace
# than this service's) with a psql on its PATH that runs there, read from /proc with no program
# started (but psql --version once for each repmgrd). Sets NS_PSQL, NS_PW, NS_LD, NS_UID, NS_GID.
ns_ready() {
  local pid=$NS_PID kv path="" d key uid="" gid="" seen="" checked="$STATE_DIR/reconcile-ns-checked"
  local -a dirs
  [ -n "$NSENTER" ] && [ "$EXEC_IN" = "$CONTAINER" ] && ns_is_repmgrd "$pid" || return 1
  NS_PW="" NS_LD="" NS_PSQL=""
  while IFS= read -r -d '' kv; do
    case $kv in
      PATH=*) path=\${kv#PATH=} ;;
      REPMGR_PASSWORD=*) NS_PW=\${kv#REPMGR_PASSWORD=} ;;
      LD_LIBRARY_PATH=*) NS_LD=\${kv#LD_LIBRARY_PATH=} ;;
    esac
  done 2>/dev/null <"/proc/$pid/environ"
  while read -r key kv _; do
    case $key in Uid:) uid=$kv ;; Gid:) gid=$kv ;; esac
  done 2>/dev/null <"/proc/$pid/status"
  [ -n "$uid" ] && [ -n "$gid" ] || return 1
  NS_UID=$uid NS_GID=$gid
  IFS=: read -ra dirs <<<"$path"
  for d in "\${dirs[@]}"; do
    if [ -n "$d" ] && [ -x "/proc/$pid/root$d/psql" ]; then NS_PSQL=$d/psql; break; fi
  done
  if [ -z "$NS_PSQL" ]; then
    say_once "$STATE_DIR/reconcile-ns-no-psql" "no psql on the PATH of $CONTAINER's repmgrd: questions go through docker exec (said once)"
    return 1
  fi
  # Tried once for each repmgrd (a container start): a psql that cannot run this way must not pass
  # for a node that does not answer. The outcome is kept in a file: psql_in runs in a subshell.
  { read -r seen <"$checked"; } 2>/dev/null
  case "$seen" in "$pid ok") return 0 ;; "$pid no") return 1 ;; esac
  if LD_LIBRARY_PATH=$NS_LD timeout 20 "$NSENTER" -t "$pid" -m -n -S "$NS_UID" -G "$NS_GID" -- "$NS_PSQL" --version >/dev/null 2>&1; then
    echo "$pid ok" >"$checked"
    log "questions to PostgreSQL run in $CONTAINER's namespaces (nsenter, $NS_PSQL as uid $NS_UID), not through docker exec"
    return 0
  fi
  echo "$pid no" >"$checked"
  log "could not run $NS_PSQL in $CONTAINER's namespaces through nsenter: questions go through docker exec"
  return 1
}
q_local() { psql_in "host=127.0.0.1 port=$PG_PORT user=repmgr dbname=\${2:-repmgr} connect_timeout=$CONNECT_TIMEOUT" "$1"; }
q_peer() { psql_in "host=$1 port=$2 user=repmgr dbname=repmgr connect_timeout=$CONNECT_TIMEOUT" "$3"; }
svc_active() { container_running && timeout 45 docker exec "$CONTAINER" timeout 15 pg_ctl -D "$DATA_DIR" status >/dev/null 2>&1; }
svc_stop() { pg_run 130 pg_ctl -D "$DATA_DIR" -m fast -w -t 120 stop >/dev/null; }
# Starting PostgreSQL in its role is the image's business: the container is restarted.
svc_start() {
  local i
  log "restarting the container $CONTAINER (the image starts PostgreSQL in its role)"
  timeout 300 docker restart -t 120 "$CONTAINER" >/dev/null || return 1
  for ((i = 0; i < 60; i++)); do
    if svc_active && node_settled; then return 0; fi
    sleep 5
  done
  return 1
}
# the failover validation inside the container, as its repmgrd runs it (the image's user and environment)
validation_run() { timeout $((VALIDATE_TIMEOUT + 30)) docker exec "$CONTAINER" "$ENTRYPOINT" timeout "$VALIDATE_TIMEOUT" /bin/bash "$VALIDATE" "$NODE_ID" 2>/dev/null; }
# repmgrd is the container's main process: stopping it would stop the container
hold_repmgrd() { return 0; }
release_repmgrd() { return 0; }
# repmgrd's process ids (as the host sees them), and a command run in the container's network
# namespace (the host's ss and nsenter: the image needs neither)
repmgrd_pids() { timeout 30 docker top "$CONTAINER" -eo pid,comm 2>/dev/null | awk '$2 == "repmgrd" { print $1 }'; }
in_node_netns() {
  local pid
  pid=$(timeout 30 docker inspect -f '{{.State.Pid}}' "$CONTAINER" 2>/dev/null) || return 1
  [ "\${pid:-0}" -gt 0 ] || return 1
  nsenter -t "$pid" -n "$@"
}
# A node taken out of the cluster: its container stopped for good (restart policy no, so not at
# boot either); its volume stays. PostgreSQL is shut down first (fast), then the container.
retire_repmgrd() {
  timeout 60 docker update --restart=no "$CONTAINER" >/dev/null || return 1
  svc_stop || log "PostgreSQL in $CONTAINER did not shut down by itself; docker stop follows"
  timeout 200 docker stop -t 120 "$CONTAINER" >/dev/null
}
# the container's restart policy is already "no" (retire_repmgrd)
svc_disable() { return 0; }
# A fenced primary's container must not be restarted by Docker: the image would start PostgreSQL
# as the primary again, no partner being primary in its sight. Its restart policy is "no" while
# fenced (PostgreSQL is stopped inside the running container; repmgrd, its main process, runs on),
# and back to the deployment's once the fence is lifted.
fence_hold() { timeout 60 docker update --restart=no "$CONTAINER" >/dev/null; }
fence_release() {
  probe_down
  timeout 60 docker update --restart="$RESTART_POLICY" "$CONTAINER" >/dev/null || log "could not set the restart policy of $CONTAINER back to $RESTART_POLICY"
}
# A fenced container that stopped (a host or Docker restart while fenced: its restart policy is
# "no") cannot be asked anything: this service reaches the other nodes and the data from inside it.
# Starting it blindly would let the image decide alone (as the primary when no partner answers as
# one). So a probe container looks instead: the node's image, volumes, network, --add-host entries
# and environment, its main process a sleep, no PostgreSQL (docs/reliability.md, "A fenced
# container that stopped").
fenced_look() {
  local said="$STATE_DIR/fenced-container-stopped" failed="$STATE_DIR/fenced-probe-failed"
  if container_running; then
    rm -f "$said" "$failed"
    probe_down
    return 0
  fi
  say_once "$said" "FENCE: the container $CONTAINER stopped while fenced (since $(cat "$FENCE_MARKER" 2>/dev/null)): looking at its data and the other nodes from the probe container $PROBE"
  if ! probe_up; then
    # said once: a container removed while fenced fails every round until an operator acts
    say_once "$failed" "could not start the probe container $PROBE (does $CONTAINER still exist? docker inspect $CONTAINER): trying again every round, said once"
    return 1
  fi
  rm -f "$failed"
  EXEC_IN=$PROBE
}
fenced_done() { EXEC_IN=$CONTAINER; }
probe_up() {
  local image net env rc h hosts=() netargs=()
  [ "$(timeout 30 docker inspect -f '{{.State.Running}}' "$PROBE" 2>/dev/null)" = true ] && return 0
  timeout 60 docker rm -f "$PROBE" >/dev/null 2>&1
  image=$(timeout 30 docker inspect -f '{{.Config.Image}}' "$CONTAINER") && [ -n "$image" ] || return 1
  net=$(timeout 30 docker inspect -f '{{.HostConfig.NetworkMode}}' "$CONTAINER") || return 1
  [ -z "$net" ] || [ "$net" = default ] || netargs=(--network "$net")
  while IFS= read -r h; do [ -z "$h" ] || hosts+=(--add-host "$h"); done < <(timeout 30 docker inspect -f '{{range .HostConfig.ExtraHosts}}{{println .}}{{end}}' "$CONTAINER")
  # the container's environment (its passwords among it) through a file only root can read, never argv
  env=$(umask 077 && mktemp "$STATE_DIR/probe-env.XXXXXX") || return 1
  timeout 30 docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$CONTAINER" >"$env" || { rm -f "$env"; return 1; }
  timeout 120 docker run --detach --name "$PROBE" --restart no "\${netargs[@]}" --volumes-from "$CONTAINER" --env-file "$env" "\${hosts[@]}" --entrypoint sleep "$image" infinity >/dev/null
  rc=$?
  rm -f "$env"
  return $rc
}
probe_down() {
  EXEC_IN=$CONTAINER
  if timeout 30 docker inspect "$PROBE" >/dev/null 2>&1; then timeout 60 docker rm -f "$PROBE" >/dev/null 2>&1 || log "could not remove the probe container $PROBE"; fi
  return 0
}
# A fenced node whose container stopped rejoins the newer primary through the image: what the
# rewind discards is recorded (from the probe) before the container starts; the image's start
# logic then finds that primary and joins the node to it. Counted like a node rejoin.
fenced_rejoin() {
  local n
  [ "$EXEC_IN" = "$PROBE" ] || { rejoin "$@"; return $?; }
  n=$(attempts)
  note_attempt $((n + 1))
  probe_down
  log "starting the container $CONTAINER (attempt $((n + 1)) of $MAX_ATTEMPTS): the image's start logic joins it to $1"
  svc_start || return 1
  rm -f "$ATTEMPTS_FILE"
}
# the container's processes (fails when it is not running)
container_top() { timeout 30 docker top "$CONTAINER" 2>/dev/null; }
# the image has finished starting the node once its main process, repmgrd, runs
node_settled() {
  local top
  top=$(container_top) || return 1
  [[ $top == *repmgrd* ]]
}
# Once a round, one docker top for both questions (instead of docker inspect, a docker exec of
# pg_ctl status and docker top): PostgreSQL runs when its postmaster (.../bin/postgres; a backend
# shows as "postgres: ...") is among the container's processes, and the node has settled when
# repmgrd is too. A container that is not running has no processes to show.
# Its repmgrd's pid is kept for the round's questions (psql_in) and for the next round: while that
# process lives on (still_running) no docker top is needed.
node_state() {
  local top line pid
  if [ "$EXEC_IN" = "$CONTAINER" ] && still_running; then
    NODE_STATE=2
    return 0
  fi
  NODE_STATE=0 NS_PID=""
  top=$(container_top) || return 0
  if [[ $top != */bin/postgres* ]]; then return 0; fi
  NODE_STATE=1
  [[ $top == *repmgrd* ]] || return 0
  NODE_STATE=2
  # repmgrd's line (its program named on it); docker top's second column is the pid
  while IFS= read -r line; do
    case "$line " in
      *" repmgrd "* | *"/repmgrd "*)
        read -r _ pid _ <<<"$line"
        if [[ $pid =~ ^[0-9]+$ ]]; then NS_PID=$pid; break; fi
        ;;
    esac
  done <<<"$top"
  return 0
}
# still_running: whether the repmgrd an earlier round found (NS_PID) runs on, and the postmaster
# that the data directory's postmaster.pid names runs too (looked up in the container's own /proc,
# through /proc/<repmgrd>/root): then the container still runs, settled, with PostgreSQL, and a
# round needs no docker call at all. A stopped PostgreSQL removes postmaster.pid; a restarted
# container has another repmgrd.
still_running() {
  local pid=$NS_PID pm="" comm=""
  ns_is_repmgrd "$pid" || return 1
  { read -r pm <"/proc/$pid/root$DATA_DIR/postmaster.pid"; } 2>/dev/null
  [[ $pm =~ ^[0-9]+$ ]] || return 1
  { read -r comm <"/proc/$pid/root/proc/$pm/comm"; } 2>/dev/null
  [ "$comm" = postgres ]
}
# the image keeps its own configuration files
ensure_datadir_include() { return 0; }
list_wal() { pg_run 30 ls "$DATA_DIR/pg_wal" 2>/dev/null | grep -E "^$(printf '%08X' "$1")[0-9A-F]{16}$"; }
copy_wal() { timeout 120 docker cp "$EXEC_IN:$DATA_DIR/pg_wal/$1" "$2/"; }
# After a failed node rejoin: the image's start logic joins the node to the primary (what the
# rewind would have discarded is recorded already).
reclone() {
  log "node rejoin failed: restarting the container $CONTAINER; the image's start logic joins it to $1"
  svc_start
}
`;

/** The service's script for one DB node of a Docker deployment. */
export function renderDockerReconcileScript(d: Deployment, node: DbNodeConfig): string {
  const others = d.database.nodes.filter((n) => n.name !== node.name);
  const header = [
    "#!/bin/bash",
    sh`# ems-ha reconciliation service of ${node.name} (container ${node.name}): repairs a stale primary, a forked or misattached standby, a stale witness.`,
    sh`# Managed by ems-ha (${d.topology}); usage: ems-ha-reconcile [--once]`,
    "set -uo pipefail",
    "cd /",
    shellVars({
      NODE_NAME: nodeWord(node.name),
      NODE_ID: nodeIdOrThrow(node),
      // A node taken out of database.nodes retires itself once the primary has unregistered it
      // (src/render/docker-membership.ts), but only after it was once seen registered: the image
      // registers a new node after its container starts.
      CHECK_REMOVED: 2,
      // The image's conninfo names the node by its name (REPMGR_NODE_NETWORK_NAME), not first.
      CONNINFO_LIKE: ["%host=", nodeWord(node.name), " %"].join(""),
      NODE_ADDRESS: node.address,
      ROLE: node.role,
      CONTAINER: node.name,
      PG_PORT: d.database.port,
      BINDIR: "",
      // a label for log lines; shellVars quotes the whole value
      SERVICE: ["PostgreSQL in container", node.name].join(" "),
      ENTRYPOINT: BITNAMI_ENTRYPOINT,
      REPMGR_CONF: BITNAMI_REPMGR_CONF,
      DATA_DIR: PG_DATA_DIR,
      CONF_DIR: PG_DATA_DIR,
      STATE_DIR,
      CONNECT_TIMEOUT: failoverTiming(d).connectTimeoutSeconds,
      INTERVAL: DOCKER_RECONCILE_INTERVAL_SECONDS,
      GRACE: dockerGraceSeconds(d),
      FENCING: dockerFencingEnabled(d),
      RESTART_POLICY: containerSpec(d, node).restart,
      FENCE_AFTER: FENCE_AFTER_SECONDS,
      ELECT: dockerElectionRepairEnabled(d),
      ELECT_AFTER: electAfterSeconds(d, DOCKER_RECONCILE_INTERVAL_SECONDS, dockerGraceSeconds(d)),
      VALIDATE: DOCKER_VALIDATE_FAILOVER,
      VALIDATE_TIMEOUT: failoverValidationBoundSeconds(d),
      MAX_ATTEMPTS: MAX_REJOIN_ATTEMPTS,
      UNSTICK_AFTER: UNSTICK_AFTER_SECONDS,
      UNSTICK_SILENT_AFTER: UNSTICK_SILENT_AFTER_SECONDS,
      UNSTICK_WHY_HUNG: UNSTICK_REASONS.hung,
      UNSTICK_WHY_SILENT: UNSTICK_REASONS.silent,
    }),
    // fields of the entries below are separated by the unit separator (names may hold spaces)
    "ENTRY_SEP=$'\\x1f'",
    shellArray(
      "PEERS",
      others.filter((n) => n.role === "data").map((n) => entry(d, n)),
    ),
    shellArray(
      "WITNESSES",
      others.filter((n) => n.role === "witness").map((n) => entry(d, n)),
    ),
  ];
  return reconcileScriptText(header, DOCKER_FLAVOUR);
}

export function dockerReconcileUnitSections(): UnitSection[] {
  return [
    {
      name: "Unit",
      directives: [
        ["Description", "ems-ha reconciliation: repairs a stale primary, a forked or misattached standby, a stale witness (in the DB container)"],
        ["After", "network-online.target docker.service"],
        ["Wants", "network-online.target"],
      ],
    },
    {
      name: "Service",
      directives: [
        ["Type", "simple"],
        ["ExecStart", DOCKER_RECONCILE_SCRIPT],
        ["Restart", "on-failure"],
        ["RestartSec", "10s"],
      ],
    },
    { name: "Install", directives: [["WantedBy", "multi-user.target"]] },
  ];
}

export function renderDockerReconcileUnit(topology: Deployment["topology"]): string {
  return formatUnit(dockerReconcileUnitSections(), `Managed by ems-ha (${topology}).`);
}

const EOF = "EMS_HA_EOF";

/**
 * The install step (run as root over SSH): the script and the unit written when they differ,
 * the unit enabled and (re)started, then checked to be running.
 */
export function renderDockerReconcileInstallScript(d: Deployment, node: DbNodeConfig): string {
  return (
    [
      "#!/bin/bash",
      sh`# ems-ha: installs the reconciliation service of ${node.name} on its Docker host.`,
      "set -euo pipefail",
      "changed=0",
      "# install_file DEST MODE < content: written only when it differs",
      "install_file() {",
      "  local dest=$1 mode=$2 tmp",
      '  mkdir -p "$(dirname "$dest")"',
      '  tmp=$(mktemp "$dest.ems-ha.XXXXXX")',
      '  cat >"$tmp"',
      '  chmod "$mode" "$tmp"',
      '  chown root:root "$tmp"',
      '  if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then rm -f "$tmp"; else mv -f "$tmp" "$dest"; changed=1; echo "[ems-ha] wrote $dest"; fi',
      "}",
      sh`mkdir -p ${STATE_DIR}`,
      "# Installed for a member: a retirement from an earlier removal of this node no longer applies.",
      sh`rm -f ${STATE_DIR}/removed ${STATE_DIR}/registered`,
      "# A new script tries nsenter again (what it found for the running repmgrd is kept in this file).",
      sh`rm -f ${STATE_DIR}/reconcile-ns-checked`,
      heredoc(sh`install_file ${DOCKER_RECONCILE_SCRIPT} 0755`, EOF, renderDockerReconcileScript(d, node)),
      heredoc(sh`install_file ${DOCKER_RECONCILE_UNIT} 0644`, EOF, renderDockerReconcileUnit(d.topology)),
      'if [ "$changed" = 1 ]; then systemctl daemon-reload; fi',
      sh`systemctl enable --quiet ${DOCKER_RECONCILE_UNIT_NAME}`,
      sh`if [ "$changed" = 1 ]; then systemctl restart ${DOCKER_RECONCILE_UNIT_NAME}; else systemctl start ${DOCKER_RECONCILE_UNIT_NAME}; fi`,
      "sleep 2",
      // the node's name as its own (quoted) word, never inside double quotes
      sh`if ! systemctl is-active --quiet ${DOCKER_RECONCILE_UNIT_NAME}; then journalctl -u ${DOCKER_RECONCILE_UNIT_NAME} -n 20 --no-pager >&2 || true; echo "ems-ha: ${DOCKER_RECONCILE_UNIT_NAME} is not running on" ${node.name} >&2; exit 1; fi`,
      sh`echo "[ems-ha] ${DOCKER_RECONCILE_UNIT_NAME} runs on" ${node.name}`,
    ].join("\n") + "\n"
  );
}
