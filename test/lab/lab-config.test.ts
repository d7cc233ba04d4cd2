/**
 * The lab's pure parts and its refusals: the lab deployment, subnet checks, host planning,
 * preflight messages and the CLI's exit codes. No host is booted here (lab-hosts.test.ts does).
 */
import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDeployment } from "../../src/config/parse";
import { spawnAsync } from "../../src/spawn-async";
import lab, { STANDIN_INSTALLER, labDeployment } from "../../examples/lab";
import { labBridgeName, labKeyPath, labMachineName, labStateDir, REPO_ROOT } from "../../lab/lib/paths";
import { preflightProblems } from "../../lab/lib/preflight";
import { replaceKnownHost, writeKnownHosts } from "../../lab/lib/ssh";
import { usesIn } from "../../lab/lib/subnet";
import { labPrefixOf, plannedHosts } from "../../lab/lib/topology";

const TSX = join(REPO_ROOT, "node_modules/.bin/tsx");
const CLI = join(REPO_ROOT, "lab/cli.ts");

describe("examples/lab.ts", () => {
  it("is a valid native-single-region deployment: 2 data nodes, a witness, 2 EMS hosts on 10.231.7.0/24", () => {
    const d = parseDeployment(lab);
    expect(d.topology).toBe("native-single-region");
    expect(d.database.nodes.map((n) => [n.name, n.role, n.priority, n.address])).toEqual([
      ["dbnode-1", "data", 100, "10.231.7.11"],
      ["dbnode-2", "data", 100, "10.231.7.12"],
      ["witness-1", "witness", undefined, "10.231.7.13"],
    ]);
    expect(d.emsNodes.map((n) => [n.name, n.address])).toEqual([
      ["ems-1", "10.231.7.21"],
      ["ems-2", "10.231.7.22"],
    ]);
    for (const n of [...d.database.nodes, ...d.emsNodes]) expect(n.ssh).toEqual({ user: "root", port: 22, privateKeyPath: labKeyPath("10.231.7") });
  });

  it("points the installer at the stand-in with the file's real sha256", () => {
    const d = parseDeployment(lab);
    expect(d.installer.source).toEqual({
      kind: "file",
      path: STANDIN_INSTALLER,
      sha256: createHash("sha256").update(readFileSync(STANDIN_INSTALLER)).digest("hex"),
    });
  });

  it("builds the same deployment on another subnet, with that lab's key", () => {
    const d = parseDeployment(labDeployment("10.231.9"));
    expect(plannedHosts(d).map((h) => h.address)).toEqual(["10.231.9.11", "10.231.9.12", "10.231.9.13", "10.231.9.21", "10.231.9.22"]);
    expect(d.emsNodes[0].ssh.privateKeyPath).toBe(join(labStateDir("10.231.9"), "ssh/id_ed25519"));
    expect(() => labDeployment("10.231")).toThrow(/first three octets/);
    expect(() => labDeployment("10.231.256")).toThrow(/first three octets/);
  });
});

describe("lab naming", () => {
  it("keeps bridge names within 15 characters and machine names unique per lab", () => {
    expect(labBridgeName("10.231.7")).toBe("emslab-231-7");
    expect(labBridgeName("10.255.255").length).toBeLessThanOrEqual(15);
    expect(labMachineName("10.231.7", "dbnode-1")).not.toBe(labMachineName("10.231.8", "dbnode-1"));
  });
});

describe("host planning", () => {
  const d = parseDeployment(lab);
  it("gives every DB node and EMS node a host with its role", () => {
    expect(plannedHosts(d).map((h) => `${h.name}:${h.role}`)).toEqual(["dbnode-1:data", "dbnode-2:data", "witness-1:witness", "ems-1:ems", "ems-2:ems"]);
    expect(labPrefixOf(plannedHosts(d))).toBe("10.231.7");
  });
  it("rejects addresses outside one /24, reserved host numbers and names", () => {
    const hosts = plannedHosts(d);
    expect(() => labPrefixOf([...hosts, { name: "x", address: "10.231.8.5", role: "ems" }])).toThrow(
      /must share one \/24.*10\.231\.7\.0\/24, 10\.231\.8\.0\/24/,
    );
    expect(() => labPrefixOf([...hosts, { name: "x", address: "10.231.7.1", role: "ems" }])).toThrow(/x \(10\.231\.7\.1\).*the lab bridge/);
    expect(() => labPrefixOf([...hosts, { name: "x", address: "ems.example.com", role: "ems" }])).toThrow(/IPv4 addresses; x has 'ems\.example\.com'/);
    expect(() => labPrefixOf([...hosts, { name: "ems-1", address: "10.231.7.30", role: "ems" }])).toThrow(/ems-1 appears twice/);
  });
});

describe("known_hosts of a lab", () => {
  it("a reinstalled host's entry is replaced, the others kept in order", () => {
    const dir = mkdtempSync(join(tmpdir(), "ems-ha-kh-"));
    try {
      const f = join(dir, "known_hosts");
      writeKnownHosts(f, [
        { names: ["10.1.2.11", "dbnode-1"], publicKey: "ssh-ed25519 AAAAold1" },
        { names: ["10.1.2.111", "dbnode-11"], publicKey: "ssh-ed25519 AAAAkeep11" },
        { names: ["10.1.2.12", "dbnode-2"], publicKey: "ssh-ed25519 AAAAkeep2" },
      ]);
      replaceKnownHost(f, ["10.1.2.11", "dbnode-1"], "ssh-ed25519 AAAAnew1");
      expect(readFileSync(f, "utf8")).toBe(
        "10.1.2.111,dbnode-11 ssh-ed25519 AAAAkeep11\n10.1.2.12,dbnode-2 ssh-ed25519 AAAAkeep2\n10.1.2.11,dbnode-1 ssh-ed25519 AAAAnew1\n",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("subnet check", () => {
  const routes = [
    { dst: "default", dev: "eth0" },
    { dst: "192.0.2.0/24", dev: "eth0" },
    { dst: "10.0.0.0/8", dev: "vpn0" },
    { dst: "10.231.9.0/24", dev: "emslab-231-9" },
  ];
  const links = [
    { ifname: "eth0", addr_info: [{ local: "192.0.2.2", prefixlen: 24 }] },
    { ifname: "dummy0", addr_info: [{ local: "172.16.5.9", prefixlen: 32 }] },
  ];
  it("finds a wider route that covers the lab subnet, but not the default route", () => {
    expect(usesIn("10.231.7", routes, links).map((u) => u.what)).toEqual(["route 10.0.0.0/8 dev vpn0"]);
    expect(usesIn("172.31.1", routes, links)).toEqual([]);
  });
  it("finds a lone address inside the subnet", () => {
    expect(usesIn("172.16.5", routes, links).map((u) => u.what)).toEqual(["address 172.16.5.9/32 on dummy0"]);
  });
  it("ignores the lab's own bridge", () => {
    expect(usesIn("10.231.9", routes.slice(0, 2), links, "emslab-231-9")).toEqual([]);
    expect(usesIn("10.231.9", routes.slice(0, 2).concat(routes[3]), links, "emslab-231-9")).toEqual([]);
    expect(usesIn("10.231.9", routes.slice(0, 2).concat(routes[3]), links).map((u) => u.what)).toEqual(["route 10.231.9.0/24 dev emslab-231-9"]);
  });
});

describe("preflight", () => {
  it("names a missing tool and the Debian package that provides it", () => {
    if (process.getuid?.() !== 0) {
      expect(preflightProblems("/var/tmp")).toEqual([expect.stringMatching(/needs root/)]);
      return;
    }
    const problems = preflightProblems("/var/tmp", [{ tool: "ems-ha-no-such-tool", pkg: "ems-ha-fake-package" }]);
    expect(problems).toContain("ems-ha-no-such-tool not found on PATH: install the Debian package ems-ha-fake-package (apt-get install ems-ha-fake-package)");
  });

  it("the CLI refuses to run without root, naming the permission, exit 1", async () => {
    const scratch = mkdtempSync("/var/tmp/lab-nonroot-");
    chmodSync(scratch, 0o777);
    try {
      const r = await spawnAsync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", TSX, CLI, "up"], {
        timeoutMs: 60_000,
        env: { PATH: process.env.PATH, HOME: scratch, TMPDIR: scratch },
      });
      expect(r.error).toBeUndefined();
      expect(r.stderr).toMatch(/cannot boot lab hosts:\n\s+- the lab needs root .*CAP_SYS_ADMIN/);
      expect(r.status).toBe(1);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("lab CLI", () => {
  const cli = (...args: string[]) => spawnAsync(TSX, [CLI, ...args], { timeoutMs: 60_000 });
  it("deploy and drill need a lab that is up (exit 1), and reject bad options (exit 2)", async () => {
    for (const c of ["deploy", "drill"]) {
      const r = await cli(c, "--subnet", "10.231.99");
      expect(r.stderr).toMatch(/no lab is up: run `npm run lab -- up` first/);
      expect(r.status).toBe(1);
    }
    const f = await cli("deploy", "--subnet", "10.231.99", "--failover", "fast");
    expect(f.stderr).toMatch(/--failover must be tuned or guide/);
    expect(f.status).toBe(2);
    const s = await cli("drill", "--subnet", "10.231.99", "--stop", "gently");
    expect(s.stderr).toMatch(/--stop must be immediate or kill/);
    expect(s.status).toBe(2);
  }, 60_000);
  it("rejects an unknown command or flag with usage, exit 2", async () => {
    const a = await cli("boot");
    expect(a.stderr).toMatch(/unknown command 'boot'[\s\S]*usage: npm run lab/);
    expect(a.status).toBe(2);
    const b = await cli("up", "--subnet", "10.231");
    expect(b.stderr).toMatch(/'10\.231' must be the first three octets/);
    expect(b.status).toBe(2);
    const c = await cli("status", "--verbose");
    expect(c.stderr).toMatch(/unknown argument '--verbose'/);
    expect(c.status).toBe(2);
  }, 60_000);
});
