/**
 * Throwaway PostgreSQL 15 + repmgr clusters on loopback addresses, for the ops tests.
 * Each node is its own initdb data directory on its own 127.x.y.z address (all on one
 * port, as the deployment schema wants); a standby is cloned with pg_basebackup -R; repmgr
 * registers every node with a per-node repmgr.conf (docs/background.md#repmgr-automatic-failover: several nodes on one machine).
 * Everything runs as the postgres OS user (via runuser) and every step is time-bounded.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { spawnAsync } from "../../../src/spawn-async";

export const PG_BIN = "/usr/lib/postgresql/15/bin";

/** Fails with the package to install when a tool is missing. */
export function requireTools(): void {
  const needs: Array<[string, string]> = [
    [`${PG_BIN}/initdb`, "postgresql-15"],
    [`${PG_BIN}/pg_basebackup`, "postgresql-15"],
    [`${PG_BIN}/repmgr`, "postgresql-15-repmgr"],
    ["/usr/sbin/sshd", "openssh-server"],
    ["/usr/bin/sudo", "sudo"],
    ["/usr/sbin/runuser", "util-linux"],
  ];
  const missing = needs.filter(([p]) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.map(([p, pkg]) => `${p} (package ${pkg})`).join(", ")}: apt-get install -y ${[...new Set(missing.map(([, pkg]) => pkg))].join(" ")}`,
    );
  }
  if (process.getuid?.() !== 0) throw new Error("the ops tests run as root (they start PostgreSQL as the postgres user and sshd)");
}

interface RunOpts {
  readonly timeoutMs?: number;
  readonly asPostgres?: boolean;
  readonly input?: string;
}

function command(cmd: string, args: string[], opts: RunOpts): [string, string[]] {
  return opts.asPostgres ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
}

function checked(cmd: string, args: string[], r: { status: number | null; stdout: string; stderr: string; error?: Error }): string {
  if (r.error || r.status !== 0) {
    throw new Error(`${[cmd, ...args].join(" ")} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

/** A quick command (at most 30 s: it blocks the event loop); throws on failure. */
export function run(cmd: string, args: string[], opts: RunOpts = {}): string {
  const [c, a] = command(cmd, args, opts);
  return checked(
    cmd,
    args,
    spawnSync(c, a, { encoding: "utf8", timeout: Math.min(opts.timeoutMs ?? 30_000, 30_000), killSignal: "SIGKILL", input: opts.input, cwd: "/" }),
  );
}

/** A command that may take long (initdb, pg_basebackup, repmgr): does not block the event loop; throws on failure. */
export async function runAsync(cmd: string, args: string[], opts: RunOpts & { readonly timeoutMs: number }): Promise<string> {
  const [c, a] = command(cmd, args, opts);
  return checked(cmd, args, await spawnAsync(c, a, { timeoutMs: opts.timeoutMs, input: opts.input, cwd: "/" }));
}

function canListen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, address, () => s.close(() => resolve(true)));
  });
}

/** A random 127.a.b prefix whose .2-.9 addresses are free on the probe port, and a port free on all of them. */
export async function loopbackPlan(hosts: number): Promise<{ addresses: string[]; pgPort: number; sshPort: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const prefix = `127.${30 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}`;
    const addresses = Array.from({ length: hosts }, (_, i) => `${prefix}.${i + 2}`);
    const pgPort = 20000 + Math.floor(Math.random() * 20000);
    const sshPort = pgPort + 1;
    let ok = true;
    for (const a of addresses) {
      if (!(await canListen(a, pgPort)) || !(await canListen(a, sshPort))) {
        ok = false;
        break;
      }
    }
    if (ok) return { addresses, pgPort, sshPort };
  }
  throw new Error("no free loopback address/port combination found after 20 attempts");
}

export interface PgNode {
  readonly name: string;
  readonly nodeId: number;
  readonly address: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly repmgrConf: string;
  readonly logFile: string;
}

/**
 * The node's own address and socket on the server's command line: they win over postgresql.conf,
 * which pg_rewind (node rejoin --force-rewind) overwrites with the source node's copy.
 */
export function serverOptions(n: Pick<PgNode, "address" | "socketDir">): string {
  return `-c listen_addresses=${n.address} -c unix_socket_directories=${n.socketDir}`;
}

export class LoopbackCluster {
  readonly nodes: PgNode[] = [];
  /** Lines appended to every node's repmgr.conf (set before adding nodes). */
  extraRepmgrConf: string[] = [];
  /** Restart a repmgrd that exits (as systemd does natively). */
  superviseRepmgrd = false;
  /** Lines appended to one node's repmgr.conf only, by node name. */
  private readonly nodeRepmgrConf = new Map<string, string[]>();
  private readonly repmgrds = new Map<string, ChildProcess>();

  constructor(
    readonly root: string,
    readonly port: number,
    /** Password of the postgres user (scram over TCP); repmgr connects with trust from loopback. */
    private readonly password: string,
  ) {
    chmodSync(root, 0o755);
  }

  private dir(name: string): string {
    const d = join(this.root, name);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chownSync(d, pgUid(), pgGid());
    return d;
  }

  private defineNode(name: string, nodeId: number, address: string): PgNode {
    const home = this.dir(name);
    const node: PgNode = {
      name,
      nodeId,
      address,
      dataDir: join(home, "data"),
      socketDir: home,
      repmgrConf: join(home, "repmgr.conf"),
      logFile: join(home, "postgres.log"),
    };
    this.nodes.push(node);
    return node;
  }

  private localSettings(n: PgNode): string {
    return [
      `listen_addresses = '${n.address}'`,
      `port = ${this.port}`,
      `unix_socket_directories = '${n.socketDir}'`,
      "wal_level = replica",
      "max_wal_senders = 10",
      "wal_keep_size = '64MB'",
      "hot_standby = on",
      "wal_log_hints = on",
      "fsync = off",
      "shared_buffers = '16MB'",
      "shared_preload_libraries = 'repmgr'",
      "",
    ].join("\n");
  }

  private writeRepmgrConf(n: PgNode): void {
    const conf = [
      `node_id=${n.nodeId}`,
      `node_name='${n.name}'`,
      `conninfo='host=${n.address} port=${this.port} user=repmgr dbname=repmgr connect_timeout=2'`,
      `data_directory='${n.dataDir}'`,
      `pg_bindir='${PG_BIN}'`,
      `repmgrd_pid_file='${n.socketDir}/repmgrd.pid'`,
      `service_start_command='${PG_BIN}/pg_ctl -D ${n.dataDir} -l ${n.logFile} -o "${serverOptions(n)}" -w -t 30 start'`,
      `service_stop_command='${PG_BIN}/pg_ctl -D ${n.dataDir} -m fast -w -t 30 stop'`,
      `service_restart_command='${PG_BIN}/pg_ctl -D ${n.dataDir} -l ${n.logFile} -o "${serverOptions(n)}" -m fast -w -t 30 restart'`,
      // repmgrd only watches here: the tests decide who is promoted.
      "failover=manual",
      "monitor_interval_secs=2",
      `log_file='${n.socketDir}/repmgrd.log'`,
      ...this.extraRepmgrConf,
      ...(this.nodeRepmgrConf.get(n.name) ?? []),
      "",
    ].join("\n");
    writeFileSync(n.repmgrConf, conf);
    chownSync(n.repmgrConf, pgUid(), pgGid());
  }

  private asPg(cmd: string, args: string[], timeoutMs: number): Promise<string> {
    return runAsync(cmd, args, { asPostgres: true, timeoutMs });
  }

  async start(n: PgNode): Promise<void> {
    await this.asPg(`${PG_BIN}/pg_ctl`, ["-D", n.dataDir, "-l", n.logFile, "-o", serverOptions(n), "-w", "-t", "30", "start"], 40_000);
  }

  /** Stops a node at once (like a crash); ignores a node that is not running. */
  stopImmediate(n: PgNode): void {
    if (!existsSync(join(n.dataDir, "postmaster.pid"))) return;
    spawnSync("runuser", ["-u", "postgres", "--", `${PG_BIN}/pg_ctl`, "-D", n.dataDir, "-m", "immediate", "-w", "-t", "20", "stop"], {
      timeout: 30_000,
      killSignal: "SIGKILL",
    });
  }

  /** One statement (synchronous, at most 20 s). */
  psql(n: PgNode, sql: string, db = "postgres"): string {
    return run(
      `${PG_BIN}/psql`,
      ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", n.socketDir, "-p", String(this.port), "-U", "postgres", "-d", db, "-c", sql],
      { asPostgres: true, timeoutMs: 20_000 },
    ).trim();
  }

  private async initdb(n: PgNode): Promise<void> {
    const pwfile = join(n.socketDir, "pwfile");
    writeFileSync(pwfile, `${this.password}\n`, { mode: 0o600 });
    chownSync(pwfile, pgUid(), pgGid());
    await this.asPg(
      `${PG_BIN}/initdb`,
      ["-D", n.dataDir, "-U", "postgres", `--pwfile=${pwfile}`, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
      60_000,
    );
    appendFileSync(join(n.dataDir, "postgresql.conf"), this.localSettings(n));
    writeFileSync(
      join(n.dataDir, "pg_hba.conf"),
      [
        "local all all trust",
        "host replication repmgr 127.0.0.0/8 trust",
        "host repmgr repmgr 127.0.0.0/8 trust",
        "host all all 127.0.0.0/8 scram-sha-256",
        "",
      ].join("\n"),
    );
    await this.start(n);
    this.psql(n, "create user repmgr superuser replication");
    this.psql(n, "create database repmgr owner repmgr");
    this.writeRepmgrConf(n);
  }

  private repmgr(n: PgNode, args: string[]): Promise<string> {
    return this.asPg(`${PG_BIN}/repmgr`, ["-f", n.repmgrConf, ...args], 60_000);
  }

  async addPrimary(name: string, nodeId: number, address: string): Promise<PgNode> {
    const n = this.defineNode(name, nodeId, address);
    await this.initdb(n);
    await this.repmgr(n, ["primary", "register"]);
    return n;
  }

  async addStandby(name: string, nodeId: number, address: string, upstream: PgNode): Promise<PgNode> {
    const n = this.defineNode(name, nodeId, address);
    await this.asPg(
      `${PG_BIN}/pg_basebackup`,
      ["-d", `host=${upstream.address} port=${this.port} user=repmgr application_name=${name}`, "-D", n.dataDir, "-R", "-X", "stream", "-c", "fast"],
      120_000,
    );
    // The copied postgresql.conf carries the upstream's address and socket: later lines win.
    appendFileSync(join(n.dataDir, "postgresql.conf"), this.localSettings(n));
    await this.start(n);
    this.writeRepmgrConf(n);
    // repmgr refuses to register a standby that is not yet attached ("startup"): wait, bounded.
    const deadline = Date.now() + 60_000;
    while (this.psql(upstream, `select count(*) from pg_stat_replication where application_name = '${name}' and state = 'streaming'`) !== "1") {
      if (Date.now() > deadline) throw new Error(`${name} is not streaming from ${upstream.name} after 60 s:\n${this.log(n)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    await this.repmgr(n, ["standby", "register", "--wait-sync=20"]);
    return n;
  }

  /** @param extraRepmgrConf lines appended to this witness's repmgr.conf only */
  async addWitness(name: string, nodeId: number, address: string, primary: PgNode, extraRepmgrConf: string[] = []): Promise<PgNode> {
    this.nodeRepmgrConf.set(name, extraRepmgrConf);
    const n = this.defineNode(name, nodeId, address);
    await this.initdb(n);
    await this.repmgr(n, ["witness", "register", "-h", primary.address, "-p", String(this.port)]);
    return n;
  }

  /** repmgr with a node's repmgr.conf, as postgres; throws on a non-zero exit. */
  repmgrOn(n: PgNode, args: string[], timeoutMs = 120_000): Promise<string> {
    return this.asPg(`${PG_BIN}/repmgr`, ["-f", n.repmgrConf, ...args], timeoutMs);
  }

  /** Starts repmgrd for a node in the foreground (as systemd runs it natively). */
  startRepmgrd(n: PgNode): void {
    this.stopRepmgrd(n);
    const child = spawn("runuser", ["-u", "postgres", "--", `${PG_BIN}/repmgrd`, "-f", n.repmgrConf, "--daemonize=false"], { stdio: "ignore", cwd: "/" });
    child.on("error", () => undefined);
    // like systemd's Restart=on-failure of the native unit: a repmgrd that exits is started again
    child.on("exit", () => {
      if (this.superviseRepmgrd && this.repmgrds.get(n.name) === child) setTimeout(() => this.repmgrds.get(n.name) === child && this.startRepmgrd(n), 3000);
    });
    this.repmgrds.set(n.name, child);
  }

  stopRepmgrd(n: PgNode): void {
    const c = this.repmgrds.get(n.name);
    if (c && c.exitCode === null) c.kill("SIGTERM");
    this.repmgrds.delete(n.name);
    // runuser forwards the signal; a repmgrd left over (its pid file) is killed too.
    // The pid file may vanish between a check and the read (the repmgrd just signalled removes it as it exits).
    const pidFile = join(n.socketDir, "repmgrd.pid");
    let pidText = "";
    try {
      pidText = readFileSync(pidFile, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    if (pidText) {
      const pid = Number(pidText.trim());
      if (pid > 1) {
        try {
          process.kill(pid, "SIGTERM");
        } catch {
          /* gone */
        }
      }
    }
  }

  /** Waits (bounded) until the standby `n` has replayed WAL up to `lsn`. */
  async waitReplay(n: PgNode, lsn: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.psql(n, `select pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`) !== "t") {
      if (Date.now() > deadline) throw new Error(`${n.name} did not replay up to ${lsn} in ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Waits (bounded) until each node's repmgr extension reports its repmgrd running. */
  async waitRepmgrd(nodes: PgNode[], timeoutMs = 40_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const n of nodes) {
      for (;;) {
        let ok: string;
        try {
          ok = this.psql(n, "select repmgr.repmgrd_is_running()", "repmgr");
        } catch {
          ok = "";
        }
        if (ok === "t") break;
        if (Date.now() > deadline)
          throw new Error(
            `repmgrd of ${n.name} not running after ${timeoutMs / 1000} s:\n${existsSync(join(n.socketDir, "repmgrd.log")) ? readFileSync(join(n.socketDir, "repmgrd.log"), "utf8").slice(-2000) : "(no log)"}`,
          );
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** `repmgr cluster show --csv` on a node (id,status,... per line). */
  clusterShowCsv(n: PgNode): string {
    const r = spawnSync("runuser", ["-u", "postgres", "--", `${PG_BIN}/repmgr`, "-f", n.repmgrConf, "cluster", "show", "--csv"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    return r.stdout;
  }

  stopAll(): void {
    this.superviseRepmgrd = false;
    for (const n of this.nodes) this.stopRepmgrd(n);
    for (const n of this.nodes) this.stopImmediate(n);
    // A postmaster that survived pg_ctl (should not happen): kill it by its pid file.
    for (const n of this.nodes) {
      const pidFile = join(n.dataDir, "postmaster.pid");
      if (!existsSync(pidFile)) continue;
      const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
      if (pid > 1) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
    }
  }

  log(n: PgNode): string {
    return existsSync(n.logFile) ? readFileSync(n.logFile, "utf8").slice(-3000) : "(no log)";
  }
}

let ids: { uid: number; gid: number } | undefined;
function pgIds(): { uid: number; gid: number } {
  if (!ids) {
    const out = run("id", ["postgres"]);
    const uid = Number(/uid=(\d+)/.exec(out)?.[1]);
    const gid = Number(/gid=(\d+)/.exec(out)?.[1]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error("the postgres OS user is missing (package postgresql-15 creates it)");
    ids = { uid, gid };
  }
  return ids;
}
const pgUid = () => pgIds().uid;
const pgGid = () => pgIds().gid;
