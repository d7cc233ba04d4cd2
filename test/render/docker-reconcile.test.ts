/**
 * The Docker hosts' reconciliation service (src/render/docker-reconcile.ts): its settings, its
 * unit and install step, and one iteration of the real script against a fake `docker` CLI that
 * answers as the node's container would: a healthy node is left alone (no repmgr call), a stale
 * witness is re-registered through the image's entrypoint with the image's repmgr.conf.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import geoExample from "../../examples/geo-redundant";
import example from "../../examples/single-region";
import { parseDeployment } from "../../src/config/parse";
import type { Deployment } from "../../src/config/schema";
import { BITNAMI_ENTRYPOINT, BITNAMI_REPMGR_CONF } from "../../src/render/bitnami";
import {
  DOCKER_RECONCILE_SCRIPT,
  DOCKER_RECONCILE_UNIT,
  dockerGraceSeconds,
  renderDockerReconcileInstallScript,
  renderDockerReconcileScript,
  renderDockerReconcileUnit,
} from "../../src/render/docker-reconcile";
import { which } from "../../lab/lib/preflight";
import { reconcileStateOverrides } from "../helpers/reconcile";
import { tempDir } from "../helpers/tmp";

const d = parseDeployment(example);
const node = (name: string) => d.database.nodes.find((n) => n.name === name)!;

function headerValue(script: string, name: string): string | undefined {
  return new RegExp(`^${name}=(.*)$`, "m").exec(script)?.[1];
}

describe("the Docker reconciliation script", () => {
  const s1 = renderDockerReconcileScript(d, node("pg-1"));
  const sw = renderDockerReconcileScript(d, node("pgw-1"));

  it("is valid bash and names the node's container, repmgr node id and the image's paths", () => {
    for (const s of [s1, sw]) expect(spawnSync("bash", ["-n"], { input: s, timeout: 10_000 }).status).toBe(0);
    expect(headerValue(s1, "CONTAINER")).toBe("pg-1");
    expect(headerValue(s1, "NODE_ID")).toBe("1001");
    expect(headerValue(sw, "NODE_ID")).toBe("2001");
    expect(headerValue(sw, "ROLE")).toBe("witness");
    expect(headerValue(s1, "REPMGR_CONF")).toBe(BITNAMI_REPMGR_CONF);
    expect(headerValue(s1, "ENTRYPOINT")).toBe(BITNAMI_ENTRYPOINT);
    expect(headerValue(s1, "DATA_DIR")).toBe("/bitnami/postgresql/data");
    expect(headerValue(s1, "STATE_DIR")).toBe("/var/lib/ems-ha");
    // peers by name: the containers resolve them (--add-host), repmgr's conninfo names them
    // fields separated by the unit separator (ENTRY_SEP), so that no name can split an entry
    expect(headerValue(s1, "ENTRY_SEP")).toBe("$'\\x1f'");
    expect(headerValue(s1, "PEERS")).toBe("('pg-2\x1f1002\x1fpg-2\x1f5432')");
    expect(headerValue(s1, "WITNESSES")).toBe("('pgw-1\x1f2001\x1fpgw-1\x1f5432')");
    // fencing as natively (three or more nodes), the container's own restart policy to go back to
    expect(headerValue(s1, "FENCING")).toBe("1");
    expect(headerValue(s1, "RESTART_POLICY")).toBe("always");
    // not geo-redundant: the location rule would leave a fenced primary's cut-off location without any primary
    const geo = parseDeployment(geoExample);
    expect(headerValue(renderDockerReconcileScript(geo, geo.database.nodes[0]!), "FENCING")).toBe("0");
    expect(headerValue(s1, "GRACE")).toBe(String(dockerGraceSeconds(d)));
    // a standby promotes itself after an election repmgrd did not hold only where it fences, in one location
    expect(headerValue(s1, "ELECT")).toBe("1");
    expect(headerValue(renderDockerReconcileScript(geo, geo.database.nodes[0]!), "ELECT")).toBe("0");
    const split = parseDeployment({
      ...example,
      database: { ...example.database, nodes: example.database.nodes.map((n) => (n.role === "witness" ? { ...n, location: "dc2" } : n)) },
    });
    expect(headerValue(renderDockerReconcileScript(split, split.database.nodes[0]!), "FENCING")).toBe("1");
    expect(headerValue(renderDockerReconcileScript(split, split.database.nodes[0]!), "ELECT")).toBe("0");
  });

  it("waits longer than repmgrd's own failover before repairing", () => {
    // the example's failover timing: the image's defaults, 3 x 5 s, connect timeout 2 s, monitor 2 s
    expect(dockerGraceSeconds(d)).toBe(2 + 3 * (5 + 2) + 5);
  });

  it("redefines the functions that reach PostgreSQL after the shared ones and before the loop", () => {
    const last = (fn: string) => s1.lastIndexOf(`\n${fn}() {`);
    const first = (fn: string) => s1.indexOf(`\n${fn}() {`);
    const loop = s1.indexOf("\nwhile true; do");
    for (const fn of [
      "q_local",
      "q_peer",
      "pg_run",
      "repmgr_run",
      "svc_active",
      "svc_stop",
      "svc_start",
      "hold_repmgrd",
      "release_repmgrd",
      "list_wal",
      "copy_wal",
      "reclone",
      "node_settled",
    ]) {
      expect(first(fn), fn).toBeGreaterThan(0);
      expect(last(fn), `${fn} is redefined for Docker`).toBeGreaterThan(first(fn));
      expect(last(fn)).toBeLessThan(loop);
    }
    // the password stays in the container's environment
    // (inside a docker exec, or through nsenter from what /proc shows of the container's repmgrd)
    const assignments = s1.match(/PGPASSWORD=\S*/g) ?? [];
    expect(assignments.length).toBeGreaterThan(0);
    for (const a of assignments) expect(a).toMatch(/^PGPASSWORD=("\$\{REPMGR_PASSWORD:-\}"|\$NS_PW$)/);
    expect(s1).toMatch(/REPMGR_PASSWORD=\*\) NS_PW=\$\{kv#REPMGR_PASSWORD=\} ;;\n(.*\n){2} {2}done 2>\/dev\/null <"\/proc\/\$pid\/environ"/);
    expect(s1).not.toMatch(/password=/);
  });

  it("is installed with a unit ordered after Docker, restarted only when it changed", () => {
    const unit = renderDockerReconcileUnit("single-region");
    expect(unit).toMatch(/^After=network-online\.target docker\.service$/m);
    expect(unit).toContain(`ExecStart=${DOCKER_RECONCILE_SCRIPT}`);
    const install = renderDockerReconcileInstallScript(d, node("pg-2"));
    expect(spawnSync("bash", ["-n"], { input: install, timeout: 10_000 }).status).toBe(0);
    expect(install).toContain(`install_file ${DOCKER_RECONCILE_SCRIPT} 0755 <<'EMS_HA_EOF'`);
    expect(install).toContain(`install_file ${DOCKER_RECONCILE_UNIT} 0644 <<'EMS_HA_EOF'`);
    expect(install).toContain(renderDockerReconcileScript(d, node("pg-2")).trimEnd());
    expect(install).toMatch(/if \[ "\$changed" = 1 \]; then systemctl restart ems-ha-reconcile; else systemctl start ems-ha-reconcile; fi/);
    // a new script tries nsenter again
    expect(install.indexOf("rm -f /var/lib/ems-ha/reconcile-ns-checked")).toBeGreaterThan(0);
    expect(install.indexOf("rm -f /var/lib/ems-ha/reconcile-ns-checked")).toBeLessThan(install.indexOf("systemctl restart ems-ha-reconcile"));
  });
});

/** How the fakes below answer SQL ($ci: the conninfo, $q: the statement), from the environment they describe. */
const ANSWER_SQL = String.raw`host=$(sed -n 's/.*host=\([^ ]*\).*/\1/p' <<<"$ci")
case "$q" in
  "select pg_is_in_recovery()") if [ "$host" = 127.0.0.1 ]; then echo "$LOCAL_RECOVERY"; elif [ "$host" = "$PRIMARY" ]; then echo f; else echo t; fi ;;
  # the witness's one question: its upstream and the primaries in its metadata ("-": none)
  "select coalesce((select upstream_node_id"*) echo "\${UP:--} \${PRIM:--}" ;;
  "select string_agg(node_id::text, ' ') from repmgr.nodes where node_id <>"*) echo "$REGISTERED_IDS" ;;
  "select string_agg"*) echo "$PRIM" ;;
  # the standby's one question: "status sender" of its WAL receiver
  "select status || ' ' || coalesce(sender_host, '') from pg_stat_wal_receiver") echo "$RECEIVER" ;;
  # PEERS_UP: 1 (every other node answers), 0 (none), or the names of those that answer
  "select 1") case " \${PEERS_UP:-1} " in " 1 " | *" $host "*) echo 1 ;; *) exit 2 ;; esac ;;
  "select repmgr.repmgrd_is_paused()") echo f ;;
  # the local cluster's system identifier
  "select system_identifier from pg_control_system()") echo "\${SYSID:-7000000000000000001}" ;;
  # the membership query: the primary's records (MEMBERSHIP), else this node's own copy (LOCAL_MEMBERSHIP)
  "select count(*) || "*) if [ "$host" = "$PRIMARY" ]; then echo "\${MEMBERSHIP:-3 1 1}"; else echo "\${LOCAL_MEMBERSHIP:-3 1 1}"; fi ;;
  *) echo "unexpected SQL: $q" >&2; exit 1 ;;
esac
`.replace(/\\\$\{/g, "${");

/**
 * A fake docker CLI: `inspect` says running, `top` lists repmgrd, `exec ... pg_ctl status`
 * succeeds, psql answers from the environment (PRIMARY: the peer that is writable; UP / PRIM: the
 * witness's metadata; RECEIVER: "status sender" of the local WAL receiver), repmgr through the
 * entrypoint succeeds. Every call is logged.
 */
const FAKE_DOCKER = String.raw`#!/bin/bash
echo "docker $*" >>"$FAKE_LOG"
case "$1" in
  inspect) echo true; exit 0 ;;
  top) echo "UID PID CMD"; echo "1001 6 /opt/bitnami/postgresql/bin/postgres -D /bitnami/postgresql/data"; echo "1001 \${REPMGRD_PID:-7} repmgrd -f /opt/bitnami/repmgr/conf/repmgr.conf --daemonize=false"; echo "1001 8 postgres: checkpointer"; exit 0 ;;
  cp | update | stop) exit 0 ;;
  exec) ;;
  *) exit 1 ;;
esac
shift 2
[ "$1" = timeout ] && shift 2
case "$1" in
  pg_ctl) exit 0 ;;
  /opt/bitnami/scripts/postgresql-repmgr/entrypoint.sh) exit 0 ;;
  bash) ci=$5; q=$6 ;;
  *) exit 1 ;;
esac
${ANSWER_SQL}`.replace(/\\\$\{/g, "${");

/**
 * A fake psql (the container's, reached through nsenter): logs its user, the mount namespace it
 * runs in, whether it got a password and its arguments, then answers as the fakes above.
 */
const FAKE_PSQL = String.raw`#!/bin/bash
if [ "$1" = --version ]; then echo "psql-version-asked uid=$(id -u)" >>"$PSQL_LOG"; echo "psql (PostgreSQL) 15.99"; exit 0; fi
echo "psql uid=$(id -u) mnt=$(readlink /proc/self/ns/mnt) pw=\${PGPASSWORD:-none} $*" >>"$PSQL_LOG"
ci=$6; q=$8
${ANSWER_SQL}`.replace(/\\\$\{/g, "${");

const fencedAt = (st: string) => writeFileSync(join(st, "fenced"), "2026-11-26 18:00:00 UTC pg-1\n");

/**
 * A fake docker CLI for a node whose container is stopped (it runs once restarted): a probe
 * container answers for its data (pg_controldata, pg_wal) and asks the other nodes (PRIMARY: the
 * peer that answers as primary, on timeline 3, having left timeline 2 at 0/4000000; PEERS_UP=0:
 * no peer answers). State in files next to the log.
 */
const FAKE_STOPPED = String.raw`#!/bin/bash
echo "docker $*" >>"$FAKE_LOG"
st=$(dirname "$FAKE_LOG")
case "$1 $2 $3" in
  "inspect -f {{.State.Running}}") if [ "$4" = pg-1 ]; then [ -f "$st/pg-1-running" ] && echo true || echo false; else [ -f "$st/probe" ] && echo true || echo false; fi; exit 0 ;;
  "inspect -f {{.Config.Image}}") echo ems-postgres-ha:7.4.4; exit 0 ;;
  "inspect -f {{.HostConfig.NetworkMode}}") echo default; exit 0 ;;
  "inspect -f {{range .HostConfig.ExtraHosts}}{{println .}}{{end}}") printf 'pg-2:192.168.1.22\npgw-1:192.168.1.23\n'; exit 0 ;;
  "inspect -f {{range .Config.Env}}{{println .}}{{end}}") printf 'REPMGR_PASSWORD=pw-of-pg-1\nPATH=/opt/bitnami/postgresql/bin:/usr/bin\n'; exit 0 ;;
esac
case "$1" in
  inspect) [ "$2" = pg-1-ems-ha-probe ] && [ -f "$st/probe" ]; exit ;;
  run) for a; do case "$prev" in --env-file) echo "$(stat -c %a "$a") $(cat "$a")" >"$st/probe-env.seen" ;; esac; prev=$a; done; touch "$st/probe"; exit 0 ;;
  rm) rm -f "$st/probe"; exit 0 ;;
  restart) touch "$st/pg-1-running"; exit 0 ;;
  top) [ -f "$st/pg-1-running" ] || exit 1; echo "UID PID CMD"; echo "1001 6 /opt/bitnami/postgresql/bin/postgres -D /bitnami/postgresql/data"; echo "1001 7 repmgrd"; exit 0 ;;
  update) exit 0 ;;
  cp) [ -f "$st/probe" ] || exit 1; touch "$3/\${2##*/}"; exit 0 ;;
  exec) ;;
  *) exit 1 ;;
esac
target=$2
shift 2
[ "$1" = timeout ] && shift 2
if [ "$target" = pg-1 ]; then
  [ -f "$st/pg-1-running" ] || exit 1
  [ "$1" = pg_ctl ] && exit 0
  exit 1
fi
[ -f "$st/probe" ] || exit 1
case "$1" in
  pg_controldata) printf "Latest checkpoint location:           0/5000028\nLatest checkpoint's TimeLineID:       2\nBytes per WAL segment:                16777216\n"; exit 0 ;;
  ls) printf '000000020000000000000003\n000000020000000000000004\n000000020000000000000005\n00000003.history\n'; exit 0 ;;
  bash) ci=$5; q=$6 ;;
  *) exit 1 ;;
esac
host=$(sed -n 's/.*host=\([^ ]*\).*/\1/p' <<<"$ci")
[ "$host" != 127.0.0.1 ] || exit 2
case " \${PEERS_UP:-1} " in " 1 " | *" $host "*) ;; *) exit 2 ;; esac
case "$q" in
  "select pg_is_in_recovery()") [ "$host" = "$PRIMARY" ] && echo f || echo t ;;
  CHECKPOINT) ;;
  "select timeline_id from pg_control_checkpoint()") echo 3 ;;
  "select pg_read_file('pg_wal/00000003.history')") printf '1\t0/3000000\tno recovery target specified\n2\t0/4000000\tno recovery target specified\n' ;;
  "select 1") echo 1 ;;
  *) echo "unexpected SQL: $q" >&2; exit 1 ;;
esac
`.replace(/\\\$\{/g, "${");

/** Runs `ems-ha-reconcile --once` `times` times (2.2 s apart, the removal must last 2 s), with state from `setup`. */
function runOnce(
  name: string,
  vars: Record<string, string>,
  fakeDocker = FAKE_DOCKER,
  times = 1,
  setup: (stateDir: string) => void = () => undefined,
  dep: Deployment = d,
): { code: number | null; out: string; calls: string; stateDir: string } {
  const dir = tempDir("ems-ha-docker-reconcile-");
  const bin = join(dir, "bin");
  for (const d of [bin, join(dir, "state")]) mkdirSync(d, { recursive: true });
  writeFileSync(join(bin, "docker"), fakeDocker);
  chmodSync(join(bin, "docker"), 0o755);
  const script = join(dir, "ems-ha-reconcile");
  const text = renderDockerReconcileScript(
    dep,
    dep.database.nodes.find((n) => n.name === name)!,
  );
  writeFileSync(script, text);
  const overrides = join(dir, "overrides.sh");
  const st = join(dir, "state");
  writeFileSync(overrides, [...reconcileStateOverrides(text, st), "GRACE=0", ""].join("\n"));
  setup(st);
  const log = join(dir, "calls.log");
  let out = "";
  let code: number | null = null;
  for (let i = 0; i < times; i++) {
    if (i > 0) spawnSync("sleep", ["2.2"], { timeout: 10_000 });
    const r = spawnSync("bash", [script, "--once"], {
      env: { PATH: `${bin}:${process.env.PATH}`, EMS_HA_RECONCILE_OVERRIDES: overrides, FAKE_LOG: log, ...vars },
      encoding: "utf8",
      // Synchronous: one iteration against the fake docker takes well under a second.
      timeout: 30_000,
    });
    out += `${r.stdout}${r.stderr}`;
    code = r.status;
  }
  return { code, out, calls: existsSync(log) ? readFileSync(log, "utf8") : "", stateDir: st };
}

describe("one iteration on a Docker host (fake docker CLI)", () => {
  it("leaves a healthy standby and a healthy witness alone", () => {
    const standby = runOnce("pg-2", { PRIMARY: "pg-1", LOCAL_RECOVERY: "t", RECEIVER: "streaming pg-1" });
    expect(standby.code, standby.out).toBe(0);
    expect(standby.out).not.toMatch(/REPAIR/);
    expect(standby.calls).toMatch(
      /^docker exec pg-2 timeout 15 bash -c .* host=pg-1 port=5432 user=repmgr dbname=repmgr connect_timeout=2 select pg_is_in_recovery\(\)$/m,
    );
    expect(standby.calls).not.toMatch(/repmgr -f|docker restart|docker cp/);
    const witness = runOnce("pgw-1", { PRIMARY: "pg-1", LOCAL_RECOVERY: "f", UP: "1001", PRIM: "1001" });
    expect(witness.code, witness.out).toBe(0);
    expect(witness.out).not.toMatch(/REPAIR/);
    expect(witness.calls).not.toMatch(/repmgr -f/);
  });

  it("a healthy round asks each other node once, and its own PostgreSQL twice at most (each question is a docker exec and a connection)", () => {
    const questions = (calls: string) => calls.split("\n").filter((l) => /^docker exec \S+ timeout 15 bash -c /.test(l));
    const toPeer = (qs: string[], host: string) => qs.filter((l) => l.includes(` host=${host} `));
    const standby = questions(runOnce("pg-2", { PRIMARY: "pg-1", LOCAL_RECOVERY: "t", RECEIVER: "streaming pg-1" }).calls);
    // pg-1: is it the primary (once, shared by the membership and standby checks), then the membership query
    expect(toPeer(standby, "pg-1")).toHaveLength(2);
    // itself: in recovery?, then its WAL receiver's status and sender in one question
    expect(toPeer(standby, "127.0.0.1")).toHaveLength(2);
    expect(standby).toHaveLength(4);
    const witness = questions(runOnce("pgw-1", { PRIMARY: "pg-1", LOCAL_RECOVERY: "f", UP: "1001", PRIM: "1001" }).calls);
    // each data node once (is it the primary?), the primary's membership records, its own metadata in one question
    expect(toPeer(witness, "pg-1")).toHaveLength(2);
    expect(toPeer(witness, "pg-2")).toHaveLength(1);
    expect(toPeer(witness, "127.0.0.1")).toHaveLength(1);
    // whether PostgreSQL and repmgrd run: one docker top, no docker inspect, no pg_ctl status
    const calls = runOnce("pg-2", { PRIMARY: "pg-1", LOCAL_RECOVERY: "t", RECEIVER: "streaming pg-1" }).calls;
    expect(calls.split("\n").filter((l) => l.startsWith("docker top "))).toEqual(["docker top pg-2"]);
    expect(calls).not.toMatch(/^docker inspect|pg_ctl/m);
  });

  it("a container whose processes show no postmaster counts as PostgreSQL stopped: nothing is asked", () => {
    const noPostmaster = FAKE_DOCKER.replace(
      / {2}top\) .*;;\n/,
      "  top) echo 'UID PID CMD'; echo '1001 7 repmgrd -f /opt/bitnami/repmgr/conf/repmgr.conf'; exit 0 ;;\n",
    );
    expect(noPostmaster).not.toEqual(FAKE_DOCKER);
    const r = runOnce("pg-2", { PRIMARY: "pg-1", LOCAL_RECOVERY: "t", RECEIVER: "streaming pg-1" }, noPostmaster);
    expect(r.code, r.out).toBe(0);
    expect(r.calls).toMatch(/^docker top pg-2$/m);
    expect(r.calls).not.toMatch(/psql|repmgr -f/);
  });

  it("re-registers a witness whose metadata names an old primary, through the image's entrypoint", () => {
    const r = runOnce("pgw-1", { PRIMARY: "pg-2", LOCAL_RECOVERY: "f", UP: "1001", PRIM: "1001" });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(
      /REPAIR: this witness is registered with node 1001 \(primary in its metadata: 1001\), but pg-2 \(pg-2\) is the primary: witness register --force -h pg-2/,
    );
    expect(r.calls).toContain(
      `docker exec pgw-1 ${BITNAMI_ENTRYPOINT} bash -c export PGPASSWORD="\${REPMGR_PASSWORD:-}"; exec timeout "$@" _ 60 repmgr -f ${BITNAMI_REPMGR_CONF} -h pg-2 -p 5432 -U repmgr -d repmgr witness register --force`,
    );
    // the witness's container is never restarted for this
    expect(r.calls).not.toMatch(/docker restart/);
  });

  it("retires a node the primary unregistered, going by the primary's records, not by its own copy", () => {
    // pg-2, seen registered before; the primary pg-1 no longer lists it; its own copy (stale: it no longer streams) still does
    const r = runOnce("pg-2", { PRIMARY: "pg-1", LOCAL_RECOVERY: "t", RECEIVER: "x x", MEMBERSHIP: "2 0 0", LOCAL_MEMBERSHIP: "3 1 1" }, FAKE_DOCKER, 2, (st) =>
      writeFileSync(join(st, "registered"), "1002\n"),
    );
    expect(r.code, r.out).toBe(0);
    expect(r.calls).toMatch(/host=pg-1 port=5432 user=repmgr dbname=repmgr connect_timeout=2 select count\(\*\) \|\| /);
    expect(r.out).toContain("REMOVED: the cluster has no record of node id 1002");
    expect(r.calls).toContain("docker update --restart=no pg-2");
    expect(r.calls).toMatch(/^docker stop -t 120 pg-2$/m);
    expect(existsSync(join(r.stateDir, "removed"))).toBe(true);
    // no repair of its replication was tried meanwhile
    expect(r.calls).not.toMatch(/repmgr -f|docker restart/);
  });

  it("neither retires nor repairs a node while the primary does not answer the membership query", () => {
    const noAnswer = FAKE_DOCKER.replace(/("select count\(\*\) \|\| "\*\)) if/, '$1 [ "$host" != "$PRIMARY" ] || exit 2; if');
    expect(noAnswer).not.toEqual(FAKE_DOCKER);
    const r = runOnce("pg-2", { PRIMARY: "pg-1", LOCAL_RECOVERY: "t", RECEIVER: "x x", LOCAL_MEMBERSHIP: "2 0 0" }, noAnswer, 2, (st) =>
      writeFileSync(join(st, "registered"), "1002\n"),
    );
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("the primary pg-1 did not answer the membership query: looking again next round");
    expect(r.out).not.toMatch(/REMOVED|REPAIR/);
    expect(r.calls).not.toMatch(/docker (update|stop|restart)|repmgr -f/);
  });

  it("fences an isolated primary: its container kept from restarting (restart policy no), then PostgreSQL stopped in it", () => {
    // pg-1, the primary, has seen a majority before and has seen no other node for longer than FENCE_AFTER
    const r = runOnce("pg-1", { PRIMARY: "", LOCAL_RECOVERY: "f", PEERS_UP: "0" }, FAKE_DOCKER, 1, (st) => {
      writeFileSync(join(st, "registered"), "1001\n");
      writeFileSync(join(st, "reconcile-majority-seen"), "");
      writeFileSync(join(st, "reconcile-pending-isolated"), `${Math.floor(Date.now() / 1000) - 60}\n`);
    });
    expect(r.out).toMatch(/FENCE: this primary has seen only 0 of the other nodes \(a majority needs 1\)/);
    const hold = r.calls.indexOf("docker update --restart=no pg-1");
    const stop = r.calls.search(/docker exec pg-1 timeout 130 pg_ctl -D \S+ -m fast -w -t 120 stop/);
    expect(hold, r.calls).toBeGreaterThan(-1);
    expect(stop, r.calls).toBeGreaterThan(hold);
    expect(existsSync(join(r.stateDir, "fenced"))).toBe(true);
  });

  it("notes the cluster it is armed for; armed for another one (every node lost, the cluster built anew), the primary is not fenced until it has seen a majority again", () => {
    const isolated = (marker: string) => (st: string) => {
      writeFileSync(join(st, "registered"), "1001\n");
      writeFileSync(join(st, "reconcile-majority-seen"), marker);
      writeFileSync(join(st, "reconcile-pending-isolated"), `${Math.floor(Date.now() / 1000) - 60}\n`);
    };
    const vars = { PRIMARY: "", LOCAL_RECOVERY: "f", PEERS_UP: "0", SYSID: "7300000000000000002" };
    // armed for this very cluster: fenced
    const same = runOnce("pg-1", vars, FAKE_DOCKER, 1, isolated("7300000000000000002\n"));
    expect(same.out).toMatch(/FENCE: this primary has seen only 0 of the other nodes/);
    // armed for the lost cluster: disarmed, not fenced, its isolation forgotten
    const anew = runOnce("pg-1", vars, FAKE_DOCKER, 1, isolated("7100000000000000009\n"));
    expect(anew.out).toContain(
      "fencing disarmed: this node's data is a new cluster (system identifier 7300000000000000002, armed for 7100000000000000009); armed again once it has seen a majority",
    );
    expect(anew.out).not.toMatch(/FENCE/);
    expect(anew.calls).not.toMatch(/docker update|pg_ctl -D \S+ -m fast/);
    expect(existsSync(join(anew.stateDir, "reconcile-majority-seen"))).toBe(false);
    expect(existsSync(join(anew.stateDir, "reconcile-pending-isolated"))).toBe(false);
    // once its peers answer it is armed again, for the new cluster
    const back = runOnce("pg-1", { ...vars, PEERS_UP: "1" }, FAKE_DOCKER, 1, isolated("7100000000000000009\n"));
    expect(back.out).toMatch(/fencing armed: 2 of the other nodes answer/);
    expect(readFileSync(join(back.stateDir, "reconcile-majority-seen"), "utf8")).toBe("7300000000000000002\n");
    // a marker of an earlier version (empty) counts as armed, and gets the cluster noted at the next majority
    const old = runOnce("pg-1", { ...vars, PEERS_UP: "1" }, FAKE_DOCKER, 1, isolated(""));
    expect(old.out).not.toMatch(/fencing (armed|disarmed)/);
    expect(readFileSync(join(old.stateDir, "reconcile-majority-seen"), "utf8")).toBe("7300000000000000002\n");
  });

  it("never fences a witness (its PostgreSQL is not in recovery, but it is no primary)", () => {
    const r = runOnce("pgw-1", { PRIMARY: "", LOCAL_RECOVERY: "f", PEERS_UP: "0", UP: "1001", PRIM: "1001" }, FAKE_DOCKER, 1, (st) => {
      writeFileSync(join(st, "reconcile-majority-seen"), "");
      writeFileSync(join(st, "reconcile-pending-isolated"), `${Math.floor(Date.now() / 1000) - 60}\n`);
    });
    expect(r.out).not.toMatch(/FENCE/);
    expect(r.calls).not.toMatch(/docker update|pg_ctl -D \S+ -m fast/);
  });

  it("counts the majority over the nodes the primary's records still list: a node just unregistered does not count", () => {
    // pg-1 primary of pg-1, pg-2, pg-3, pgw-1 (its script's PEERS); pg-3 was unregistered and
    // retired, the witness is being recreated: only pg-2 answers
    const input = structuredClone(example);
    input.database.nodes.splice(2, 0, { ...input.database.nodes[1]!, name: "pg-3", address: "192.168.1.24" });
    const four = parseDeployment(input);
    const setup = (st: string) => {
      writeFileSync(join(st, "registered"), "1001\n");
      writeFileSync(join(st, "reconcile-majority-seen"), "");
      writeFileSync(join(st, "reconcile-pending-isolated"), `${Math.floor(Date.now() / 1000) - 60}\n`);
    };
    const vars = { PRIMARY: "", LOCAL_RECOVERY: "f", PEERS_UP: "pg-2" };
    const after = runOnce("pg-1", { ...vars, REGISTERED_IDS: "1002 2001" }, FAKE_DOCKER, 1, setup, four);
    expect(after.out).not.toMatch(/FENCE/);
    expect(after.calls).not.toMatch(/docker update|pg_ctl -D \S+ -m fast/);
    // with every node of its list still registered, 1 of 3 is no majority: fenced
    const before = runOnce("pg-1", { ...vars, REGISTERED_IDS: "1002 1003 2001" }, FAKE_DOCKER, 1, setup, four);
    expect(before.out).toMatch(/FENCE: this primary has seen only 1 of the other nodes \(a majority needs 2\)/);
  });

  it("a fenced container that stopped is looked at from a probe container: nothing started while no other node answers", () => {
    const r = runOnce("pg-1", { PEERS_UP: "0", PRIMARY: "" }, FAKE_STOPPED, 2, fencedAt);
    expect(r.code, r.out).toBe(0);
    // said once over two rounds; the probe: the node's image, network, hosts and volumes, its environment from a file, a sleep
    expect(
      r.out.match(
        /FENCE: the container pg-1 stopped while fenced \(since 2026-11-26 18:00:00 UTC pg-1\): looking at its data and the other nodes from the probe container pg-1-ems-ha-probe/g,
      ),
    ).toHaveLength(1);
    expect(r.calls).toMatch(
      /^docker run --detach --name pg-1-ems-ha-probe --restart no --volumes-from pg-1 --env-file \S+\/probe-env\.\w+ --add-host pg-2:192\.168\.1\.22 --add-host pgw-1:192\.168\.1\.23 --entrypoint sleep ems-postgres-ha:7\.4\.4 infinity$/m,
    );
    expect(r.calls.match(/^docker run /gm)).toHaveLength(1);
    // the environment went through a file only root reads, gone after the run; never on a command line
    expect(readFileSync(join(r.stateDir, "..", "probe-env.seen"), "utf8")).toBe("600 REPMGR_PASSWORD=pw-of-pg-1\nPATH=/opt/bitnami/postgresql/bin:/usr/bin\n");
    expect(r.calls).not.toContain("pw-of-pg-1");
    expect(readdirSync(r.stateDir).filter((f) => f.startsWith("probe-env"))).toEqual([]);
    // the other nodes asked from the probe; the node's container neither started nor asked
    expect(r.calls).toMatch(/^docker exec pg-1-ems-ha-probe timeout 15 bash -c .* host=pg-2 .* select pg_is_in_recovery\(\)$/m);
    expect(r.calls).not.toMatch(/docker (start|restart|update)|docker exec pg-1 /);
    expect(existsSync(join(r.stateDir, "fenced"))).toBe(true);
  });

  it("a fenced container that was removed (no probe possible): said once over two rounds, nothing started", () => {
    const removed = FAKE_STOPPED.replace(
      /"inspect -f \{\{\.Config\.Image\}\}"\) echo ems-postgres-ha:7\.4\.4; exit 0 ;;/,
      '"inspect -f {{.Config.Image}}") exit 1 ;;',
    );
    expect(removed).not.toEqual(FAKE_STOPPED);
    const r = runOnce("pg-1", { PRIMARY: "pg-2" }, removed, 2, fencedAt);
    expect(r.code, r.out).toBe(0);
    expect(r.out.match(/could not start the probe container pg-1-ems-ha-probe \(does pg-1 still exist\?/g)).toHaveLength(1);
    expect(r.calls).not.toMatch(/docker (run|start|restart|update|exec)/);
  });

  it("a fenced container that stopped, once a newer primary answers: what the rewind discards recorded from the probe, then the container started (the image joins it), the fence lifted", () => {
    const r = runOnce("pg-1", { PRIMARY: "pg-2" }, FAKE_STOPPED, 1, fencedAt);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(
      /REPAIR: fenced since 2026-11-26 18:00:00 UTC pg-1; pg-2 became primary \(timeline 3\): rejoining it \(last LSN 0\/5000028, fork point 0\/4000000\)/,
    );
    // the record: the WAL segments of timeline 2 from the fork point on, copied out of the probe (segment size from the control file)
    const rec = readdirSync(r.stateDir).find((f) => /^rewind-pg-1-.*\.txt$/.test(f))!;
    expect(readFileSync(join(r.stateDir, rec), "utf8")).toMatch(/discarded: WAL of timeline 2 from 0\/4000000 to 0\/5000028/);
    expect(readdirSync(join(r.stateDir, rec.replace(/\.txt$/, ".wal"))).sort()).toEqual(["000000020000000000000004", "000000020000000000000005"]);
    // order: recorded, probe removed, container started, restart policy back
    const at = (re: RegExp) => r.calls.split("\n").findIndex((l) => re.test(l));
    const copied = at(/^docker cp pg-1-ems-ha-probe:\/bitnami\/postgresql\/data\/pg_wal\/000000020000000000000005 /);
    // (probe_up removes a stale probe before it creates one: the last removal is the one after the record)
    const removed = r.calls.split("\n").lastIndexOf("docker rm -f pg-1-ems-ha-probe");
    const started = at(/^docker restart -t 120 pg-1$/);
    const policy = at(/^docker update --restart=always pg-1$/);
    expect(copied, r.calls).toBeGreaterThan(-1);
    expect(removed).toBeGreaterThan(copied);
    expect(started).toBeGreaterThan(removed);
    expect(policy).toBeGreaterThan(started);
    expect(existsSync(join(r.stateDir, "fenced"))).toBe(false);
    expect(existsSync(join(r.stateDir, "reconcile-attempts"))).toBe(false);
  });

  it("the same fenced node with its container running is repaired in place, no probe", () => {
    const running = runOnce(
      "pg-1",
      { PRIMARY: "pg-2", LOCAL_RECOVERY: "f" },
      FAKE_DOCKER.replace(/ {2}pg_ctl\) exit 0 ;;\n/, "  pg_ctl) exit 3 ;;\n"),
      1,
      fencedAt,
    );
    expect(running.out).not.toMatch(/stopped while fenced/);
    expect(running.calls).toMatch(
      /^docker exec pg-1 timeout 15 bash -c .*host=pg-2 port=5432 user=repmgr dbname=repmgr connect_timeout=2 select pg_is_in_recovery\(\)$/m,
    );
    expect(running.calls).not.toMatch(/docker run|ems-ha-probe --/);
  });

  it("never acts on a node still starting (repmgrd, the image's main process, not yet running)", () => {
    // PostgreSQL (the image starts it first) runs; repmgrd does not yet.
    const starting = FAKE_DOCKER.replace(
      / {2}top\) .*;;\n/,
      "  top) echo 'UID PID CMD'; echo '1001 6 /opt/bitnami/postgresql/bin/postgres -D /bitnami/postgresql/data'; exit 0 ;;\n",
    );
    expect(starting).not.toEqual(FAKE_DOCKER);
    const r = runOnce("pgw-1", { PRIMARY: "pg-2", LOCAL_RECOVERY: "f", UP: "1001", PRIM: "1001" }, starting);
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toMatch(/REPAIR/);
    expect(r.calls).toMatch(/^docker top pgw-1$/m);
    expect(r.calls).not.toMatch(/psql|repmgr -f/);
  });
});

/**
 * The questions of a round through nsenter, with real unshare and nsenter: a copy of sleep named
 * repmgrd, started in its own mount namespace as another user with a container-like environment,
 * stands for the container's repmgrd; the fake docker's top names its pid.
 */
describe("a round's questions in the container's namespaces (nsenter)", () => {
  const UID = 4242;

  /** Starts the stand-in repmgrd (in a new mount namespace unless `sameMountNs`) and waits until it runs. */
  async function fakeRepmgrd(dir: string, path: string, sameMountNs = false): Promise<ChildProcess> {
    if (process.getuid?.() !== 0) throw new Error("this test needs root (unshare -m, setpriv, nsenter): run the tests as root, as CI does");
    for (const tool of ["unshare", "setpriv", "nsenter"]) if (!which(tool)) throw new Error(`this test needs ${tool} (util-linux) on PATH`);
    // a directory of its own per start: the binary of one killed a moment ago may still be running
    // (SIGKILL is not synchronous), and writing over it then fails with ETXTBSY
    const own = mkdtempSync(join(dir, "repmgrd-"));
    chmodSync(own, 0o755);
    const repmgrd = join(own, "repmgrd");
    copyFileSync("/bin/sleep", repmgrd);
    chmodSync(repmgrd, 0o755);
    const drop = [
      "setpriv",
      `--reuid=${UID}`,
      `--regid=${UID}`,
      "--clear-groups",
      "env",
      "-i",
      `PATH=${path}`,
      "REPMGR_PASSWORD=pw-in-the-container",
      repmgrd,
      "300",
    ];
    const child = spawn(sameMountNs ? drop[0]! : "unshare", sameMountNs ? drop.slice(1) : ["-m", "--", ...drop], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      try {
        if (readFileSync(`/proc/${child.pid}/comm`, "utf8") === "repmgrd\n") return child;
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill("SIGKILL");
    throw new Error("the stand-in repmgrd did not start within 10 s");
  }

  /** A directory the stand-in's user can read, with the fake psql in cbin and a log it may write. */
  function containerDir(): { dir: string; cbin: string; log: string } {
    const dir = tempDir("ems-ha-nsenter-");
    chmodSync(dir, 0o755);
    const cbin = join(dir, "cbin");
    mkdirSync(cbin, { mode: 0o755 });
    writeFileSync(join(cbin, "psql"), FAKE_PSQL, { mode: 0o755 });
    const log = join(dir, "psql.log");
    writeFileSync(log, "", { mode: 0o666 });
    chmodSync(log, 0o666);
    return { dir, cbin, log };
  }

  const healthyStandby = { PRIMARY: "pg-1", LOCAL_RECOVERY: "t", RECEIVER: "streaming pg-1" };

  it("a healthy round asks with the container's psql in its mount namespace, as repmgrd's user, the password from repmgrd's environment: no docker exec", async () => {
    const c = containerDir();
    const child = await fakeRepmgrd(c.dir, `${c.cbin}:/usr/bin:/bin`);
    try {
      const theirs = readlinkSync(`/proc/${child.pid}/ns/mnt`);
      expect(theirs).not.toBe(readlinkSync("/proc/self/ns/mnt"));
      const r = runOnce("pg-2", { ...healthyStandby, REPMGRD_PID: String(child.pid), PSQL_LOG: c.log });
      expect(r.code, r.out).toBe(0);
      expect(r.out).not.toMatch(/REPAIR/);
      const first = readFileSync(c.log, "utf8").trim().split("\n");
      // tried once (psql --version) before it is trusted, and said
      expect(first[0]).toBe(`psql-version-asked uid=${UID}`);
      expect(r.out).toMatch(/questions to PostgreSQL run in pg-2's namespaces \(nsenter, .*\/cbin\/psql as uid 4242\), not through docker exec/);
      // the same four questions as through docker exec (above), each in the container's namespace as its user
      const asked = first.slice(1);
      expect(asked, r.calls).toHaveLength(4);
      for (const q of asked)
        expect(q).toMatch(new RegExp(`^psql uid=${UID} mnt=${theirs.replace(/[[\]]/g, "\\$&")} pw=pw-in-the-container -X -qAt -v ON_ERROR_STOP=1 -d `));
      expect(asked.filter((q) => q.includes(" host=pg-1 "))).toHaveLength(2);
      // a later round (the outcome kept) does not try again
      const again = runOnce("pg-2", { ...healthyStandby, REPMGRD_PID: String(child.pid), PSQL_LOG: c.log }, FAKE_DOCKER, 1, (st) =>
        writeFileSync(join(st, "reconcile-ns-checked"), `${child.pid} ok\n`),
      );
      expect(again.code, again.out).toBe(0);
      const all = readFileSync(c.log, "utf8").trim().split("\n");
      expect(all.filter((l) => l.startsWith("psql-version-asked"))).toHaveLength(1);
      expect(all.filter((l) => l.startsWith("psql uid="))).toHaveLength(8);
      // the docker CLI once: the round's docker top
      expect(r.calls.trim().split("\n")).toEqual(["docker top pg-2"]);
      expect(r.calls + r.out).not.toContain("pw-in-the-container");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("a later round of the same service asks Docker nothing while that repmgrd and the postmaster of postmaster.pid run; it looks with docker top again once either is gone", async () => {
    const c = containerDir();
    const child = await fakeRepmgrd(c.dir, `${c.cbin}:/usr/bin:/bin`);
    const postgres = join(c.dir, "postgres");
    copyFileSync("/bin/sleep", postgres);
    chmodSync(postgres, 0o755);
    const pm = spawn(postgres, ["300"], { stdio: "ignore" });
    try {
      const data = join(c.dir, "data");
      mkdirSync(data);
      const dir = tempDir("ems-ha-docker-reconcile-");
      const bin = join(dir, "bin");
      mkdirSync(bin);
      writeFileSync(join(bin, "docker"), FAKE_DOCKER, { mode: 0o755 });
      const text = renderDockerReconcileScript(d, node("pg-2"));
      writeFileSync(join(dir, "ems-ha-reconcile"), text);
      const look = 'node_state; echo "state=$NODE_STATE docker=$(grep -c . "$FAKE_LOG")"';
      const overrides = [
        ...reconcileStateOverrides(text, dir),
        `DATA_DIR=${data}`,
        `echo ${pm.pid} >"$DATA_DIR/postmaster.pid"`,
        look,
        look,
        look,
        // stopped cleanly: PostgreSQL removes postmaster.pid
        'rm "$DATA_DIR/postmaster.pid"',
        look,
        // crashed: postmaster.pid names a process that is no postmaster
        `echo ${pm.pid} >"$DATA_DIR/postmaster.pid"`,
        look,
        'echo 1 >"$DATA_DIR/postmaster.pid"',
        look,
        "exit 0",
        "",
      ].join("\n");
      writeFileSync(join(dir, "overrides.sh"), overrides);
      const log = join(dir, "calls.log");
      writeFileSync(log, "");
      const r = spawnSync("bash", [join(dir, "ems-ha-reconcile")], {
        env: { PATH: `${bin}:${process.env.PATH}`, EMS_HA_RECONCILE_OVERRIDES: join(dir, "overrides.sh"), FAKE_LOG: log, REPMGRD_PID: String(child.pid) },
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(r.status, r.stderr).toBe(0);
      // docker top for the first look, none while both run, one each time the postmaster is not found
      expect(r.stdout.trim().split("\n")).toEqual([
        "state=2 docker=1",
        "state=2 docker=1",
        "state=2 docker=1",
        "state=2 docker=2",
        "state=2 docker=2",
        "state=2 docker=3",
      ]);
      expect(readFileSync(log, "utf8").trim().split("\n")).toEqual(["docker top pg-2", "docker top pg-2", "docker top pg-2"]);
    } finally {
      pm.kill("SIGKILL");
      child.kill("SIGKILL");
    }
  });

  it("asks through docker exec when the pid docker top names is in this service's own mount namespace, or its PATH has no psql", async () => {
    const c = containerDir();
    // a psql that does not run there (here: its loader is missing)
    const broken = join(c.dir, "broken");
    mkdirSync(broken, { mode: 0o755 });
    writeFileSync(join(broken, "psql"), "#!/nonexistent/interpreter\n", { mode: 0o755 });
    for (const [sameNs, path] of [
      [true, `${c.cbin}:/usr/bin:/bin`],
      [false, "/nowhere"],
      [false, `${broken}:${c.cbin}`],
    ] as const) {
      const child = await fakeRepmgrd(c.dir, path, sameNs);
      try {
        const r = runOnce("pg-2", { ...healthyStandby, REPMGRD_PID: String(child.pid), PSQL_LOG: c.log });
        expect(r.code, r.out).toBe(0);
        expect(readFileSync(c.log, "utf8")).toBe("");
        expect(r.calls.split("\n").filter((l) => /^docker exec pg-2 timeout 15 bash -c /.test(l))).toHaveLength(4);
        if (path === "/nowhere") expect(r.out).toMatch(/no psql on the PATH of pg-2's repmgrd: questions go through docker exec \(said once\)/);
        if (path.startsWith(broken)) {
          expect(r.out).toMatch(/could not run .*\/broken\/psql in pg-2's namespaces through nsenter: questions go through docker exec/);
          expect(readFileSync(join(r.stateDir, "reconcile-ns-checked"), "utf8")).toBe(`${child.pid} no\n`);
        }
      } finally {
        child.kill("SIGKILL");
      }
    }
  });
});
