/**
 * Room for a restore on the primary's data filesystem (src/ops/restore-space.ts): what is counted
 * and when it is refused. The check itself runs against a real primary's df in
 * test/ops/backup-passwords.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { BackupFile } from "../../src/ops/backup-dir";
import { DISK_FULL_PERCENT, type DiskUsage } from "../../src/ops/disk";
import { estimateRestoreSpace, restoreSpaceVerdict } from "../../src/ops/restore-space";

const GB = 1024 ** 3;
const file = (database: string, bytes: number, databaseBytes?: number): BackupFile => ({
  file: `${database}.dump`,
  database,
  bytes,
  sha256: "0".repeat(64),
  databaseBytes,
});
/** A filesystem of `sizeGb` with `freeGb` free, as df reports it. */
const disk = (sizeGb: number, freeGb: number): DiskUsage => ({
  node: "pg-1",
  path: "/var/lib/postgresql/15/main",
  mount: "/srv",
  sizeKb: sizeGb * 1024 * 1024,
  availableKb: freeGb * 1024 * 1024,
  usedPercent: Math.ceil(((sizeGb - freeGb) * 100) / sizeGb),
});

describe("what a restore is counted to write", () => {
  it("each database at its size when backed up, else the size of the database it replaces, else its archive's (named as a lower bound)", () => {
    const e = estimateRestoreSpace(
      [file("fcm", 1 * GB, 10 * GB), file("logs", 1 * GB), file("new", 2 * GB)],
      new Map([
        ["fcm", 50 * GB], // the manifest's figure wins
        ["logs", 4 * GB],
      ]),
      100 * GB,
    );
    expect(e.dataBytes).toBe((10 + 4 + 2) * GB);
    expect(e.fromArchive).toEqual(["new"]);
  });

  it("WAL: the same again, at most max_wal_size + wal_keep_size", () => {
    expect(estimateRestoreSpace([file("fcm", GB, 10 * GB)], new Map(), 3 * GB).walBytes).toBe(3 * GB);
    expect(estimateRestoreSpace([file("fcm", GB, 2 * GB)], new Map(), 3 * GB).walBytes).toBe(2 * GB);
    expect(estimateRestoreSpace([file("fcm", GB, 2 * GB)], new Map(), 0).walBytes).toBe(0);
  });
});

describe("the verdict on the primary's data filesystem", () => {
  const need = (dataGb: number, walGb = 0) => ({ dataBytes: dataGb * GB, walBytes: walGb * GB, fromArchive: [] });

  it(`passes while the filesystem stays below ${DISK_FULL_PERCENT}% afterwards, and says what it counted`, () => {
    const v = restoreSpaceVerdict("pg-1", disk(100, 40), need(20, 14), []);
    expect(v.ok).toBe(true);
    expect(v.summary).toBe(
      "pg-1's data filesystem (/srv): the restore needs about 34.0 GB (20.0 GB of databases, 14.0 GB of WAL), 40.0 GB is free of 100.0 GB: 94% full afterwards",
    );
    expect(v.refusal).toBeUndefined();
  });

  it(`refuses at ${DISK_FULL_PERCENT}% afterwards, naming the databases of earlier restores largest first, --database and --skip-space-check`, () => {
    const kept = [
      { name: "fcm_pre_restore_20260101t000000z", bytes: 3 * GB },
      { name: "fcm_pre_restore_20260601t000000z", bytes: 9 * GB },
    ];
    const v = restoreSpaceVerdict("pg-1", disk(100, 40), need(20, 15), kept);
    expect(v.ok).toBe(false);
    expect(v.refusal).toMatch(/^pg-1's data filesystem \(\/srv\): the restore needs about 35\.0 GB .*: 95% full afterwards, and PostgreSQL stops/);
    expect(v.refusal).toContain(
      'Databases kept by earlier restores take 12.0 GB: "fcm_pre_restore_20260601t000000z" (9.0 GB), "fcm_pre_restore_20260101t000000z" (3.0 GB); drop those',
    );
    expect(v.refusal).toMatch(/restore one database at a time with --database; --skip-space-check restores all the same\.$/);
  });

  it("a restore larger than the whole filesystem is refused, and a lower-bound estimate says so", () => {
    const v = restoreSpaceVerdict("pg-2", disk(10, 9), { dataBytes: 50 * GB, walBytes: 0, fromArchive: ['it\'s "odd"'] }, []);
    expect(v.ok).toBe(false);
    expect(v.summary).toContain('("it\'s \\"odd\\"" counted at the archive\'s size: more in fact)');
    expect(v.refusal).not.toContain("earlier restores");
  });

  it("an empty filesystem of size 0 counts as full", () => {
    expect(restoreSpaceVerdict("pg-1", { ...disk(0, 0), usedPercent: 100 }, need(0), []).ok).toBe(false);
  });
});
