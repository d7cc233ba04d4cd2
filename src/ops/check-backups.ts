/**
 * `ems-ha check-backups`: are the deployment's backups there, recent and intact? (docs/operations.md,
 * "`ems-ha check-backups`"). A backup job that stopped running, or a disk that damaged an archive, is
 * found when the backup is needed, unless something asks: this lists the deployment's backups in a
 * directory (the `--out` of `ems-ha backup`), reads the newest one's files (or every one's) against
 * the SHA-256 sums of its manifest, and fails when there is none, when one that was read is damaged,
 * or when the newest is older than a limit. It reads only local files: no database, no SSH.
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "../config/errors";
import { backupBytes, listBackups, verifyBackup } from "./backup-dir";
import { fmtSize, printable } from "./disk";
import { textTable } from "./text-table";

export const VERIFY_CHOICES = ["newest", "all", "none"] as const;
export type VerifyChoice = (typeof VERIFY_CHOICES)[number];

export interface CheckBackupsOptions {
  /** The directory `ems-ha backup --out` writes into. */
  readonly dir: string;
  /** Hours the newest backup may be old (by its start). @default no limit */
  readonly maxAgeHours?: number;
  /** Whose files are read and checked against their manifest. @default "newest" */
  readonly verify?: VerifyChoice;
  /** @default now */
  readonly now?: Date;
  readonly onProgress?: (line: string) => void;
}

export interface BackupSummary {
  readonly dir: string;
  readonly startedAt: string;
  /** Hours since it started; undefined when the manifest's time is no time. */
  readonly ageHours?: number;
  readonly node: string;
  readonly role: string;
  readonly bytes: number;
  readonly files: number;
  /** true: every file matches; false: see problems; undefined: not read. */
  readonly verified?: boolean;
  readonly problems: ReadonlyArray<string>;
}

export interface CheckBackupsResult {
  readonly ok: boolean;
  readonly message: string;
  /** Newest first. */
  readonly backups: ReadonlyArray<BackupSummary>;
  /** Directories named like a backup of the deployment that are not one (left alone). */
  readonly ignored: ReadonlyArray<string>;
}

/** "25 min", "19 h", "3 d" */
export function fmtAge(hours: number): string {
  if (hours < 1) return `${Math.max(0, Math.floor(hours * 60))} min`;
  if (hours < 48) return `${Math.floor(hours)} h`;
  return `${Math.floor(hours / 24)} d`;
}

export async function checkBackups(deployment: string, opts: CheckBackupsOptions): Promise<CheckBackupsResult> {
  const dir = resolve(opts.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ConfigError([
      { path: "--dir", value: opts.dir, message: "is not a directory", fix: "name the directory `ems-ha backup --out` writes the backups into" },
    ]);
  const verify = opts.verify ?? "newest";
  const now = (opts.now ?? new Date()).getTime();
  const say = opts.onProgress ?? (() => undefined);
  const { backups, problems: ignored } = listBackups(dir, deployment);
  const summaries: BackupSummary[] = [];
  for (const [i, b] of backups.entries()) {
    const m = b.manifest;
    const started = Date.parse(m.startedAt);
    const bytes = backupBytes(m);
    let verified: boolean | undefined;
    let problems: string[] = [];
    if (verify === "all" || (verify === "newest" && i === 0)) {
      say(`reading ${b.dir} (${m.files.length} file(s), ${fmtSize(bytes)})`);
      problems = await verifyBackup(b.dir, m);
      verified = problems.length === 0;
    }
    summaries.push({
      dir: b.dir,
      startedAt: m.startedAt,
      ageHours: Number.isNaN(started) ? undefined : (now - started) / 3600_000,
      node: String(m.node),
      role: String(m.role),
      bytes,
      files: m.files.length,
      verified,
      problems,
    });
  }
  const failures: string[] = [];
  const newest = summaries[0];
  if (!newest) failures.push(`no backup of ${deployment} in ${dir}`);
  else if (opts.maxAgeHours !== undefined) {
    if (newest.ageHours === undefined) failures.push(`the newest backup's manifest has no time it was taken (${JSON.stringify(newest.startedAt)})`);
    else if (newest.ageHours > opts.maxAgeHours)
      failures.push(`the newest backup is ${fmtAge(newest.ageHours)} old, older than --max-age ${opts.maxAgeHours} h: is the backup job still running?`);
  }
  for (const s of summaries) if (s.verified === false) failures.push(`${s.dir} is damaged: ${s.problems.join("; ")}`);
  if (failures.length > 0) return { ok: false, message: failures.map((f) => printable(f)).join("\n"), backups: summaries, ignored };
  const n = newest!;
  const age =
    n.ageHours === undefined ? "of no known age" : `${fmtAge(n.ageHours)} old${opts.maxAgeHours === undefined ? "" : ` (at most ${opts.maxAgeHours} h)`}`;
  const read = verify === "none" ? "" : verify === "all" ? `; every backup's files match their checksums` : `; its ${n.files} file(s) match their checksums`;
  return {
    ok: true,
    message: printable(`${summaries.length} backup(s) of ${deployment}; the newest, ${n.dir}, is ${age}${read}`),
    backups: summaries,
    ignored,
  };
}

/** The backups as a table for a terminal (every value from the manifests made printable). */
export function renderBackupsTable(backups: ReadonlyArray<BackupSummary>): string {
  const rows = backups.map((b) =>
    [
      b.dir.split("/").pop()!,
      b.ageHours === undefined ? b.startedAt : b.startedAt.replace("T", " ").replace(/\.\d+Z$|Z$/, ""),
      b.ageHours === undefined ? "?" : fmtAge(b.ageHours),
      `${b.node} (${b.role})`,
      fmtSize(b.bytes),
      b.verified === undefined ? "not read" : b.verified ? "match" : "DAMAGED",
    ].map((c) => printable(c)),
  );
  return textTable(["backup", "taken (UTC)", "age", "from", "size", "files"], rows).join("\n");
}
