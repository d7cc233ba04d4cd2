/**
 * The lab boots real Debian 12 hosts (systemd-nspawn) for the lab deployment, each reachable
 * over SSH with its own name, DB hosts running their own PostgreSQL 15 cluster, EMS hosts
 * running the installer stand-in's services as real systemd units; `up` over a crashed lab
 * cleans it first; `down` leaves no process, mount, bridge or state behind.
 *
 * Needs root, systemd-nspawn, debootstrap, iproute2, openssh-client (docs/lab.md). On a machine
 * without them it FAILS with a message naming what is missing; it is never skipped.
 * The first run builds the base image (~2 minutes, cached under /var/cache/ems-ha-lab).
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Deployment } from "../../src/config/schema";
import { STANDIN_INSTALLER, labDeployment } from "../../examples/lab";
import { run } from "../../lab/lib/exec";
import { isHostProcess, mountsUnder } from "../../lab/lib/host";
import { labDown, labExec, labStatus, labUp } from "../../lab/lib/lab";
import { bootFreshLab, chooseFreshLab } from "../../lab/lib/fresh-lab";
import type { LabState } from "../../lab/lib/state";
import { subnetUses } from "../../lab/lib/subnet";

// Away from the default 10.231.7 so a developer's running lab is never touched.
const CANDIDATES = Array.from({ length: 20 }, (_, i) => `10.231.${200 + i}`);

let deployment: Deployment;
let state: LabState | undefined;
let stateDir = "";
const log = (m: string): void => console.log(`[lab-test] ${m}`);

async function sh(host: string, command: string, input?: string): Promise<string> {
  const r = await labExec(state!, host, command, { timeoutMs: 120_000, input });
  if (r.code !== 0) throw new Error(`${host}: '${command}' exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

beforeAll(async () => {
  const options = { what: "the lab", candidates: CANDIDATES, deployment: (p: string) => labDeployment(p), log };
  const chosen = chooseFreshLab(options);
  stateDir = chosen.stateDir;
  const lab = await bootFreshLab(options, chosen);
  ({ state, deployment } = lab);
  log(`lab up in ${lab.upSeconds.toFixed(1)} s on ${state.subnet}`);
}, 900_000);

afterAll(async () => {
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 120_000);

describe("lab hosts", () => {
  it("boots one host per deployment node, each answering over SSH with its own name", async () => {
    const names = [...deployment.database.nodes.map((n) => n.name), ...deployment.emsNodes.map((n) => n.name)];
    expect(state!.hosts.map((h) => h.name)).toEqual(names);
    for (const h of state!.hosts) {
      expect(await sh(h.name, "hostname")).toBe(`${h.name}\n`);
      expect(await sh(h.name, "ip -4 -o addr show dev host0")).toContain(`${h.address}/24`);
      expect(await sh(h.name, ". /etc/os-release; echo $VERSION_CODENAME")).toBe("bookworm\n");
    }
    // Hosts know each other by name and reach each other.
    const peer = state!.hosts[1];
    expect(await sh(state!.hosts[0].name, `getent hosts ${peer.name}`)).toMatch(new RegExp(`^${peer.address.replace(/\./g, "\\.")}\\s+${peer.name}`));
    await sh(state!.hosts[0].name, `ping -c 1 -W 2 ${peer.name}`);
  }, 120_000);

  it("reports every host running and reachable in status", async () => {
    const status = await labStatus(state!);
    expect(status.map((s) => [s.name, s.running, s.sshHostname])).toEqual(state!.hosts.map((h) => [h.name, true, h.name]));
  }, 60_000);

  it("runs PostgreSQL 15 cluster 15/main on every DB host, each with its own system identifier; none on EMS hosts", async () => {
    const db = state!.hosts.filter((h) => h.role !== "ems");
    expect(db.map((h) => h.name)).toEqual(["dbnode-1", "dbnode-2", "witness-1"]);
    const ids = new Set<string>();
    for (const h of db) {
      expect(await sh(h.name, "systemctl is-active postgresql@15-main")).toBe("active\n");
      expect(await sh(h.name, "sudo -u postgres psql -XtAc 'show server_version_num'")).toMatch(/^15\d{4}\n$/);
      expect(await sh(h.name, "sudo -u postgres psql -XtAc 'show server_encoding'")).toBe("UTF8\n");
      ids.add((await sh(h.name, "sudo -u postgres psql -XtAc 'select system_identifier from pg_control_system()'")).trim());
      expect(await sh(h.name, "command -v repmgr")).toBe("/usr/bin/repmgr\n");
    }
    expect(ids.size).toBe(db.length);
    for (const h of state!.hosts.filter((x) => x.role === "ems")) expect(await sh(h.name, "pg_lsclusters -h")).toBe("");
  }, 120_000);

  it("runs the EMS installer stand-in against a DB host: real systemd services as the guide lists them", async () => {
    const pass = randomBytes(12).toString("hex");
    const db = state!.hosts.find((h) => h.name === "dbnode-1")!;
    await sh(
      db.name,
      [
        "echo \"listen_addresses = '*'\" > /etc/postgresql/15/main/conf.d/lab-test.conf",
        `echo 'host all postgres ${state!.subnet} scram-sha-256' >> /etc/postgresql/15/main/pg_hba.conf`,
        "systemctl restart postgresql@15-main",
        `sudo -u postgres psql -Xqc "alter user postgres password '${pass}'"`,
      ].join(" && "),
    );
    const bin = "/opt/ems-ha/installer/forticlientems_7.4.4.2034.F.bin";
    const script = readFileSync(STANDIN_INSTALLER, "utf8");
    const common = `--db_host "${db.address},dbnode-2" --db_port 5432 --db_user postgres --db_pass ${pass} --skip_db_install`;
    const listing = "systemctl --all --type=service --no-legend --plain | grep -E 'fcems|apache|redis|postgres'";
    for (const [host, extra] of [
      ["ems-1", ""],
      ["ems-2", " --skip_db_deploy"],
    ] as const) {
      await sh(host, `mkdir -p /opt/ems-ha/installer && cat > ${bin} && chmod 755 ${bin}`, script);
      await sh(host, `cd /opt/ems-ha/installer && ./forticlientems_7.4.4.2034.F.bin -- ${common}${extra} --allowed_hosts '*' --enable_remote_https`);
    }
    const primary = (await sh("ems-1", listing)).trim().split("\n");
    const fcems = primary.filter((l) => l.startsWith("fcems_"));
    expect(fcems).toHaveLength(27);
    expect(primary.some((l) => /^apache2\.service\s+loaded\s+active\s+running/.test(l))).toBe(true);
    expect(primary.some((l) => /^redis-server\.service\s+loaded\s+active\s+running/.test(l))).toBe(true);
    for (const l of fcems) expect(l).toMatch(/^fcems_\w+\.service\s+loaded\s+active\s+running/);
    const secondary = (await sh("ems-2", listing))
      .trim()
      .split("\n")
      .filter((l) => !l.startsWith("postgresql"));
    expect(secondary.map((l) => l.split(/\s+/).slice(0, 4).join(" "))).toEqual([
      "fcems_monitor.service loaded active running",
      "fcems_pgbouncer.service loaded active running",
      "fcems_wspgbouncer.service loaded active running",
      "redis-server.service loaded active running",
    ]);
    const rec = JSON.parse(await sh("ems-2", "cat /var/lib/ems-standin/install.json"));
    expect(rec).toMatchObject({ role: "secondary", db_pass: "********", db_host: [db.address, "dbnode-2"] });
    expect(await sh(db.name, "sudo -u postgres psql -XtAc 'select host from ems_standin_install' fcm")).toBe("ems-1\n");
  }, 180_000);

  it("up over a lab whose runner died cleans it first: old hosts stopped, new ones booted", async () => {
    const oldPids = state!.hosts.map((h) => h.pid!);
    state = await labUp(deployment, { log, stateDir });
    for (const pid of oldPids) expect(existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("systemd-nspawn")).toBe(false);
    for (const h of state.hosts) {
      expect(isHostProcess(h.pid, h)).toBe(true);
      expect(await sh(h.name, "hostname")).toBe(`${h.name}\n`);
    }
    // A fresh overlay: nothing of the earlier run survives.
    expect(await sh("ems-1", "test -e /var/lib/ems-standin/install.json && echo left || echo clean")).toBe("clean\n");
  }, 300_000);

  it("down stops every host, unmounts, deletes the bridge and the state", async () => {
    const s = state!;
    await labDown(stateDir, { log });
    for (const h of s.hosts) expect(isHostProcess(h.pid, h)).toBe(false);
    expect(run("ip", ["link", "show", "dev", s.bridge]).code).not.toBe(0);
    expect(mountsUnder(stateDir)).toEqual([]);
    expect(existsSync(stateDir)).toBe(false);
    expect(subnetUses(s.prefix)).toEqual([]);
    const strays = run("pgrep", ["-f", `systemd-nspawn.*${s.stateDir}`]);
    expect(strays.stdout.trim()).toBe("");
  }, 120_000);
});
