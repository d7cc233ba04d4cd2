/**
 * The pure parts of `ems-ha backup` (src/ops/backup.ts): which node, the directory's time, archive
 * names, and the dump command's quoting, run through a real bash with stand-in `docker` and
 * `pg_dump` programs that print what they were given. The dumps themselves run against real
 * PostgreSQL in test/ops/backup-passwords.test.ts (native) and test/lab/docker-single-region.test.ts
 * (a real Docker engine).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/errors";
import { parseDeployment } from "../../src/config/parse";
import { smallDeploymentInput } from "./lib/small-deployment";
import { archiveName, backupNode, dumpCommand, NATIVE_BIN_GLOB } from "../../src/ops/backup";
import { backupStamp } from "../../src/ops/backup-dir";

const input = (topology: string) => smallDeploymentInput(topology, "bk");
const native = parseDeployment(input("native-single-region"));

const dir = mkdtempSync(join(tmpdir(), "ems-ha-backup-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("backup node and names", () => {
  it("takes a data node; a witness or an unknown name is bad input naming --node and the data nodes", () => {
    expect(backupNode(native, "pg-2").name).toBe("pg-2");
    for (const [name, why] of [
      ["pgw-1", "a witness holds no EMS data"],
      ["pg-9", "no DB node has this name"],
    ] as const) {
      let err: unknown;
      try {
        backupNode(native, name);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toContain(`--node: ${why} (got "${name}"). Fix: name a data node: pg-1, pg-2`);
    }
  });

  it("names the directory by the UTC second, and an archive by its database unless the name is not a plain word", () => {
    expect(backupStamp(new Date("2026-11-28T09:05:07.123Z"))).toBe("20261128T090507Z");
    expect(archiveName("fcm")).toBe("fcm.dump");
    expect(archiveName("fcm_2.old")).toBe("fcm_2.old.dump");
    // globals.sql is taken, and names with a slash, a dot first, spaces or quotes become a hash
    for (const odd of ["globals", "../x", ".hidden", "a b", `it's`, "x".repeat(64)]) expect(archiveName(odd)).toMatch(/^db-[0-9a-f]{16}\.dump$/);
    expect(archiveName("a b")).not.toBe(archiveName("a  b"));
  });
});

describe("the dump command", () => {
  // stand-ins: `docker exec -i NAME CMD...` runs CMD here; pg_dump and pg_dumpall print their arguments and the password
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "docker"), '#!/bin/bash\n[ "$1 $2" = "exec -i" ] || exit 97\necho "container=$3" >&2\nshift 3\nexec "$@"\n');
  const show = '#!/bin/bash\nprintf "%s\\n" "$(basename "$0")" "$@" "PGPASSWORD=${PGPASSWORD-unset}" "PGCONNECT_TIMEOUT=$PGCONNECT_TIMEOUT"\n';
  writeFileSync(join(bin, "pg_dump"), show);
  writeFileSync(join(bin, "pg_dumpall"), show);
  for (const f of ["docker", "pg_dump", "pg_dumpall"]) chmodSync(join(bin, f), 0o755);
  const run = (command: string, stdin: string, env: NodeJS.ProcessEnv = {}) =>
    spawnSync("bash", ["-c", command], { input: stdin, encoding: "utf8", timeout: 10_000, env: { PATH: `${bin}:/usr/bin:/bin`, ...env } });

  // a quote, a backslash, command substitutions, and "=" (which pg_dump would read as connection parameters)
  const hostile = `fcm'; host=evil \\ touch ${join(dir, "pwned")}; echo "$(id)" \`id\``;
  // libpq's quoting of a conninfo value: in single quotes, with \ and ' escaped by a backslash
  const asConninfo = `dbname='${hostile.split("\\").join("\\\\").split("'").join("\\'")}'`;
  const docker = parseDeployment(input("single-region"));

  it("Docker: runs in the node's container, on 127.0.0.1 and the container's port, every value arriving as one word", () => {
    const r = run(dumpCommand(docker, docker.database.nodes[0]!, hostile), "pa ss'$(id)\n", { POSTGRESQL_PORT_NUMBER: "6432" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("container=pg-1");
    expect(r.stdout.split("\n")).toEqual([
      "pg_dump",
      "--format=custom",
      "--no-password",
      "-d",
      asConninfo,
      "-h",
      "127.0.0.1",
      "-p",
      "6432",
      "-U",
      "ems_admin",
      "PGPASSWORD=pa ss'$(id)",
      "PGCONNECT_TIMEOUT=10",
      "",
    ]);
    expect(existsSync(join(dir, "pwned"))).toBe(false);
  });

  it("Docker without the image's port variable: database.port", () => {
    const r = run(dumpCommand(docker, docker.database.nodes[0]!, "fcm"), "pw\n");
    expect(r.stdout).toMatch(/\n-p\n5433\n/);
  });

  it("the globals: pg_dumpall without password hashes; an empty password line leaves PGPASSWORD unset (libpq's ~/.pgpass applies)", () => {
    const r = run(dumpCommand(docker, docker.database.nodes[1]!, undefined), "\n");
    expect(r.stdout.split("\n").slice(0, 6)).toEqual(["pg_dumpall", "--globals-only", "--no-role-passwords", "-d", "dbname=postgres", "-h"]);
    expect(r.stdout).toContain("PGPASSWORD=unset");
  });

  it("native: the newest PostgreSQL's pg_dump, on the node's own address and database.port, the password from standard input only", () => {
    // this machine's /usr/lib/postgresql would run a real pg_dump against 10.0.0.2: the same layout under the test's directory
    // instead, with versions 9, 10 and 15 (a numeric order, not the text order that would pick 9)
    for (const v of ["9", "10", "15"]) {
      mkdirSync(join(dir, "pg", v, "bin"), { recursive: true });
      writeFileSync(join(dir, "pg", v, "bin", "pg_dump"), v === "15" ? show : `#!/bin/bash\necho "pg_dump ${v}"\n`);
      chmodSync(join(dir, "pg", v, "bin", "pg_dump"), 0o755);
    }
    const cmd = dumpCommand(native, native.database.nodes[1]!, hostile);
    expect(cmd).toContain(NATIVE_BIN_GLOB);
    expect(cmd).not.toContain("pa ss");
    const r = run(cmd.split(NATIVE_BIN_GLOB).join(join(dir, "pg", "*", "bin")), "pa ss\n");
    expect(r.status, r.stderr).toBe(0);
    const args = r.stdout.split("\n");
    expect(args[0]).toBe("pg_dump");
    expect(args.slice(1, 11)).toEqual(["--format=custom", "--no-password", "-d", asConninfo, "-h", "10.0.0.2", "-p", "5433", "-U", "ems_admin"]);
    expect(args).toContain("PGPASSWORD=pa ss");
    expect(existsSync(join(dir, "pwned"))).toBe(false);
  });
});
