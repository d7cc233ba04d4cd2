/**
 * `ems-ha restore`: puts databases of an `ems-ha backup` back on the writable primary
 * (docs/operations.md, "`ems-ha restore`").
 *
 * Nothing is lost on the way: each database the backup replaces is renamed, not dropped
 * (`<name>_pre_restore_<UTC time>`), and `pg_restore --create` then creates the database afresh from
 * its archive, with its own properties and grants. If any database fails, every database this run
 * restored is dropped and the renamed ones get their names back: all or nothing.
 *
 * Before it changes anything it checks every archive against the backup's manifest (SHA-256), that
 * exactly one data node answers as the writable primary, and that no session is connected to a
 * database it replaces (EMS must be stopped: a running EMS would write into a database that is
 * being replaced), and that the primary's data filesystem has room for it
 * (src/ops/restore-space.ts). The roles of the backup's globals.sql that the primary lacks are
 * created first (src/ops/restore-roles.ts) and dropped again if the restore is undone. The archives
 * stream from this machine to `pg_restore` on the primary's host over SSH (natively the newest
 * installed PostgreSQL client, in the Docker topologies inside the container), the password first
 * on the same standard input, never on a command line. The standbys receive the result by
 * replication; the command waits for them to replay it.
 */
import { createReadStream, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError } from "../config/errors";
import type { DbNodeConfig, Deployment } from "../config/schema";
import { conninfoValue, sqlIdent, sqlLiteral } from "../render/escape";
import { nodeClientCommand } from "./backup";
import { backupStamp, readBackupManifest, verifyBackup, type BackupFile, type BackupManifest } from "./backup-dir";
import { diskCommand, fmtSize, probeDisks } from "./disk";
import { parseGlobals, rolesToCreate } from "./restore-roles";
import { estimateRestoreSpace, restoreSpaceVerdict } from "./restore-space";
import { execAs, lsnToBigInt, maskSecrets, oneWritablePrimary, probeDatabase, queryAs, secretsFromEnv, type DbSecrets, type Login } from "./pg";
import { sshExecFrom, type SshHost } from "./ssh";

export interface RestoreOptions {
  readonly env: NodeJS.ProcessEnv;
  /** The backup's directory (the one holding manifest.json). */
  readonly from: string;
  /** Restore only this database of the backup. @default every database of the backup but `postgres` */
  readonly database?: string;
  /** Milliseconds for each database's pg_restore. @default 14400000 (4 h) */
  readonly restoreTimeoutMs?: number;
  /** Milliseconds to wait for the standbys to replay the restore. @default 120000 */
  readonly replayTimeoutMs?: number;
  readonly onProgress?: (line: string) => void;
  /** The time in the kept databases' names. @default now */
  readonly now?: Date;
  /**
   * Restore even when the primary's data filesystem would be DISK_FULL_PERCENT full or more
   * afterwards (src/ops/restore-space.ts). @default false
   */
  readonly skipSpaceCheck?: boolean;
  /**
   * Make every check a restore makes (checksums, the primary, sessions, room) and report what it
   * would do (the roles it would create, the names the replaced databases would be kept under),
   * changing nothing. @default false
   */
  readonly dryRun?: boolean;
}

export interface RestoredDatabase {
  readonly database: string;
  /** What the database it replaced is called now; absent when there was none. */
  readonly keptAs?: string;
  readonly bytes: number;
}

export interface RestoreResult {
  readonly ok: boolean;
  readonly message: string;
  readonly node?: string;
  readonly restored: RestoredDatabase[];
  /** Standbys that had not replayed the restore within the wait. */
  readonly notReplayed: string[];
  /** Roles of the backup's globals.sql the primary lacked, created before the databases (src/ops/restore-roles.ts). */
  readonly createdRoles: string[];
  /** Set on a dry run: `restored` and `createdRoles` then name what a restore would do; nothing was changed. */
  readonly dryRun?: true;
}

const MAX_IDENT_BYTES = 63;

/** `<database>_pre_restore_<stamp>`, the database cut (at a character) so that the whole fits PostgreSQL's 63 bytes. */
export function keptName(database: string, stamp: string): string {
  const suffix = `_pre_restore_${stamp.toLowerCase()}`;
  let head = database;
  while (Buffer.byteLength(head + suffix) > MAX_IDENT_BYTES) head = Array.from(head).slice(0, -1).join("");
  return head + suffix;
}

/** The databases to restore, or a ConfigError. Pure. */
export function databasesToRestore(d: Deployment, m: BackupManifest, only: string | undefined, from: string): BackupFile[] {
  const archives = m.files.filter((f) => f.database !== undefined);
  if (m.deployment !== d.name)
    throw new ConfigError([
      {
        path: "--from",
        value: from,
        message: `is a backup of the deployment ${JSON.stringify(m.deployment)}, not of ${JSON.stringify(d.name)}`,
        fix: "restore a backup of this deployment (its name is in manifest.json), or run with the deployment it was taken of",
      },
    ]);
  if (only !== undefined) {
    const f = archives.find((x) => x.database === only);
    if (!f)
      throw new ConfigError([
        {
          path: "--database",
          value: only,
          message: "is not in this backup",
          fix: `name one of: ${archives.map((x) => JSON.stringify(x.database)).join(", ")}`,
        },
      ]);
    return [f];
  }
  const all = archives.filter((x) => x.database !== "postgres");
  if (all.length === 0)
    throw new ConfigError([{ path: "--from", value: from, message: "holds no database but postgres", fix: "name it with --database postgres to restore it" }]);
  return all;
}

/**
 * The command on the primary's host that reads the password (one line) and then a custom archive
 * from its standard input and restores it with `--create`, connected to template1 (never to a
 * database being replaced).
 */
export function restoreCommand(d: Deployment, node: Pick<DbNodeConfig, "name" | "address">): string {
  return nodeClientCommand(d, node, 'pg_restore --create --exit-on-error --no-password -d "$4"', `dbname=${conninfoValue("template1")}`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function restore(d: Deployment, opts: RestoreOptions): Promise<RestoreResult> {
  const secrets: DbSecrets = secretsFromEnv(opts.env);
  const say = opts.onProgress ?? (() => undefined);
  const from = resolve(opts.from);
  const manifest = readBackupManifest(from);
  const files = databasesToRestore(d, manifest, opts.database, opts.from);
  const none = (message: string): RestoreResult => ({ ok: false, message: `nothing restored: ${message}`, restored: [], notReplayed: [], createdRoles: [] });

  // 1. every archive as the backup wrote it
  const globalsFile = manifest.files.find((f) => f.database === undefined && f.file === "globals.sql");
  const damaged = await verifyBackup(from, manifest, globalsFile ? [globalsFile, ...files] : files);
  if (damaged.length > 0) return none(damaged.join("; "));
  say(`${files.length} archive(s) match the backup's checksums: ${files.map((f) => JSON.stringify(f.database)).join(", ")}`);

  // 2. the one writable primary
  const probes = await probeDatabase(d, { secrets, repmgr: false });
  const one = oneWritablePrimary(d, probes);
  if (!("node" in one)) return none(one.reason);
  const node = one.node;
  const logins: Login[] = [{ user: d.database.user, password: secrets.dbPassword, database: "template1" }];
  const q = <T>(sql: string) => queryAs<T>(node.address, d.database.port, logins, sql, secrets);
  const names = files.map((f) => sqlLiteral(f.database!)).join(", ");

  // 3. nobody connected to what is replaced (autovacuum workers are not asked: PostgreSQL stops them for a rename)
  const sessions = await q<{ datname: string; usename: string | null; application_name: string; client: string | null }>(
    `select datname, usename, application_name, host(client_addr) as client from pg_stat_activity where datname in (${names}) and backend_type = 'client backend' and pid <> pg_backend_pid() order by datname limit 20`,
  );
  if (sessions.length > 0) {
    const who = sessions.map(
      (s) => `${JSON.stringify(s.datname)}: ${s.usename ?? "?"}${s.application_name ? ` (${s.application_name})` : ""} from ${s.client ?? "a local socket"}`,
    );
    return none(
      `${sessions.length === 20 ? "20 or more sessions are" : `${sessions.length} session(s) ${sessions.length === 1 ? "is" : "are"}`} connected to a database the backup would replace on ${node.name}: ${who.join("; ")}. Stop EMS on every EMS node first (docs/operations.md, "ems-ha restore"), then run it again`,
    );
  }
  const sizes = await q<{ datname: string; bytes: number | null; kept: boolean }>(
    `select datname, case when has_database_privilege(oid, 'CONNECT') then pg_database_size(oid)::float8 end as bytes, datname <> all(array[${names}]) as kept from pg_database where datname in (${names}) or datname like '%\\_pre\\_restore\\_%'`,
  );
  const existing = new Set(sizes.filter((r) => !r.kept).map((r) => r.datname));

  // 4. room for it on the primary's data filesystem
  const [disk] = await probeDisks(d, { env: opts.env }, (n) => n.name === node.name);
  if (!disk)
    say(
      `${node.name}: the free space on its data filesystem is not checked (${diskCommand(d, node) === undefined ? "its data directory is unknown for this server" : "df did not answer"})`,
    );
  else {
    const [wal] = await q<{ bytes: number }>(
      "select (pg_size_bytes(current_setting('max_wal_size')) + pg_size_bytes(current_setting('wal_keep_size')))::float8 as bytes",
    );
    const estimate = estimateRestoreSpace(
      files,
      new Map(sizes.filter((r) => !r.kept && r.bytes !== null).map((r) => [r.datname, Number(r.bytes)])),
      Number(wal?.bytes ?? 0),
    );
    const kept = sizes.filter((r) => r.kept && r.bytes !== null).map((r) => ({ name: r.datname, bytes: Number(r.bytes) }));
    const verdict = restoreSpaceVerdict(node.name, disk, estimate, kept);
    if (verdict.ok) say(verdict.summary);
    else if (opts.skipSpaceCheck) say(`${verdict.summary}; restoring all the same (--skip-space-check)`);
    else return none(verdict.refusal!);
  }

  // 5. the roles the backup names that the primary lacks (a new cluster), in one transaction
  const stamp = backupStamp(opts.now ?? new Date());
  const roles = globalsFile
    ? rolesToCreate(
        parseGlobals(readFileSync(join(from, globalsFile.file), "utf8")),
        new Set((await q<{ rolname: string }>("select rolname from pg_roles")).map((r) => r.rolname)),
      )
    : { names: [], statements: [] };
  if (opts.dryRun) return dryRunResult(node.name, files, existing, stamp, roles.names, from);
  let createdRoles: string[] = [];
  if (globalsFile && roles.names.length > 0) {
    try {
      await execAs(node.address, d.database.port, logins, roles.statements, secrets);
    } catch (e) {
      return none(
        `the roles the backup names and ${node.name} lacks (${roles.names.map((r) => JSON.stringify(r)).join(", ")}) could not be created: ${(e as Error).message}`,
      );
    }
    createdRoles = [...roles.names];
    say(`${node.name}: created role(s) ${createdRoles.map((r) => JSON.stringify(r)).join(", ")} from ${globalsFile.file} (without a password)`);
  }

  // 6. each database: keep the old one under another name, create it from the archive
  const host: SshHost = { name: node.name, address: node.address, ssh: node.ssh };
  const done: RestoredDatabase[] = [];
  const rollback = async (): Promise<string[]> => {
    const problems: string[] = [];
    for (const r of [...done].reverse()) {
      try {
        await q(`drop database if exists ${sqlIdent(r.database)}`);
        if (r.keptAs) await q(`alter database ${sqlIdent(r.keptAs)} rename to ${sqlIdent(r.database)}`);
      } catch (e) {
        problems.push(`${r.database}: ${(e as Error).message}${r.keptAs ? ` (the old database is ${r.keptAs})` : ""}`);
      }
    }
    for (const role of [...createdRoles].reverse()) {
      try {
        await q(`drop role if exists ${sqlIdent(role)}`);
      } catch (e) {
        problems.push(`role ${JSON.stringify(role)}: ${(e as Error).message}`);
      }
    }
    return problems;
  };
  for (const f of files) {
    const db = f.database!;
    const keptAs = existing.has(db) ? keptName(db, stamp) : undefined;
    try {
      if (keptAs) {
        await q(`alter database ${sqlIdent(db)} rename to ${sqlIdent(keptAs)}`);
        say(`${node.name}: database ${JSON.stringify(db)} kept as ${JSON.stringify(keptAs)}`);
      }
      done.push({ database: db, keptAs, bytes: f.bytes });
      say(`${node.name}: restoring database ${JSON.stringify(db)} from ${f.file} (${fmtSize(f.bytes)})`);
      const r = await sshExecFrom(host, restoreCommand(d, node), createReadStream(join(from, f.file)), {
        env: opts.env,
        prefix: `${secrets.dbPassword ?? ""}\n`,
        timeoutMs: opts.restoreTimeoutMs ?? 4 * 3600_000,
        connectTimeoutMs: 10_000,
        onProgress: (n) => say(`${node.name}: ${f.file}: ${fmtSize(n)} of ${fmtSize(f.bytes)} sent`),
      });
      if (r.code !== 0) {
        const why =
          maskSecrets(r.stderr.trim(), secrets).split("\n").slice(-8).join("\n") || (r.signal ? `ended by signal ${r.signal}` : `exit code ${r.code}`);
        throw new Error(`pg_restore of ${JSON.stringify(db)} failed: ${why}`);
      }
    } catch (e) {
      const problems = await rollback();
      const undone =
        problems.length > 0
          ? `putting back failed for: ${problems.join("; ")}`
          : `every database is as it was before${createdRoles.length > 0 ? ", and the roles it created are dropped again" : ""}`;
      return {
        ok: false,
        node: node.name,
        restored: [],
        notReplayed: [],
        createdRoles: [],
        message: `restore failed on ${node.name}, undone: ${maskSecrets((e as Error).message, secrets)}; ${undone}`,
      };
    }
  }

  // 7. the standbys replay it (the restore is done: a failure from here on is reported, not thrown)
  const standbys = d.database.nodes.filter((n) => n.role === "data" && n.name !== node.name && probes.get(n.name)?.reachable);
  const pending = new Set(standbys.map((n) => n.name));
  let target: bigint | undefined;
  try {
    target = lsnToBigInt((await q<{ lsn: string }>("select pg_current_wal_lsn()::text as lsn"))[0]!.lsn);
  } catch (e) {
    say(`${node.name}: its WAL position after the restore could not be read (${(e as Error).message}); the standbys' replay is not awaited`);
  }
  const deadline = Date.now() + (target === undefined ? 0 : (opts.replayTimeoutMs ?? 120_000));
  while (target !== undefined && pending.size > 0 && Date.now() < deadline) {
    for (const n of standbys.filter((x) => pending.has(x.name))) {
      try {
        const [r] = await queryAs<{ lsn: string | null }>(
          n.address,
          d.database.port,
          [{ user: d.database.user, password: secrets.dbPassword, database: "postgres" }],
          "select pg_last_wal_replay_lsn()::text as lsn",
          secrets,
        );
        if (r?.lsn && lsnToBigInt(r.lsn) >= target) {
          pending.delete(n.name);
          say(`${n.name}: replayed the restore`);
        }
      } catch {
        // asked again until the deadline
      }
    }
    if (pending.size > 0) await sleep(1000);
  }
  const kept = done.filter((r) => r.keptAs).map((r) => r.keptAs!);
  const message = [
    `restored ${done.map((r) => JSON.stringify(r.database)).join(", ")} on ${node.name} from ${from}.`,
    createdRoles.length > 0
      ? `Created the role(s) ${createdRoles.map((r) => JSON.stringify(r)).join(", ")} that the backup names and ${node.name} lacked, without a password: give one that logs in a password (ALTER ROLE ... PASSWORD).`
      : "",
    kept.length > 0
      ? `The databases they replaced are kept as ${kept.map((k) => JSON.stringify(k)).join(", ")}: drop them once EMS works again (DROP DATABASE), they take their space until then.`
      : "",
    pending.size === 0
      ? ""
      : target === undefined
        ? `Replay not checked on ${[...pending].join(", ")}: check \`ems-ha status\`.`
        : `Not yet replayed on ${[...pending].join(", ")} within ${Math.round((opts.replayTimeoutMs ?? 120_000) / 1000)} s: check \`ems-ha status\`.`,
  ]
    .filter(Boolean)
    .join(" ");
  return { ok: true, node: node.name, restored: done, notReplayed: [...pending], createdRoles, message };
}

/** What a restore would do, from the checks a dry run made. */
function dryRunResult(
  node: string,
  files: readonly BackupFile[],
  existing: ReadonlySet<string>,
  stamp: string,
  roles: readonly string[],
  from: string,
): RestoreResult {
  const restored = files.map((f) => ({ database: f.database!, keptAs: existing.has(f.database!) ? keptName(f.database!, stamp) : undefined, bytes: f.bytes }));
  const lines = [
    `dry run: every check passed, nothing was changed. A restore from ${from} would, on ${node}:`,
    ...(roles.length > 0 ? [`- create the role(s) ${roles.map((r) => JSON.stringify(r)).join(", ")} (without a password)`] : []),
    ...restored.map(
      (r) =>
        `- ${r.keptAs ? `keep ${JSON.stringify(r.database)} as ${JSON.stringify(r.keptAs)} (the time in the name is the restore's) and ` : ""}create ${JSON.stringify(r.database)} from its archive (${fmtSize(r.bytes)})`,
    ),
  ];
  return { ok: true, dryRun: true, node, restored, notReplayed: [], createdRoles: [...roles], message: lines.join("\n") };
}
