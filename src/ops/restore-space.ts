/**
 * Whether a restore fits on the primary's data filesystem (docs/operations.md, "`ems-ha restore`",
 * "Room for the restore"). A restore keeps every database it replaces and creates the new one beside
 * it, and PostgreSQL writes what it creates to WAL as well; a data filesystem that fills up stops
 * the primary, EMS and the restore with it. So `ems-ha restore` estimates what it will write and
 * refuses, before anything changes, when the filesystem would end at or above DISK_FULL_PERCENT.
 *
 * The estimate, per database: its size on the server when it was backed up (the manifest's
 * `databaseBytes`), else the size of the database it replaces, else the archive's size (compressed:
 * the restored database is larger, so the estimate is then too low and says so). The WAL it writes
 * is counted as the same again, at most what the server keeps between checkpoints (`max_wal_size`)
 * plus what it keeps for standbys (`wal_keep_size`); a standby whose replication slot falls behind
 * holds more, which is why the check keeps DISK_FULL_PERCENT's margin. Pure.
 */
import type { BackupFile } from "./backup-dir";
import { DISK_FULL_PERCENT, fmtKb, fmtSize, type DiskUsage } from "./disk";

export interface SpaceEstimate {
  /** Bytes the restored databases will take. */
  readonly dataBytes: number;
  /** Bytes of WAL counted for the restore. */
  readonly walBytes: number;
  /** Databases whose estimate is their archive's size, a lower bound. */
  readonly fromArchive: ReadonlyArray<string>;
}

export function estimateRestoreSpace(
  files: ReadonlyArray<BackupFile>,
  /** The size of each database the restore replaces, as the server has it now. */
  existingBytes: ReadonlyMap<string, number>,
  /** max_wal_size + wal_keep_size, in bytes. */
  walBoundBytes: number,
): SpaceEstimate {
  let dataBytes = 0;
  const fromArchive: string[] = [];
  for (const f of files) {
    const db = f.database!;
    const known = f.databaseBytes ?? existingBytes.get(db);
    if (known === undefined) fromArchive.push(db);
    dataBytes += known ?? f.bytes;
  }
  return { dataBytes, walBytes: Math.min(dataBytes, Math.max(0, walBoundBytes)), fromArchive };
}

export interface SpaceVerdict {
  readonly ok: boolean;
  /** One line on what was counted and what is free. */
  readonly summary: string;
  /** With ok false: why and what to do. */
  readonly refusal?: string;
}

/**
 * The restore's verdict on the node's data filesystem: refused when the filesystem would be
 * DISK_FULL_PERCENT full or more afterwards. `kept`: databases of earlier restores that still take
 * space (named in the refusal, with their sizes, as the first thing to drop).
 */
export function restoreSpaceVerdict(
  node: string,
  disk: DiskUsage,
  estimate: SpaceEstimate,
  kept: ReadonlyArray<{ readonly name: string; readonly bytes: number }>,
): SpaceVerdict {
  const needKb = Math.ceil((estimate.dataBytes + estimate.walBytes) / 1024);
  const usedKb = Math.max(0, disk.sizeKb - disk.availableKb);
  const totalKb = usedKb + disk.availableKb;
  const afterPercent = totalKb === 0 ? 100 : Math.ceil(((usedKb + needKb) * 100) / totalKb);
  const low =
    estimate.fromArchive.length === 0 ? "" : ` (${estimate.fromArchive.map((x) => JSON.stringify(x)).join(", ")} counted at the archive's size: more in fact)`;
  const summary =
    `${node}'s data filesystem (${disk.mount}): the restore needs about ${fmtKb(needKb)} ` +
    `(${fmtSize(estimate.dataBytes)} of databases${low}, ${fmtSize(estimate.walBytes)} of WAL), ` +
    `${fmtKb(disk.availableKb)} is free of ${fmtKb(disk.sizeKb)}: ${Math.min(afterPercent, 999)}% full afterwards`;
  if (afterPercent < DISK_FULL_PERCENT) return { ok: true, summary };
  const biggest = [...kept].sort((a, b) => b.bytes - a.bytes);
  const drop =
    biggest.length === 0
      ? ""
      : ` Databases kept by earlier restores take ${fmtSize(biggest.reduce((s, k) => s + k.bytes, 0))}: ${biggest
          .slice(0, 5)
          .map((k) => `${JSON.stringify(k.name)} (${fmtSize(k.bytes)})`)
          .join(", ")}${biggest.length > 5 ? ", …" : ""}; drop those EMS no longer needs (DROP DATABASE).`;
  return {
    ok: false,
    summary,
    refusal:
      `${summary}, and PostgreSQL stops when it cannot write WAL (at ${DISK_FULL_PERCENT}% \`ems-ha status\` calls the cluster degraded).` +
      `${drop} Free space or grow the filesystem, or restore one database at a time with --database; ` +
      `--skip-space-check restores all the same.`,
  };
}
