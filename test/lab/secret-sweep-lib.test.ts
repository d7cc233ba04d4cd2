/** The sweep's own instruments (lab/lib/secret-sweep.ts): they must find what is there. No lab needed. */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ArgvSampler, isInstallerDbPass, maskValues, scanFiles, secretsIn } from "../../lab/lib/secret-sweep";

const VALUES = { db_password: "Zq7-unit-db-4f1c", repmgr_password: "Zq7-unit-rm-9a2e" };
const dir = mkdtempSync(join(tmpdir(), "secret-sweep-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("scanFiles", () => {
  it("finds a value in any file below the root, names the secret and reports mode; counts files and bytes", () => {
    mkdirSync(join(dir, "a/b/c"), { recursive: true });
    writeFileSync(join(dir, "a/b/c/deep.bin"), Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(VALUES.db_password), Buffer.from([0])]), { mode: 0o640 });
    writeFileSync(join(dir, "a/clean.txt"), "nothing here");
    writeFileSync(join(dir, "a/skipme.txt"), VALUES.repmgr_password);
    symlinkSync("/etc/passwd", join(dir, "a/link"));
    const s = scanFiles(dir, VALUES, { skip: new Set([join(dir, "a/skipme.txt")]) });
    expect(s.files).toBe(2);
    expect(s.bytes).toBe(3 + VALUES.db_password.length + 1 + "nothing here".length);
    expect(s.hits).toEqual([{ path: join(dir, "a/b/c/deep.bin"), secrets: ["db_password"], mode: 0o640, uid: process.getuid!() }]);
  });

  it("only looks at recently changed files when asked", () => {
    const old = join(dir, "old.txt");
    writeFileSync(old, VALUES.repmgr_password);
    utimesSync(old, new Date(2000, 0, 1), new Date(2000, 0, 1));
    // ctime is now, so a file whose mtime was set back still counts (a copy with preserved times does too).
    expect(scanFiles(dir, VALUES, { modifiedSince: Date.now() - 60_000 }).hits.map((h) => h.path)).toContain(old);
    expect(scanFiles(dir, VALUES, { modifiedSince: Date.now() + 60_000 }).files).toBe(0);
  });
});

describe("secretsIn / maskValues", () => {
  it("names the secrets in a text and masks them by name", () => {
    const t = `x ${VALUES.repmgr_password} y`;
    expect(secretsIn(t, VALUES)).toEqual(["repmgr_password"]);
    expect(maskValues(t, VALUES)).toBe("x [repmgr_password] y");
    expect(secretsIn("clean", VALUES)).toEqual([]);
  });
});

describe("ArgvSampler", () => {
  it("sees a short-lived process with a secret in its arguments, once per process, with the value masked", async () => {
    const canary = `Zq7-unit-canary-${process.pid}`;
    // sleep with the canary as its own name: exec -a puts it in argv[0].
    const shown = spawn("bash", ["-c", `exec -a ${canary} sleep 1.5`]);
    const s = new ArgvSampler({ canary }, { intervalMs: 50, maxSamples: 100 }).start();
    await new Promise((r) => setTimeout(r, 600));
    s.stop();
    shown.kill();
    expect(s.samples).toBeGreaterThan(3);
    const hits = s.hits.filter((h) => h.pid === shown.pid);
    expect(hits.length).toBe(1);
    expect(hits[0]!.where).toBe("this machine");
    expect(hits[0]!.command).toContain("[canary]");
    expect(hits[0]!.command).not.toContain(canary);
  });

  it("classifies only the installer's --db_pass as the documented exception", () => {
    const installer = {
      pid: 1,
      where: "m",
      secret: "db_password",
      command: "/bin/bash ./forticlientems_7.4.4.2034.F.bin -- --db_host a --db_pass [db_password] --skip_db_install",
    };
    expect(isInstallerDbPass(installer, ["db_password"])).toBe(true);
    expect(isInstallerDbPass({ ...installer, command: "psql --db_pass [db_password]" }, ["db_password"])).toBe(false);
    expect(
      isInstallerDbPass({ ...installer, secret: "repmgr_password", command: installer.command.replace("db_password", "repmgr_password") }, ["db_password"]),
    ).toBe(false);
    expect(isInstallerDbPass({ ...installer, command: "/bin/bash ./forticlientems_7.4.4.2034.F.bin -- --db_user [db_password]" }, ["db_password"])).toBe(false);
  });
});
