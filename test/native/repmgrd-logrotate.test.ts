/**
 * The rotation of repmgrd's log on native hosts: the logrotate configuration the setup script
 * installs (read by the machine's real logrotate), and how install_packages treats a missing
 * logrotate (fake dpkg-query and apt-get). The rotation itself, with the real repmgrd reopening its
 * file, is checked on lab hosts by test/lab/lab-e2e.test.ts.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { labDeployment } from "../../examples/lab";
import { parseDeployment } from "../../src/config/parse";
import { nativeLayout, nativeMembers } from "../../src/render/native/layout";
import { renderRepmgrdLogrotate, REPMGRD_LOG_MAX_SIZE, REPMGRD_LOG_ROTATIONS } from "../../src/render/native/repmgrd";
import { renderSetupScript } from "../../src/render/native/setup-script";
import { bashFunction } from "../helpers/bash-function";
import { tempDir } from "../helpers/tmp";

const LOGROTATE = "/usr/sbin/logrotate";

describe("repmgrd's log rotation (native)", () => {
  const conf = renderRepmgrdLogrotate();
  const l = nativeLayout();

  it("rotates repmgr.conf's log_file weekly or past 100M, keeps 8 compressed, and has repmgrd reopen it", () => {
    const body = conf.split("\n").map((x) => x.trim());
    expect(body).toContain(`${l.repmgrLogDir}/repmgr.log {`);
    expect(body).toEqual(
      expect.arrayContaining([
        "weekly",
        `maxsize ${REPMGRD_LOG_MAX_SIZE}`,
        `rotate ${REPMGRD_LOG_ROTATIONS}`,
        "compress",
        "missingok",
        "create 0640 postgres postgres",
      ]),
    );
    // the signal goes to repmgrd only (not to a child such as a running failover validation), and a stopped repmgrd is no error
    expect(conf).toMatch(/postrotate\n\s+systemctl kill --kill-whom=main --signal=HUP repmgrd\.service >\/dev\/null 2>&1 \|\| true\n\s+endscript/);
  });

  it("is read by the real logrotate without an error", () => {
    const p = spawnSync(LOGROTATE, ["--version"], { encoding: "utf8", timeout: 10_000 });
    if (p.error) throw new Error(`${LOGROTATE} is needed by this test and is not installed (apt-get install logrotate, or npm run setup)`);
    const dir = tempDir("ems-ha-logrotate-");
    writeFileSync(join(dir, "ems-ha-repmgrd"), conf);
    // -d: parse and show what would be done, touching nothing
    const r = spawnSync(LOGROTATE, ["-d", "-s", join(dir, "state"), join(dir, "ems-ha-repmgrd")], { encoding: "utf8", timeout: 10_000 });
    const out = `${r.stdout}${r.stderr}`;
    expect(r.status, out).toBe(0);
    expect(out).not.toMatch(/error/i);
    expect(out).toContain(`${l.repmgrLogDir}/repmgr.log`);
    expect(out).toMatch(/weekly/);
  });

  it("is installed by every node's setup script, beside the repmgrd unit", () => {
    const d = parseDeployment(labDeployment("10.235.90"));
    for (const m of nativeMembers(d)) {
      const script = renderSetupScript(d, m);
      const fn = bashFunction(script, "configure_repmgrd");
      expect(fn, m.name).toContain(l.repmgrdLogrotate);
      expect(fn, m.name).toContain(conf.trim().split("\n")[1]);
    }
  });

  describe("install_packages", () => {
    const d = parseDeployment(labDeployment("10.235.90"));
    const script = renderSetupScript(d, nativeMembers(d)[0]!);
    const lib = script.slice(script.indexOf("log() {"), script.indexOf("install_packages() {")) + bashFunction(script, "install_packages");

    /** Runs install_packages with `present` installed; returns what apt-get was asked and what was said. */
    function run(packages: string, present: string[]): { status: number | null; apt: string; out: string } {
      const fakes = [
        `dpkg-query() { local p=\${@: -1}; case " ${present.join(" ")} " in *" $p "*) printf 'install ok installed' ;; *) return 1 ;; esac; }`,
        `apt-get() { echo "apt-get $*" >>"$APT_LOG"; }`,
        "add_pgdg_repository() { :; }",
        'timeout() { shift; "$@"; }',
      ].join("\n");
      const dir = tempDir("ems-ha-pkgs-");
      const aptLog = join(dir, "apt");
      writeFileSync(aptLog, "");
      const r = spawnSync(
        "bash",
        ["-c", `set -uo pipefail; NODE_NAME=t; PG_VERSION=15; REPMGR_LOG_DIR=/var/log/repmgr; PACKAGES=${packages}\n${lib}\n${fakes}\ninstall_packages`],
        { encoding: "utf8", timeout: 20_000, env: { PATH: process.env.PATH, APT_LOG: aptLog } },
      );
      return { status: r.status, apt: readFileSync(aptLog, "utf8"), out: `${r.stdout}${r.stderr}` };
    }
    const ALL = ["postgresql-15", "postgresql-15-repmgr", "sudo"];

    it("installs a missing logrotate with the others (distribution, pgdg)", () => {
      for (const mode of ["distribution", "pgdg"]) {
        const r = run(mode, ALL);
        expect(r.status, r.out).toBe(0);
        expect(r.apt, mode).toMatch(/^apt-get install -y -q --no-install-recommends logrotate$/m);
      }
      const r = run("distribution", ["sudo"]);
      expect(r.apt).toMatch(/install -y -q --no-install-recommends postgresql-15 postgresql-15-repmgr logrotate$/m);
    });

    it("with preinstalled packages only warns about a missing logrotate; a missing PostgreSQL still stops it", () => {
      const r = run("preinstalled", ALL);
      expect(r.status, r.out).toBe(0);
      expect(r.apt).toBe("");
      expect(r.out).toMatch(/WARNING: logrotate is not installed: \/var\/log\/repmgr\/repmgr\.log will not be rotated/);
      const bad = run("preinstalled", ["sudo"]);
      expect(bad.status).not.toBe(0);
      expect(bad.out).toMatch(/packages missing: postgresql-15 postgresql-15-repmgr\./);
      expect(bad.apt).toBe("");
    });

    it("touches nothing when all are present", () => {
      const r = run("distribution", [...ALL, "logrotate"]);
      expect(r.status, r.out).toBe(0);
      expect(r.apt).toBe("");
      expect(r.out).toMatch(/packages present/);
    });
  });
});
