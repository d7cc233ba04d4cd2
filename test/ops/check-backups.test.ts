/**
 * `ems-ha check-backups` (src/ops/check-backups.ts) on real directories: which backups it lists,
 * the age limit, the checksum reading of the newest or of every backup, what it leaves out, the
 * exit codes and the output. Backups written by a real `ems-ha backup` are checked in
 * test/ops/backup-passwords.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import parsePrometheus from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { fmtAge } from "../../src/ops/check-backups";
import { fmtSize } from "../../src/ops/disk";
import { runCliCaptured } from "../helpers/cli";
import { tempDir } from "../helpers/tmp";
import { smallDeploymentInput } from "./lib/small-deployment";

const HOUR = 3600_000;

/** A backup directory as `ems-ha backup` writes it, its files' sums taken by sha256sum; `hoursAgo` before now. */
function writeBackup(out: string, deployment: string, hoursAgo: number, over: { node?: string } = {}): string {
  const started = new Date(Date.now() - hoursAgo * HOUR);
  const stamp = started
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const dir = join(out, `${deployment}-${stamp}`);
  mkdirSync(dir);
  const contents: Record<string, string> = { "globals.sql": "CREATE ROLE x;\n", "fcm.dump": `PGDMP fcm ${hoursAgo}` };
  const files = Object.entries(contents).map(([file, text]) => {
    writeFileSync(join(dir, file), text);
    const sum = spawnSync("sha256sum", [join(dir, file)], { encoding: "utf8", timeout: 10_000 }).stdout.split(" ")[0]!;
    return { file, ...(file === "fcm.dump" ? { database: "fcm", databaseBytes: 8192 } : {}), bytes: Buffer.byteLength(text), sha256: sum };
  });
  const manifest = {
    format: "ems-ha-backup/1",
    deployment,
    topology: "single-region",
    node: over.node ?? "pg-2",
    role: "standby",
    serverVersion: "15.10",
    lsn: "0/3000000",
    startedAt: started.toISOString(),
    finishedAt: started.toISOString(),
    files,
  };
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
  return dir;
}

function setup(): { out: string; cfg: string } {
  const out = tempDir("ems-ha-check-backups-");
  const cfg = join(out, "ems-ha.config.json");
  writeFileSync(cfg, JSON.stringify(smallDeploymentInput("single-region", "prod")));
  return { out, cfg };
}

const run = (argv: string[], cwd: string) => runCliCaptured(["check-backups", ...argv], cwd, {});

describe("ems-ha check-backups", () => {
  it("lists the deployment's backups newest first, reads the newest one's files, and passes within --max-age", async () => {
    const { out, cfg } = setup();
    writeBackup(out, "prod", 50);
    const newest = writeBackup(out, "prod", 2);
    writeBackup(out, "prod-eu", 1); // another deployment's, whose name extends this one
    const r = await run(["--config", cfg, "--dir", out, "--max-age", "26"], out);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toMatch(/^backup\s+taken \(UTC\)\s+age\s+from\s+size\s+files$/);
    expect(lines[1]).toMatch(/^prod-\d{8}T\d{6}Z\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+2 h\s+pg-2 \(standby\)\s+\d+ B\s+match$/);
    expect(lines[2]).toMatch(/^prod-\d{8}T\d{6}Z\s+.*\s+2 d\s+pg-2 \(standby\)\s+\d+ B\s+not read$/);
    expect(lines[3]).toBe(`2 backup(s) of prod; the newest, ${newest}, is 2 h old (at most 26 h); its 2 file(s) match their checksums`);
    expect(lines).toHaveLength(4);
    expect(r.err).toBe(
      `ems-ha: deployment ${cfg} (from --config)\nreading ${newest} (2 file(s), ${fmtSize(Buffer.byteLength("CREATE ROLE x;\n") + Buffer.byteLength("PGDMP fcm 2"))})\n`,
    );
  });

  it("fails (exit 1) when the newest is older than --max-age, when there is none, and when a backup it reads is damaged", async () => {
    const { out, cfg } = setup();
    const old = writeBackup(out, "prod", 30);
    const stale = await run(["--config", cfg, "--dir", out, "--max-age", "26"], out);
    expect(stale.code).toBe(1);
    expect(stale.err).toMatch(/the newest backup is 30 h old, older than --max-age 26 h: is the backup job still running\?/);
    const empty = tempDir("ems-ha-check-backups-empty-");
    const none = await run(["--config", cfg, "--dir", empty], out);
    expect(none.code).toBe(1);
    expect(none.err).toContain(`no backup of prod in ${empty}`);
    expect(none.out).toBe("");
    // one byte changed in an older backup: found with --verify all, not by the default (the newest only)
    writeBackup(out, "prod", 1);
    writeFileSync(join(old, "fcm.dump"), "PGDMP fcm 31");
    expect((await run(["--config", cfg, "--dir", out], out)).code).toBe(0);
    const all = await run(["--config", cfg, "--dir", out, "--verify", "all"], out);
    expect(all.code).toBe(1);
    expect(all.out).toMatch(/DAMAGED/);
    expect(all.err).toContain(`${old} is damaged: ${join(old, "fcm.dump")} does not match its SHA-256 in manifest.json`);
    // a missing file and a changed size are named as such
    writeFileSync(join(old, "globals.sql"), "longer than it was when the backup wrote it");
    const twice = await run(["--config", cfg, "--dir", out, "--verify", "all"], out);
    expect(twice.err).toMatch(/globals\.sql has \d+ bytes, not the 15 of manifest\.json/);
  });

  it("--verify none reads nothing; --json gives the same verdict; a directory named like a backup without a manifest is named and left out", async () => {
    const { out, cfg } = setup();
    const b = writeBackup(out, "prod", 3);
    writeFileSync(join(b, "fcm.dump"), "damaged, but not read");
    mkdirSync(join(out, "prod-20250101T000000Z"));
    mkdirSync(join(out, "prod-20250101T000001Z.partial"));
    const r = await run(["--config", cfg, "--dir", out, "--verify", "none", "--json"], out);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { ok: boolean; backups: Array<{ dir: string; verified?: boolean; files: number }>; ignored: string[] };
    expect(j.ok).toBe(true);
    expect(j.backups.map((x) => [x.dir, x.verified, x.files])).toEqual([[b, undefined, 2]]);
    expect(j.ignored).toEqual([
      `${join(out, "prod-20250101T000000Z")}: left alone (no manifest.json of an ems-ha backup of prod)`,
      expect.stringMatching(/prod-20250101T000001Z\.partial: left alone \(an unfinished backup: one that is running, or one stopped before it completed/),
    ]);
    expect(r.err).toContain("prod-20250101T000000Z: left alone");
    const bad = await run(["--config", cfg, "--dir", out, "--json"], out);
    expect(bad.code).toBe(1);
    expect((JSON.parse(bad.out) as { ok: boolean }).ok).toBe(false);
    expect(bad.err).toMatch(/is damaged: .*fcm\.dump has \d+ bytes/);
    // the same verdict as Prometheus metrics (exit code kept)
    const prom = await run(["--config", cfg, "--dir", out, "--prometheus"], out);
    expect(prom.code).toBe(1);
    const m = new Map(parsePrometheus(prom.out).map((f) => [f.name, f.metrics.map((x) => [x.labels, Number(x.value)])]));
    const labels = { deployment: "prod", dir: out };
    expect(m.get("ems_ha_backup_ok")).toEqual([[labels, 0]]);
    expect(m.get("ems_ha_backups")).toEqual([[labels, 1]]);
    expect(m.get("ems_ha_backups_damaged")).toEqual([[labels, 1]]);
    expect(m.get("ems_ha_backup_newest_bytes")![0]![1]).toBeGreaterThan(0);
    expect(prom.err).toMatch(/is damaged/);
    const both = await run(["--config", cfg, "--dir", out, "--prometheus", "--json"], out);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/--prometheus: cannot be combined with --json/);
  });

  it("a manifest's text reaches the terminal without control characters", async () => {
    const { out, cfg } = setup();
    writeBackup(out, "prod", 1, { node: "pg-2\u001b]0;owned\u0007" });
    const r = await run(["--config", cfg, "--dir", out], out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("pg-2?]0;owned? (standby)");
    // eslint-disable-next-line no-control-regex
    expect(r.out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  });

  it("bad input exits 2 naming the flag: a missing directory, --max-age 0, --verify some", async () => {
    const { out, cfg } = setup();
    const missing = await run(["--config", cfg, "--dir", join(out, "nope")], out);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--dir: is not a directory .*Fix: name the directory `ems-ha backup --out` writes the backups into/);
    const zero = await run(["--config", cfg, "--dir", out, "--max-age", "0"], out);
    expect(zero.code).toBe(2);
    expect(zero.err).toMatch(/--max-age/);
    const some = await run(["--config", cfg, "--dir", out, "--verify", "some"], out);
    expect(some.code).toBe(2);
    expect(some.err).toMatch(/--verify: is not one of the choices \(got "some"\)\. Fix: use newest, all or none/);
  });

  it("ages read as minutes, hours, then days", () => {
    expect([0.2, 1.5, 47.9, 48, 24 * 30].map(fmtAge)).toEqual(["12 min", "1 h", "47 h", "2 d", "30 d"]);
  });
});
