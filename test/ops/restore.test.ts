/**
 * The pure parts of `ems-ha restore` (src/ops/restore.ts): the kept databases' names, the backup's
 * manifest and which databases it restores, and the restore command's quoting, run through a real
 * bash with stand-in `docker` and `pg_restore` programs that print what they were given. The
 * restore itself runs against real PostgreSQL in test/ops/backup-passwords.test.ts (native) and
 * test/lab/docker-single-region.test.ts (a real Docker engine).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/errors";
import { parseDeployment } from "../../src/config/parse";
import { smallDeploymentInput } from "./lib/small-deployment";
import { NATIVE_BIN_GLOB } from "../../src/ops/backup";
import { readBackupManifest, type BackupManifest } from "../../src/ops/backup-dir";
import { databasesToRestore, keptName, restoreCommand } from "../../src/ops/restore";

const input = (topology: string) => smallDeploymentInput(topology, "rs");
const native = parseDeployment(input("native-single-region"));
const docker = parseDeployment(input("single-region"));

const dir = mkdtempSync(join(tmpdir(), "ems-ha-restore-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const manifest = (over: Partial<BackupManifest> = {}): BackupManifest => ({
  format: "ems-ha-backup/1",
  deployment: "rs",
  topology: "native-single-region",
  node: "pg-1",
  role: "primary",
  serverVersion: "15.10",
  lsn: "0/3000000",
  startedAt: "2026-11-28T09:00:00.000Z",
  finishedAt: "2026-11-28T09:00:05.000Z",
  files: [
    { file: "globals.sql", bytes: 10, sha256: "a".repeat(64) },
    { file: "fcm.dump", database: "fcm", bytes: 100, sha256: "b".repeat(64) },
    { file: "db-0123456789abcdef.dump", database: "odd name", bytes: 100, sha256: "c".repeat(64) },
    { file: "postgres.dump", database: "postgres", bytes: 100, sha256: "d".repeat(64) },
  ],
  ...over,
});

function configError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error("no error");
}

describe("what a restore keeps and restores", () => {
  it("keeps a replaced database as <name>_pre_restore_<time>, cut at a character to PostgreSQL's 63 bytes", () => {
    expect(keptName("fcm", "20261128T090507Z")).toBe("fcm_pre_restore_20261128t090507z");
    const long = "é".repeat(40); // 80 bytes
    const k = keptName(long, "20261128T090507Z");
    expect(Buffer.byteLength(k)).toBeLessThanOrEqual(63);
    expect(k).toMatch(/^é+_pre_restore_20261128t090507z$/);
    expect(Buffer.from(k, "utf8").toString("utf8")).toBe(k);
  });

  it("restores every database of the backup but postgres by default, or the one named; another deployment's backup or an unknown database is bad input", () => {
    expect(databasesToRestore(native, manifest(), undefined, "B").map((f) => f.database)).toEqual(["fcm", "odd name"]);
    expect(databasesToRestore(native, manifest(), "postgres", "B").map((f) => f.file)).toEqual(["postgres.dump"]);
    expect(configError(() => databasesToRestore(native, manifest(), "nosuch", "B"))).toContain(
      '--database: is not in this backup (got "nosuch"). Fix: name one of: "fcm", "odd name", "postgres"',
    );
    expect(configError(() => databasesToRestore(native, manifest({ deployment: "other" }), undefined, "B"))).toContain(
      '--from: is a backup of the deployment "other", not of "rs" (got "B")',
    );
  });

  it("reads only a manifest ems-ha backup wrote: a missing directory, no manifest, another format or a file name with a path is bad input naming --from", () => {
    expect(configError(() => readBackupManifest(join(dir, "none")))).toMatch(/--from: is not a directory/);
    const empty = join(dir, "empty");
    mkdirSync(empty);
    expect(configError(() => readBackupManifest(empty))).toMatch(/--from: has no readable manifest\.json/);
    const other = join(dir, "other");
    mkdirSync(other);
    writeFileSync(join(other, "manifest.json"), JSON.stringify({ format: "something-else", files: [] }));
    expect(configError(() => readBackupManifest(other))).toMatch(/is not an ems-ha backup manifest \(format "something-else"\)/);
    const escape = join(dir, "escape");
    mkdirSync(escape);
    writeFileSync(join(escape, "manifest.json"), JSON.stringify(manifest({ files: [{ file: "../../etc/passwd", database: "x", bytes: 1, sha256: "e" }] })));
    expect(configError(() => readBackupManifest(escape))).toMatch(/names a file it cannot have written: "\.\.\/\.\.\/etc\/passwd"/);
    const good = join(dir, "good");
    mkdirSync(good);
    writeFileSync(join(good, "manifest.json"), JSON.stringify(manifest()));
    expect(readBackupManifest(good).files).toHaveLength(4);
  });
});

describe("the restore command", () => {
  // stand-ins: `docker exec -i NAME CMD...` runs CMD here; pg_restore prints its arguments, the password and what it read
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "docker"), '#!/bin/bash\n[ "$1 $2" = "exec -i" ] || exit 97\necho "container=$3" >&2\nshift 3\nexec "$@"\n');
  writeFileSync(
    join(bin, "pg_restore"),
    '#!/bin/bash\nprintf "%s\\n" "$(basename "$0")" "$@" "PGPASSWORD=${PGPASSWORD-unset}" "PGCONNECT_TIMEOUT=$PGCONNECT_TIMEOUT"\necho "--- stdin"\ncat\n',
  );
  for (const f of ["docker", "pg_restore"]) chmodSync(join(bin, f), 0o755);
  const run = (command: string, stdin: string, env: NodeJS.ProcessEnv = {}) =>
    spawnSync("bash", ["-c", command], { input: stdin, encoding: "utf8", timeout: 10_000, env: { PATH: `${bin}:/usr/bin:/bin`, ...env } });
  // what follows the password line reaches pg_restore unchanged, a line that looks like a command included
  const archive = "PGDMP\u0001\u0000binary\n$(touch /tmp/never)\n'quoted' \"too\"\n";

  it("Docker: pg_restore --create in the node's container, connected to template1 on 127.0.0.1, the password (quotes, a command substitution) and then the archive on standard input", () => {
    const r = run(restoreCommand(docker, { name: "pg-1", address: "10.0.0.1" }), `pw 'with' "quotes" $(x)\n${archive}`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("container=pg-1");
    const [head, stdin] = r.stdout.split("--- stdin\n");
    expect(head!.trim().split("\n")).toEqual([
      "pg_restore",
      "--create",
      "--exit-on-error",
      "--no-password",
      "-d",
      "dbname=template1",
      "-h",
      "127.0.0.1",
      "-p",
      "5433",
      "-U",
      "ems_admin",
      `PGPASSWORD=pw 'with' "quotes" $(x)`,
      "PGCONNECT_TIMEOUT=10",
    ]);
    expect(stdin).toBe(archive);
    // the container's own port wins over the deployment's, as the backup's does
    const own = run(restoreCommand(docker, { name: "pg-1", address: "10.0.0.1" }), `pw\n`, { POSTGRESQL_PORT_NUMBER: "6543" });
    expect(own.stdout).toContain("-p\n6543\n");
  });

  it("native: the node's address, the deployment's port and user; an empty password line leaves PGPASSWORD unset (~/.pgpass applies)", () => {
    // this machine's /usr/lib/postgresql would run a real pg_restore against 10.0.0.1: the same layout under the test's directory instead
    const pgBin = join(dir, "pg", "15", "bin");
    mkdirSync(pgBin, { recursive: true });
    writeFileSync(join(pgBin, "pg_dump"), "#!/bin/bash\nexit 99\n");
    writeFileSync(join(pgBin, "pg_restore"), readFileSync(join(bin, "pg_restore")));
    for (const f of ["pg_dump", "pg_restore"]) chmodSync(join(pgBin, f), 0o755);
    const cmd = restoreCommand(native, { name: "pg-1", address: "10.0.0.1" });
    expect(cmd).toContain(NATIVE_BIN_GLOB);
    const r = run(cmd.split(NATIVE_BIN_GLOB).join(join(dir, "pg", "*", "bin")), `\n${archive}`, { PATH: "/usr/bin:/bin" });
    expect(r.status, r.stderr).toBe(0);
    const [head, stdin] = r.stdout.split("--- stdin\n");
    expect(head!.trim().split("\n").slice(5)).toEqual([
      "dbname=template1",
      "-h",
      "10.0.0.1",
      "-p",
      "5433",
      "-U",
      "ems_admin",
      "PGPASSWORD=unset",
      "PGCONNECT_TIMEOUT=10",
    ]);
    expect(stdin).toBe(archive);
  });
});
