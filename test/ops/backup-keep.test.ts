/**
 * `ems-ha backup --keep N`: which directories the pruning removes, and everything it must leave
 * alone (pruneBackups on real directories). The flag on a real backup: backup-passwords.test.ts.
 * And the room check in `--out` (backupRoomVerdict), with the real filesystem's free space.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { backupRoomVerdict, pruneBackups, type BackupManifest, type FoundBackup } from "../../src/ops/backup-dir";
import { runCliCaptured } from "../helpers/cli";
import { tempDir } from "../helpers/tmp";
import { smallDeploymentInput } from "./lib/small-deployment";

function backupDir(out: string, name: string, deployment: string, startedAt: string, format = "ems-ha-backup/1", claimedBytes?: number): string {
  const dir = join(out, name);
  mkdirSync(dir);
  const files = claimedBytes === undefined ? [] : [{ file: "fcm.dump", database: "fcm", bytes: claimedBytes, sha256: "0".repeat(64) }];
  writeFileSync(join(dir, "manifest.json"), JSON.stringify({ format, deployment, startedAt, files }));
  writeFileSync(join(dir, "fcm.dump"), "PGDMP…");
  return dir;
}

describe("backup --keep (pruneBackups)", () => {
  it("keeps the newest N with the new one among them, removes the older ones oldest first, by the manifests' start times", () => {
    const out = tempDir("ems-ha-keep-");
    const b1 = backupDir(out, "prod-20260101T000000Z", "prod", "2026-01-01T00:00:00.000Z");
    const b2 = backupDir(out, "prod-20260102T000000Z", "prod", "2026-01-02T00:00:00.000Z");
    const b3 = backupDir(out, "prod-20260103T000000Z", "prod", "2026-01-03T00:00:00.000Z");
    const now = backupDir(out, "prod-20260104T000000Z", "prod", "2026-01-04T00:00:00.000Z");
    expect(pruneBackups(out, "prod", 2, now)).toEqual({ removed: [b1, b2], problems: [] });
    expect(readdirSync(out).sort()).toEqual(["prod-20260103T000000Z", "prod-20260104T000000Z"]);
    expect(existsSync(b3)).toBe(true);
    // --keep 1: only the new one
    expect(pruneBackups(out, "prod", 1, now)).toEqual({ removed: [b3], problems: [] });
    expect(readdirSync(out)).toEqual(["prod-20260104T000000Z"]);
    // nothing older: nothing to do
    expect(pruneBackups(out, "prod", 1, now)).toEqual({ removed: [], problems: [] });
  });

  it("never removes the new backup, even when a manifest claims a later start (a clock that went back)", () => {
    const out = tempDir("ems-ha-keep-");
    const later = backupDir(out, "prod-20270101T000000Z", "prod", "2027-01-01T00:00:00.000Z");
    const now = backupDir(out, "prod-20260104T000000Z", "prod", "2026-01-04T00:00:00.000Z");
    expect(pruneBackups(out, "prod", 1, now)).toEqual({ removed: [later], problems: [] });
    expect(existsSync(now)).toBe(true);
  });

  it("leaves alone what is not one of this deployment's backups: other deployments (a name that extends this one too), .partial directories, other names, files, links, a directory without a valid manifest", () => {
    const out = tempDir("ems-ha-keep-");
    const elsewhere = tempDir("ems-ha-keep-target-");
    const target = backupDir(elsewhere, "prod-20250101T000000Z", "prod", "2025-01-01T00:00:00.000Z");
    backupDir(out, "prod-eu-20250101T000000Z", "prod-eu", "2025-01-01T00:00:00.000Z");
    backupDir(out, "prod-20250101T000001Z.partial", "prod", "2025-01-01T00:00:01.000Z");
    backupDir(out, "prod-old", "prod", "2025-01-01T00:00:02.000Z");
    writeFileSync(join(out, "prod-20250101T000003Z"), "a file");
    symlinkSync(target, join(out, "prod-20250101T000004Z"));
    const noManifest = join(out, "prod-20250101T000005Z");
    mkdirSync(noManifest);
    const otherFormat = backupDir(out, "prod-20250101T000006Z", "prod", "2025-01-01T00:00:06.000Z", "something-else/1");
    const wrongName = backupDir(out, "prod-20250101T000007Z", "prod-eu", "2025-01-01T00:00:07.000Z");
    const now = backupDir(out, "prod-20260104T000000Z", "prod", "2026-01-04T00:00:00.000Z");
    const before = readdirSync(out).sort();
    const r = pruneBackups(out, "prod", 1, now);
    expect(r.removed).toEqual([]);
    expect(r.problems).toEqual([
      `${join(out, "prod-20250101T000001Z.partial")}: left alone (an unfinished backup: one that is running, or one stopped before it completed, whose space stays taken until it is removed)`,
      ...[noManifest, otherFormat, wrongName].map((d) => `${d}: left alone (no manifest.json of an ems-ha backup of prod)`),
    ]);
    expect(readdirSync(out).sort()).toEqual(before);
    expect(existsSync(join(target, "fcm.dump"))).toBe(true);
  });

  it("the flag: a whole number of at least 1 (exit 2 naming it); a backup that is not taken removes nothing", async () => {
    const out = tempDir("ems-ha-keep-");
    const cfg = unreachableDeployment(out);
    const old = backupDir(out, "keep-test-20250101T000000Z", "keep-test", "2025-01-01T00:00:00.000Z");
    for (const bad of ["0", "1.5", "x"]) {
      const r = await runCliCaptured(["backup", "--config", cfg, "--out", out, "--keep", bad], out, { EMS_HA_DB_PASSWORD: "pw" });
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(new RegExp(`--keep.*${bad}`));
      expect(r.err).toMatch(/error on the command line/);
    }
    const r = await runCliCaptured(["backup", "--config", cfg, "--out", out, "--keep", "1"], out, { EMS_HA_DB_PASSWORD: "pw" });
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/backup not taken/);
    expect(existsSync(join(old, "fcm.dump"))).toBe(true);
  });
});

describe("room for a backup in --out (judged by the newest backup there)", () => {
  const GB = 1024 ** 3;
  const last = (bytes: number): FoundBackup => ({
    dir: "/b/prod-20260101T000000Z",
    manifest: { files: [{ file: "fcm.dump", database: "fcm", bytes, sha256: "0".repeat(64) }] } as unknown as BackupManifest,
  });

  it("fits with twice the last backup free; a warning below that; too small below the last backup's size; nothing known without one", () => {
    expect(backupRoomVerdict("/b", 10 * GB, undefined)).toEqual({});
    expect(backupRoomVerdict("/b", 10 * GB, last(5 * GB))).toEqual({});
    expect(backupRoomVerdict("/b", 10 * GB, last(6 * GB))).toEqual({
      warning: "/b's filesystem has 10.0 GB free, and the newest backup there took 6.0 GB (/b/prod-20260101T000000Z): the backup after this one may not fit",
    });
    expect(backupRoomVerdict("/b", 10 * GB, last(11 * GB)).tooSmall).toBe(
      "/b's filesystem has 10.0 GB free, and the newest backup there took 11.0 GB (/b/prod-20260101T000000Z): this one would most likely not fit",
    );
  });

  it("the real filesystem's free space: refused before the cluster is asked, --skip-space-check goes on; a warning when the one after may not fit", async () => {
    const out = tempDir("ems-ha-room-");
    const cfg = unreachableDeployment(out);
    // the newest backup claims a petabyte: more than any test machine has free
    const huge = backupDir(out, "keep-test-20250101T000000Z", "keep-test", "2025-01-01T00:00:00.000Z", undefined, 1024 ** 5);
    const r = await runCliCaptured(["backup", "--config", cfg, "--out", out], out, { EMS_HA_DB_PASSWORD: "pw" });
    expect(r.code).toBe(1);
    expect(r.err).toContain(`backup not taken: ${out}'s filesystem has `);
    expect(r.err).toMatch(
      /free, and the newest backup there took 1048576\.0 GB \(.*keep-test-20250101T000000Z\): this one would most likely not fit\. Free space, remove older backups .*--skip-space-check tries all the same/,
    );
    // nothing was asked of the cluster (whose nodes do not answer here)
    expect(r.err).not.toMatch(/pg-1: /);
    const skip = await runCliCaptured(["backup", "--config", cfg, "--out", out, "--skip-space-check"], out, { EMS_HA_DB_PASSWORD: "pw" });
    expect(skip.code).toBe(1);
    expect(skip.err).toMatch(/this one would most likely not fit; trying all the same \(--skip-space-check\)/);
    expect(skip.err).toMatch(/backup not taken: .*pg-1/);
    // three quarters of what is free: it fits, once
    rmSync(huge, { recursive: true });
    const s = statfsSync(out);
    backupDir(out, "keep-test-20250102T000000Z", "keep-test", "2025-01-02T00:00:00.000Z", undefined, Math.floor(s.bavail * s.bsize * 0.75));
    const warned = await runCliCaptured(["backup", "--config", cfg, "--out", out], out, { EMS_HA_DB_PASSWORD: "pw" });
    expect(warned.err).toMatch(/the newest backup there took [\d.]+ GB .*: the backup after this one may not fit/);
    expect(warned.err).toMatch(/backup not taken: .*pg-1/);
  });
});

/** A deployment whose every node is at a loopback address where nothing listens: a backup of it is not taken. */
function unreachableDeployment(out: string): string {
  const cfg = join(out, "ems-ha.config.json");
  // every node at a loopback address where nothing listens: the backup is not taken
  writeFileSync(
    cfg,
    JSON.stringify({
      ...smallDeploymentInput("single-region", "keep-test"),
      emsNodes: [
        { name: "ems-1", address: "127.0.0.5" },
        { name: "ems-2", address: "127.0.0.6" },
      ],
      database: {
        port: 9,
        nodes: [
          { name: "pg-1", address: "127.0.0.1", role: "data", ssh: { port: 9 } },
          { name: "pg-2", address: "127.0.0.2", role: "data", ssh: { port: 9 } },
          { name: "pgw-1", address: "127.0.0.3", role: "witness", ssh: { port: 9 } },
        ],
      },
    }),
  );
  return cfg;
}
