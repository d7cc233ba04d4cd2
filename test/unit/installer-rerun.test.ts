/**
 * The EMS install script, run for real in bash, when its step runs again: the installer runs only
 * when what it is given changed (settings or DB password) or the last install did not finish. The
 * script's fixed paths (state, installer directory, login.defs) are moved into a temporary directory; the installer is a fake that records
 * its command line, and `systemctl` a fake that lists the services an EMS primary has.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import example from "../../examples/single-region";
import { parseDeployment } from "../../src/config/parse";
import type { Deployment } from "../../src/config/schema";
import { expectedServices } from "../../src/render/ems-services";
import {
  EMS_STATE_DIR,
  INSTALLED_VERSION_FILE,
  INSTALL_PASSWORD_DIGEST_FILE,
  INSTALL_SETTINGS_FILE,
  installerFileName,
  renderEmsInstallScript,
} from "../../src/render/installer";

const root = mkdtempSync(join(tmpdir(), "ems-ha-install-rerun-"));
// The deployment names the guide's kind of directory (the schema refuses one under /tmp); the
// script's text is pointed at the temporary one.
const INSTALL_DIR = "/opt/ems-ha/installer";
const stateDir = join(root, "state");
const installDir = join(root, "installer");
const bin = join(root, "bin");
const runsLog = join(root, "installer-runs.log");
const at = (path: string) => path.replace(EMS_STATE_DIR, stateDir);

// The fake installer: one line per run (its arguments), and the exit code the test asks for.
const FAKE_INSTALLER = `#!/bin/bash\necho "$*" >> ${runsLog}\nexit "\${FAKE_INSTALLER_EXIT:-0}"\n`;

let d: Deployment;

beforeAll(() => {
  mkdirSync(installDir, { recursive: true });
  mkdirSync(bin, { recursive: true });
  const installer = join(installDir, installerFileName("7.4.4.2034"));
  writeFileSync(installer, FAKE_INSTALLER, { mode: 0o755 });
  const sha256 = createHash("sha256").update(FAKE_INSTALLER).digest("hex");
  d = parseDeployment({ ...example, installer: { version: "7.4.4.2034", source: { kind: "file", path: installer, sha256 }, installDir: INSTALL_DIR } });
  const units = expectedServices("primary")
    .map((alts) => `${alts[0]}.service loaded active running ${alts[0]}`)
    .join("\n");
  writeFileSync(join(bin, "systemctl"), `#!/bin/sh\ncat <<'EOF'\n${units}\nEOF\n`, { mode: 0o755 });
  chmodSync(join(bin, "systemctl"), 0o755);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Renders the primary's script for these DB hosts and runs it with this password (bounded). */
function install(password: string, opts: { dbHosts?: string[]; deployment?: Deployment; installerExit?: number } = {}) {
  const script = renderEmsInstallScript(opts.deployment ?? d, (opts.deployment ?? d).emsNodes[0]!, {
    primary: true,
    dbHosts: opts.dbHosts ?? ["10.0.0.1", "10.0.0.2"],
  })
    .split(EMS_STATE_DIR)
    .join(stateDir)
    .split(INSTALL_DIR)
    .join(installDir)
    .split("/etc/login.defs")
    .join(join(root, "login.defs"));
  mkdirSync(join(stateDir, "secrets"), { recursive: true });
  writeFileSync(join(stateDir, "secrets", "db_password"), password, { mode: 0o600 });
  writeFileSync(join(root, "install.sh"), script);
  const r = spawnSync("bash", [join(root, "install.sh")], {
    env: { PATH: `${bin}:/usr/bin:/bin`, FAKE_INSTALLER_EXIT: String(opts.installerExit ?? 0) },
    encoding: "utf8",
    timeout: 20_000,
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

const runs = (): string[] => (existsSync(runsLog) ? readFileSync(runsLog, "utf8").trim().split("\n") : []);

describe("the EMS install step run again", () => {
  it("a first install runs the installer and records what it was given, the password only as a salted digest", () => {
    const r = install("first-Pw1");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/running the installer \(no record of a finished install\)/);
    expect(runs()).toHaveLength(1);
    expect(runs()[0]).toMatch(/^-- --db_host 10\.0\.0\.1,10\.0\.0\.2 --db_port 5432 --db_user postgres --db_pass first-Pw1 --skip_db_install/);
    expect(readFileSync(at(INSTALL_SETTINGS_FILE), "utf8")).toBe(
      `version=7.4.4.2034\ninstaller_sha256=${d.installer.source.sha256}\nrole=primary\ndb_hosts=10.0.0.1,10.0.0.2\ndb_port=5432\ndb_user=postgres\n`,
    );
    const digest = readFileSync(at(INSTALL_PASSWORD_DIGEST_FILE), "utf8");
    expect(digest).toMatch(/^[0-9a-f]{64}\n$/);
    // salted: not the plain sha256 of the password
    expect(digest.trim()).not.toBe(createHash("sha256").update("first-Pw1").digest("hex"));
    expect(statSync(at(INSTALL_PASSWORD_DIGEST_FILE)).mode & 0o077).toBe(0);
    expect(readFileSync(at(INSTALLED_VERSION_FILE), "utf8")).toBe("7.4.4.2034\n");
    // the password file is gone, and no record holds the password
    expect(existsSync(join(stateDir, "secrets", "db_password"))).toBe(false);
    for (const f of [INSTALL_SETTINGS_FILE, INSTALL_PASSWORD_DIGEST_FILE, INSTALLED_VERSION_FILE])
      expect(readFileSync(at(f), "utf8")).not.toContain("first-Pw1");
  });

  it("the same settings and password: the installer is not run again, the services are still checked", () => {
    const r = install("first-Pw1");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/already installed with these settings and DB password: installer not run again/);
    expect(r.out).toMatch(/all 29 services expected on an EMS primary are present/);
    expect(runs()).toHaveLength(1);
  });

  it("a rotated DB password runs the installer with it", () => {
    const r = install("rotated-Pw2");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/running the installer \(changed since the last install: the DB password\)/);
    expect(runs()).toHaveLength(2);
    expect(runs()[1]).toContain("--db_pass rotated-Pw2");
    expect(install("rotated-Pw2").out).toMatch(/installer not run again/);
    expect(runs()).toHaveLength(2);
  });

  it("a new DB host list (a data node added or moved) runs the installer with it", () => {
    const r = install("rotated-Pw2", { dbHosts: ["10.0.0.1", "10.0.0.2", "10.0.0.3"] });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/running the installer \(changed since the last install: db_hosts\)/);
    expect(runs()).toHaveLength(3);
    expect(runs()[2]).toContain("--db_host 10.0.0.1,10.0.0.2,10.0.0.3");
  });

  it("an installer that failed runs again on the next try, even with the same settings", () => {
    const port = parseDeployment({ ...d, database: { ...d.database, port: 5433 } });
    const failed = install("rotated-Pw2", { deployment: port, dbHosts: ["10.0.0.1", "10.0.0.2", "10.0.0.3"], installerExit: 6 });
    expect(failed.code).not.toBe(0);
    expect(failed.out).toMatch(/changed since the last install: db_port/);
    expect(existsSync(at(INSTALL_SETTINGS_FILE))).toBe(false);
    expect(runs()).toHaveLength(4);
    const again = install("rotated-Pw2", { deployment: port, dbHosts: ["10.0.0.1", "10.0.0.2", "10.0.0.3"] });
    expect(again.code, again.out).toBe(0);
    expect(again.out).toMatch(/running the installer \(no record of a finished install\)/);
    expect(runs()).toHaveLength(5);
    expect(runs()[4]).toContain("--db_port 5433");
  });

  it("a host installed by an earlier ems-ha (only the version file): the installer runs, once", () => {
    rmSync(at(INSTALL_SETTINGS_FILE));
    rmSync(at(INSTALL_PASSWORD_DIGEST_FILE));
    const r = install("rotated-Pw2");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/running the installer \(no record of a finished install\)/);
    expect(runs()).toHaveLength(6);
    expect(install("rotated-Pw2").out).toMatch(/installer not run again/);
    expect(runs()).toHaveLength(6);
  });
});
