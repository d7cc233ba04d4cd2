/**
 * A deployment's backups on disk (docs/operations.md, "`ems-ha backup`" and "`ems-ha check-backups`"):
 * what a backup's directory is called and what its manifest holds, the backups of a deployment in a
 * directory (newest first), their pruning (`backup --keep`) and the check that a backup's files are
 * still as they were written (`check-backups`, and `restore` before it changes anything).
 */
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statfsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ConfigError } from "../config/errors";
import { hashFile } from "../config/local-files";
import { fmtSize } from "./disk";

/** The first bytes of every pg_dump custom-format archive. */
export const CUSTOM_ARCHIVE_MAGIC = "PGDMP";

export interface BackupFile {
  readonly file: string;
  /** The database dumped, or undefined for the globals. */
  readonly database?: string;
  readonly bytes: number;
  readonly sha256: string;
  /**
   * The database's size on the server when it was dumped (pg_database_size), which restore counts
   * as the room it needs; absent for the globals and in backups
   * written before the manifest recorded it.
   */
  readonly databaseBytes?: number;
}

export interface BackupManifest {
  readonly format: "ems-ha-backup/1";
  readonly deployment: string;
  readonly topology: string;
  readonly node: string;
  readonly role: "primary" | "standby";
  readonly serverVersion: string;
  readonly lsn: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly files: BackupFile[];
}

/** The ending of a backup's directory while it is written (renamed without it once complete). */
export const PARTIAL = ".partial";

/** What `backupStamp` writes. */
const STAMP = /^\d{8}T\d{6}Z$/;

/** `YYYYMMDDTHHMMSSZ`, like the reconciliation service's record names. */
export function backupStamp(t: Date): string {
  return t
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

/**
 * The backup's manifest, checked (its format, the file names it may hold), or a ConfigError naming
 * `--from` and the fix. restore reads its `--from` with it; `--keep` takes a directory it refuses
 * for no backup.
 */
export function readBackupManifest(dir: string): BackupManifest {
  const bad = (message: string, fix = "name a directory `ems-ha backup` wrote (it holds manifest.json and SHA256SUMS)") =>
    new ConfigError([{ path: "--from", value: dir, message, fix }]);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw bad("is not a directory");
  let m: BackupManifest;
  try {
    m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as BackupManifest;
  } catch (e) {
    throw bad(`has no readable manifest.json (${(e as Error).message})`);
  }
  if (m?.format !== "ems-ha-backup/1" || !Array.isArray(m.files))
    throw bad(`manifest.json is not an ems-ha backup manifest (format ${JSON.stringify(m?.format)})`);
  for (const f of m.files) {
    if (typeof f?.file !== "string" || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(f.file) || typeof f.sha256 !== "string")
      throw bad(`manifest.json names a file it cannot have written: ${JSON.stringify(f?.file)}`);
  }
  return m;
}

/** A backup of the deployment found in a directory. */
export interface FoundBackup {
  readonly dir: string;
  readonly manifest: BackupManifest;
}

/**
 * The deployment's backups directly in `outDir`, newest first (by the manifest's start time). A
 * directory counts only when it is a directory itself (not a link), named `<deployment>-<UTC time>`,
 * with a manifest.json of an ems-ha backup of this deployment; one named so without such a manifest
 * is in `problems`, and so is an unfinished one (`<deployment>-<UTC time>.partial`). Anything else
 * there (other deployments' backups, files) is not looked at.
 */
export function listBackups(outDir: string, deployment: string): { backups: FoundBackup[]; problems: string[] } {
  const problems: string[] = [];
  const backups: FoundBackup[] = [];
  for (const entry of readdirSync(outDir).sort()) {
    if (!entry.startsWith(`${deployment}-`)) continue;
    const rest = entry.slice(deployment.length + 1);
    const unfinished = rest.endsWith(PARTIAL) && STAMP.test(rest.slice(0, -PARTIAL.length));
    if (!STAMP.test(rest) && !unfinished) continue;
    const dir = join(outDir, entry);
    if (!lstatSync(dir).isDirectory()) continue;
    if (unfinished) {
      problems.push(
        `${dir}: left alone (an unfinished backup: one that is running, or one stopped before it completed, whose space stays taken until it is removed)`,
      );
      continue;
    }
    let m: BackupManifest | undefined;
    try {
      m = readBackupManifest(dir);
    } catch {
      m = undefined;
    }
    if (m?.deployment !== deployment || typeof m.startedAt !== "string") {
      problems.push(`${dir}: left alone (no manifest.json of an ems-ha backup of ${deployment})`);
      continue;
    }
    backups.push({ dir, manifest: m });
  }
  backups.sort((a, b) =>
    a.manifest.startedAt === b.manifest.startedAt ? b.dir.localeCompare(a.dir) : b.manifest.startedAt.localeCompare(a.manifest.startedAt),
  );
  return { backups, problems };
}

export interface PrunedBackups {
  /** The backups' directories removed, oldest first. */
  readonly removed: ReadonlyArray<string>;
  /** Directories named like a backup of the deployment but left alone, or that could not be removed, with why. */
  readonly problems: ReadonlyArray<string>;
}

/**
 * `backup --keep N`: removes the deployment's older backups in `outDir` (listBackups) so that the
 * newest `keep` remain, `newest` (the backup just taken) always among them.
 */
export function pruneBackups(outDir: string, deployment: string, keep: number, newest: string): PrunedBackups {
  const { backups, problems } = listBackups(outDir, deployment);
  const older = backups.filter((b) => resolve(b.dir) !== resolve(newest));
  const removed: string[] = [];
  // the new backup takes one of the places
  for (const old of older.slice(Math.max(0, keep - 1)).reverse()) {
    try {
      rmSync(old.dir, { recursive: true });
      removed.push(old.dir);
    } catch (e) {
      problems.push(`${old.dir}: could not be removed: ${(e as Error).message}`);
    }
  }
  return { removed, problems };
}

/**
 * What is wrong with the backup's files (`only`: these of them), each as one line; empty when every
 * file is there with the size and SHA-256 its manifest records (the backup checked each archive's
 * first bytes before it recorded them).
 */
export async function verifyBackup(dir: string, manifest: BackupManifest, only: ReadonlyArray<BackupFile> = manifest.files): Promise<string[]> {
  const problems: string[] = [];
  for (const f of only) {
    const path = join(dir, f.file);
    if (!existsSync(path)) {
      problems.push(`${path} is missing`);
      continue;
    }
    try {
      const size = statSync(path).size;
      if (size !== f.bytes) {
        problems.push(`${path} has ${size} bytes, not the ${f.bytes} of manifest.json (changed or damaged since the backup)`);
        continue;
      }
      if (hashFile(path) !== f.sha256) {
        problems.push(`${path} does not match its SHA-256 in manifest.json (changed or damaged since the backup)`);
      }
    } catch (e) {
      problems.push(`${path} cannot be read: ${(e as Error).message}`);
    }
  }
  return problems;
}

/** Bytes free to an unprivileged writer on the filesystem of `dir` (its nearest existing ancestor when it does not exist yet). */
export function freeBytesAt(dir: string): number {
  let at = resolve(dir);
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  const s = statfsSync(at);
  return s.bavail * s.bsize;
}

/** The size of a backup: the sum of its files' sizes in its manifest. */
export function backupBytes(m: BackupManifest): number {
  return m.files.reduce((sum, f) => sum + (typeof f.bytes === "number" ? f.bytes : 0), 0);
}

/**
 * Whether a new backup of the deployment likely fits in `outDir`, judged by the newest backup there
 * (the best estimate of the next one's size): `tooSmall` when less is free than that backup took,
 * `warning` when less than twice (the one after may not fit). Without an earlier backup nothing is
 * known: neither.
 */
export function backupRoomVerdict(outDir: string, freeBytes: number, last: FoundBackup | undefined): { readonly tooSmall?: string; readonly warning?: string } {
  if (!last) return {};
  const took = backupBytes(last.manifest);
  const what = `${outDir}'s filesystem has ${fmtSize(freeBytes)} free, and the newest backup there took ${fmtSize(took)} (${last.dir})`;
  if (freeBytes < took) return { tooSmall: `${what}: this one would most likely not fit` };
  if (freeBytes < 2 * took) return { warning: `${what}: the backup after this one may not fit` };
  return {};
}
