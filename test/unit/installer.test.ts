import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import example from "../../examples/single-region";
import { parseDeployment } from "../../src/config/parse";
import { expectedServices, missingServices, renderServiceCheck } from "../../src/render/ems-services";
import { installerArgs, installerCommandLine, renderEmsInstallScript } from "../../src/render/installer";
import { tempDir } from "../helpers/tmp";

const d = parseDeployment(example);

/** Runs the rendered service check with a stand-in `systemctl` that lists the given units. */
function runCheck(role: "primary" | "secondary", units: string[]) {
  const dir = tempDir("ems-ha-svc-");
  const listing = units.map((u) => `${u}.service loaded active running ${u}`).join("\n");
  writeFileSync(join(dir, "systemctl"), `#!/bin/sh\ncat <<'EOF'\n${listing}\nEOF\n`);
  chmodSync(join(dir, "systemctl"), 0o755);
  writeFileSync(join(dir, "check.sh"), renderServiceCheck(role));
  return spawnSync("bash", [join(dir, "check.sh")], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: "utf8", timeout: 20_000 });
}

describe("EMS installer command line", () => {
  it("passes the guide's flags, --skip_db_deploy only on secondaries", () => {
    const o = { dbHosts: ["10.0.0.1", "10.0.0.2"], dbPort: 5432, dbUser: "postgres", passwordExpr: '"$DB_PASS"' };
    expect(installerArgs({ ...o, primary: true })).toEqual([
      "--db_host",
      "10.0.0.1,10.0.0.2",
      "--db_port",
      "5432",
      "--db_user",
      "postgres",
      "--db_pass",
      '"$DB_PASS"',
      "--skip_db_install",
      "--allowed_hosts",
      "*",
      "--enable_remote_https",
    ]);
    expect(installerArgs({ ...o, primary: false })).toContain("--skip_db_deploy");
    expect(installerCommandLine("7.4.4.2034", { ...o, primary: false })).toBe(
      `./forticlientems_7.4.4.2034.F.bin -- --db_host 10.0.0.1,10.0.0.2 --db_port 5432 --db_user postgres --db_pass "$DB_PASS" --skip_db_install --skip_db_deploy --allowed_hosts '*' --enable_remote_https`,
    );
  });

  it("renders an idempotent install script that never holds the password", () => {
    const s = renderEmsInstallScript(d, d.emsNodes[0]!, { primary: true, dbHosts: ["192.168.1.21", "192.168.1.22"] });
    expect(s).toContain("set -euo pipefail");
    expect(s).toContain("umask 022");
    expect(s).toContain("cd /opt/ems-ha/installer");
    expect(s).toMatch(/already installed with these settings and DB password: installer not run again/);
    expect(s).toContain('DB_PASS="$(cat /var/lib/ems-ha/secrets/db_password)"');
    expect(s).toContain("trap 'rm -f /var/lib/ems-ha/secrets/db_password' EXIT");
    expect(s).not.toContain("--skip_db_deploy");
    expect(s).not.toMatch(/set -x/);
    const bash = spawnSync("bash", ["-n"], { input: s, encoding: "utf8", timeout: 10_000 });
    expect(bash.status, bash.stderr).toBe(0);
  });

  it("adds machine-id reset for cloned VMs and the RHEL 9 prerequisites per cloud", () => {
    const node = { ...d.emsNodes[1]!, clonedVm: true, os: "rhel9-aws" as const };
    const s = renderEmsInstallScript(d, node, { primary: false, dbHosts: ["a"] });
    expect(s).toContain("systemd-machine-id-setup");
    expect(s).toContain("codeready-builder-for-rhel-9-rhui-rpms");
    expect(s).toContain("--skip_db_deploy");
    const azure = renderEmsInstallScript(d, { ...node, os: "rhel9-azure" }, { primary: false, dbHosts: ["a"] });
    expect(azure).toContain("subscription-manager repos --enable codeready-builder-for-rhel-9-x86_64-eus-rhui-rpms");
  });

  it("downloads and verifies the installer for a URL source", () => {
    const url = parseDeployment({
      ...example,
      installer: { version: "7.4.4.2034", source: { kind: "url", url: "https://files.example.com/ems.bin", sha256: "a".repeat(64) } },
    });
    const s = renderEmsInstallScript(url, url.emsNodes[0]!, { primary: true, dbHosts: ["a"] });
    expect(s).toContain("curl -fsSL --retry 3");
    expect(s).toContain(`echo "${"a".repeat(64)}  forticlientems_7.4.4.2034.F.bin" | sha256sum -c --status`);
  });
});

describe("EMS service check", () => {
  const primaryUnits = expectedServices("primary").map((alts) => alts[0]!);

  it("passes when every service of the role is present (any case, guide spellings)", () => {
    const r = runCheck(
      "primary",
      primaryUnits.map((u) => (u === "fcems_pgbouncer" ? "fcems_pgBouncer" : u)),
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/all \d+ services expected on an EMS primary are present/);
  });

  it("fails naming the missing services", () => {
    const r = runCheck("secondary", ["fcems_monitor", "redis-server"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("missing services: fcems_pgbouncer fcems_wspgbouncer");
  });

  it("agrees with the TypeScript check used by `ems-ha status`", () => {
    expect(missingServices("secondary", ["fcems_monitor.service", "FCEMS_PGBOUNCER", "redis-server"])).toEqual(["fcems_wspgbouncer"]);
    expect(missingServices("primary", primaryUnits)).toEqual([]);
  });
});
