/**
 * `ems-ha backup`: a logical backup of the deployment's databases (docs/operations.md, "`ems-ha backup`").
 *
 * Replication is no backup: a dropped table or a bad EMS upgrade reaches every standby within
 * seconds. The vendor's guide supports backup and restore in none of its options, so this command
 * takes one with PostgreSQL's own tools, in a form that restores on any PostgreSQL of the same or
 * a newer major version:
 * - one `pg_dump --format=custom` archive per database (every database that accepts connections,
 *   but templates and repmgr's metadata, which belongs to the cluster, not to EMS);
 * - `pg_dumpall --globals-only --no-role-passwords` (roles and tablespaces, without any password
 *   hash: a deployment sets its passwords from its secrets);
 * - manifest.json (the node, its role and position, the server's version, each file's size and
 *   SHA-256, each database's size on the server; src/ops/backup-dir.ts) and SHA256SUMS (for
 *   `sha256sum -c`).
 *
 * The dumps run on the node's host over SSH, so the PostgreSQL client there matches the server:
 * natively the newest /usr/lib/postgresql/N/bin (else pg_dump on PATH), in the Docker topologies
 * inside the node's container. They connect as database.user over TCP to the node itself (natively
 * its address, in a container 127.0.0.1); the password is written to the command's standard input,
 * never to a command line. The archive streams back into <out>/<name>-<UTC time>.partial/, which is
 * renamed when every file is complete and checked, and removed if anything failed.
 */
import { createHash } from "node:crypto";
import { chmodSync, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Writable } from "node:stream";
import { join, resolve } from "node:path";
import { ConfigError } from "../config/errors";
import type { DbNodeConfig, Deployment } from "../config/schema";
import { DOCKER_TOPOLOGIES } from "../config/semantics";
import { conninfoValue } from "../render/escape";
import {
  backupBytes,
  backupRoomVerdict,
  backupStamp,
  CUSTOM_ARCHIVE_MAGIC,
  freeBytesAt,
  listBackups,
  PARTIAL,
  pruneBackups,
  type BackupFile,
  type BackupManifest,
  type PrunedBackups,
} from "./backup-dir";
import { fmtSize } from "./disk";
import { dumpSourceOf, maskSecrets, probeDatabase, oneWritablePrimary, secretsFromEnv, type DbProbe, type DbSecrets, type DumpSource } from "./pg";
import { shellQuote, sshExecTo, type SshHost } from "./ssh";

export interface BackupOptions {
  readonly env: NodeJS.ProcessEnv;
  /** The directory that receives the backup's own directory (created 0700 when missing). */
  readonly outDir: string;
  /** The data node to dump. @default the one writable primary */
  readonly node?: string;
  /** Milliseconds for each dump (connection included). @default 14400000 (4 h) */
  readonly dumpTimeoutMs?: number;
  readonly onProgress?: (line: string) => void;
  /** The time in the directory's name. @default now */
  readonly now?: Date;
  /**
   * Once the backup is complete, keep only the newest this many backups of the deployment in
   * `outDir` (the new one among them), removing the older ones (`pruneBackups`). Nothing is removed
   * when the backup fails. @default every backup is kept
   */
  readonly keep?: number;
  /**
   * Take the backup even when `outDir`'s filesystem has less free than the newest backup there
   * took (backupRoomVerdict). @default false
   */
  readonly skipSpaceCheck?: boolean;
}

export interface BackupResult {
  readonly ok: boolean;
  readonly message: string;
  /** The finished backup's directory. */
  readonly dir?: string;
  readonly manifest?: BackupManifest;
  /** With `keep`: what the pruning removed, and what it left alone or could not remove. */
  readonly pruned?: PrunedBackups;
}

/** The data node to dump, or a ConfigError naming the value and the fix. Pure. */
export function backupNode(d: Deployment, name: string): DbNodeConfig {
  const node = d.database.nodes.find((n) => n.name === name);
  const dataNames = d.database.nodes.filter((n) => n.role === "data").map((n) => n.name);
  if (!node) throw new ConfigError([{ path: "--node", value: name, message: "no DB node has this name", fix: `name a data node: ${dataNames.join(", ")}` }]);
  if (node.role !== "data")
    throw new ConfigError([{ path: "--node", value: name, message: "a witness holds no EMS data", fix: `name a data node: ${dataNames.join(", ")}` }]);
  return node;
}

// Reads the password (one line, possibly empty: then libpq's ~/.pgpass on the host applies) before
// anything else, so it never appears in an argument or in the environment of another command.
const READ_PASSWORD = 'IFS= read -r p || true; if [ -n "$p" ]; then export PGPASSWORD="$p"; fi; unset p';

// The newest PostgreSQL client on a native host (a newer pg_dump reads an older server, not the reverse), put first on PATH.
export const NATIVE_BIN_GLOB = "/usr/lib/postgresql/*/bin";
const NATIVE_BIN = `b=$(ls -d ${NATIVE_BIN_GLOB} 2>/dev/null | sort -V | tail -n 1); if [ -n "$b" ] && [ -x "$b/pg_dump" ]; then PATH="$b:$PATH"; fi`;

/**
 * A PostgreSQL client `tool` run on a data node's host, connected to the node's own server: in the
 * Docker topologies inside its container (127.0.0.1, the container's port), natively the newest
 * installed client on the node's address. It first reads the password (one line) from standard input;
 * `tool` gets $1 host, $2 port, $3 user and $4 `conninfo` as arguments. Every value is quoted.
 */
export function nodeClientCommand(d: Deployment, node: Pick<DbNodeConfig, "name" | "address">, tool: string, conninfo: string): string {
  if (DOCKER_TOPOLOGIES.has(d.topology)) {
    const inContainer = [READ_PASSWORD, "export PGCONNECT_TIMEOUT=10", `exec ${tool} -h 127.0.0.1 -p "\${POSTGRESQL_PORT_NUMBER:-$2}" -U "$3"`].join("; ");
    return [
      "docker exec -i",
      shellQuote(node.name),
      "bash -c",
      shellQuote(inContainer),
      "_",
      "127.0.0.1",
      String(d.database.port),
      shellQuote(d.database.user),
      shellQuote(conninfo),
    ].join(" ");
  }
  const run = [NATIVE_BIN, READ_PASSWORD, "export PGCONNECT_TIMEOUT=10", `exec ${tool} -h "$1" -p "$2" -U "$3"`].join("; ");
  return ["bash -c", shellQuote(run), "_", shellQuote(node.address), String(d.database.port), shellQuote(d.database.user), shellQuote(conninfo)].join(" ");
}

/**
 * The command on the node's host that prints one archive: `pg_dump` of `database`, or with
 * `database` undefined `pg_dumpall --globals-only --no-role-passwords`.
 */
export function dumpCommand(d: Deployment, node: Pick<DbNodeConfig, "name" | "address">, database: string | undefined): string {
  const tool = database === undefined ? 'pg_dumpall --globals-only --no-role-passwords -d "$4"' : 'pg_dump --format=custom --no-password -d "$4"';
  // pg_dump and pg_dumpall read a database name holding "=" as connection parameters, so the name
  // is always passed as dbname='...'
  return nodeClientCommand(d, node, tool, `dbname=${conninfoValue(database ?? "postgres")}`);
}

/** A file name for a database's archive: its name where that is a plain word, else a hash of it. */
export function archiveName(database: string): string {
  if (/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/.test(database) && database !== "globals") return `${database}.dump`;
  return `db-${createHash("sha256").update(database).digest("hex").slice(0, 16)}.dump`;
}

interface Received {
  readonly code: number | null;
  readonly signal?: string;
  readonly stderr: string;
  readonly bytes: number;
  readonly sha256: string;
  /** The first bytes (for the archive's magic). */
  readonly head: string;
}

/** The command's output into a new 0600 file, hashed on the way (nothing is read back or held in memory). */
async function streamToFile(
  host: SshHost,
  command: string,
  path: string,
  stdin: string,
  timeoutMs: number,
  onBytes: (n: number) => void,
  env: NodeJS.ProcessEnv,
): Promise<Received> {
  const file = createWriteStream(path, { mode: 0o600 });
  const closed = new Promise<Error | undefined>((res) => {
    file.on("close", () => res(undefined));
    file.on("error", (e) => res(e));
  });
  const hash = createHash("sha256");
  let head = "";
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      if (head.length < CUSTOM_ARCHIVE_MAGIC.length) head += chunk.subarray(0, CUSTOM_ARCHIVE_MAGIC.length).toString("latin1");
      file.write(chunk, (e) => cb(e ?? null));
    },
  });
  let r: Awaited<ReturnType<typeof sshExecTo>> | undefined;
  try {
    r = await sshExecTo(host, command, sink, { env, stdin, timeoutMs, connectTimeoutMs: 10_000, onProgress: onBytes });
  } finally {
    // what the sink accepted is written before the file is closed
    await new Promise<void>((res) => sink.end(() => res()));
    file.end();
  }
  const err = await closed;
  if (err) throw new Error(`cannot write ${path}: ${err.message}`);
  return { code: r.code, signal: r.signal, stderr: r.stderr, bytes: r.bytes, sha256: hash.digest("hex"), head: head.slice(0, CUSTOM_ARCHIVE_MAGIC.length) };
}

function pickNode(d: Deployment, probes: ReadonlyMap<string, DbProbe>): DbNodeConfig | string {
  const one = oneWritablePrimary(d, probes);
  if ("node" in one) return one.node;
  return `${one.reason}${one.several ? ", or name the node to dump with --node" : ": name a running standby with --node, or run `ems-ha status`"}`;
}

/** Takes the backup; never leaves a partial directory behind. */
export async function backup(d: Deployment, opts: BackupOptions): Promise<BackupResult> {
  const secrets: DbSecrets = secretsFromEnv(opts.env);
  const say = opts.onProgress ?? (() => undefined);
  const outDir = resolve(opts.outDir);
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) {
    throw new ConfigError([
      { path: "--out", value: opts.outDir, message: "exists and is not a directory", fix: "name a directory (it is created when missing)" },
    ]);
  }
  // room for it, judged by the newest backup there (before anything is asked of the cluster)
  const room = backupRoomVerdict(outDir, freeBytesAt(outDir), existsSync(outDir) ? listBackups(outDir, d.name).backups[0] : undefined);
  if (room.tooSmall && !opts.skipSpaceCheck)
    return {
      ok: false,
      message: `backup not taken: ${room.tooSmall}. Free space, remove older backups (--keep removes them only once a backup is complete) or name another --out; --skip-space-check tries all the same`,
    };
  if (room.tooSmall) say(`${room.tooSmall}; trying all the same (--skip-space-check)`);
  if (room.warning) say(room.warning);
  let node: DbNodeConfig;
  if (opts.node !== undefined) node = backupNode(d, opts.node);
  else {
    const probes = await probeDatabase(d, { secrets, repmgr: false });
    const picked = pickNode(d, probes);
    if (typeof picked === "string") return { ok: false, message: `backup not taken: ${picked}` };
    node = picked;
  }
  let source: DumpSource;
  try {
    source = await dumpSourceOf(d, node, secrets);
  } catch (e) {
    return { ok: false, message: `backup not taken: ${node.name} (${node.address}:${d.database.port}) does not answer: ${(e as Error).message}` };
  }
  const role = source.inRecovery ? "standby" : "primary";
  const started = opts.now ?? new Date();
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const name = `${d.name}-${backupStamp(started)}`;
  const final = join(outDir, name);
  if (existsSync(final)) return { ok: false, message: `backup not taken: ${final} already exists (one backup per second and deployment)` };
  const partial = `${final}${PARTIAL}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { mode: 0o700 });
  chmodSync(partial, 0o700);
  const total = source.databases.reduce((s, x) => s + x.bytes, 0);
  say(
    `backup of ${d.name} from ${node.name} (${role}, PostgreSQL ${source.serverVersion}, at ${source.lsn}): ${source.databases.length} database(s), ${fmtSize(total)} on disk, into ${partial}`,
  );
  const host: SshHost = { name: node.name, address: node.address, ssh: node.ssh };
  const timeoutMs = opts.dumpTimeoutMs ?? 4 * 3600_000;
  const stdin = `${secrets.dbPassword ?? ""}\n`;
  const files: BackupFile[] = [];
  const steps: Array<{ file: string; database?: string; bytes?: number }> = [
    { file: "globals.sql" },
    ...source.databases.map((x) => ({ file: archiveName(x.name), database: x.name, bytes: x.bytes })),
  ];
  try {
    for (const step of steps) {
      const what = step.database === undefined ? "roles and tablespaces (pg_dumpall --globals-only)" : `database ${JSON.stringify(step.database)}`;
      say(`${node.name}: dumping ${what}${step.bytes === undefined ? "" : ` (${fmtSize(step.bytes)} on disk)`}`);
      const path = join(partial, step.file);
      const r = await streamToFile(
        host,
        dumpCommand(d, node, step.database),
        path,
        stdin,
        timeoutMs,
        (n) => say(`${node.name}: ${step.file}: ${fmtSize(n)} so far`),
        opts.env,
      );
      if (r.code !== 0) {
        const why = maskSecrets(r.stderr.trim(), secrets) || (r.signal ? `ended by signal ${r.signal}` : `exit code ${r.code}`);
        throw new Error(`${node.name}: dumping ${what} failed: ${why}`);
      }
      if (step.database !== undefined && r.head !== CUSTOM_ARCHIVE_MAGIC) {
        throw new Error(`${node.name}: the archive of ${what} does not begin like a pg_dump custom archive (${r.bytes} bytes received)`);
      }
      files.push({ file: step.file, database: step.database, bytes: r.bytes, sha256: r.sha256, databaseBytes: step.bytes });
    }
  } catch (e) {
    rmSync(partial, { recursive: true, force: true });
    return { ok: false, message: `backup failed, nothing kept: ${maskSecrets((e as Error).message, secrets)}` };
  }
  const manifest: BackupManifest = {
    format: "ems-ha-backup/1",
    deployment: d.name,
    topology: d.topology,
    node: node.name,
    role,
    serverVersion: source.serverVersion,
    lsn: source.lsn,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    files,
  };
  writeFileSync(join(partial, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n", { mode: 0o600 });
  writeFileSync(join(partial, "SHA256SUMS"), files.map((f) => `${f.sha256}  ${f.file}\n`).join(""), { mode: 0o600 });
  renameSync(partial, final);
  const message = `backup complete: ${final} (${files.length} file(s), ${fmtSize(backupBytes(manifest))}, from ${node.name}, ${role})`;
  if (opts.keep === undefined) return { ok: true, dir: final, manifest, message };
  const pruned = pruneBackups(outDir, d.name, opts.keep, final);
  for (const p of pruned.problems) say(`--keep ${opts.keep}: ${p}`);
  const removed = pruned.removed.length === 0 ? "" : `; removed ${pruned.removed.length} older backup(s) (--keep ${opts.keep}): ${pruned.removed.join(", ")}`;
  return { ok: true, dir: final, manifest, pruned, message: `${message}${removed}` };
}
