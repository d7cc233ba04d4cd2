import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import example from "../../examples/single-region";
import { ConfigError } from "../../src/config/errors";
import { failoverTiming, repmgrNodeId } from "../../src/config/derive";
import { loadDeployment, resolveConfigPath } from "../../src/config/load";
import { parseDeployment, safeParseDeployment } from "../../src/config/parse";
import { tempDir } from "../helpers/tmp";

function issuesOf(input: unknown) {
  const r = safeParseDeployment(input);
  if (r.ok) throw new Error("expected the deployment to be rejected");
  return r.issues;
}

describe("deployment config", () => {
  it("accepts the single-region example and fills the guide's defaults", () => {
    const d = parseDeployment(example);
    expect(d.database.maxConnections).toBe(1092);
    expect(d.ems.keepaliveSeconds).toBe(10);
    expect(d.emsNodes[0]!.ssh.port).toBe(22);
    expect(d.database.nodes.map((n) => repmgrNodeId(n))).toEqual([1001, 1002, 2001]);
  });

  it("reports every schema error at once with path, value and fix", () => {
    const issues = issuesOf({
      emsNodes: [{ name: "EMS 1", address: "10.0.0.1", os: "windows" }],
      database: { nodes: [{ name: "pg-1", address: "10.0.0.2", role: "primary", storage: "nvme" }] },
      installer: { version: "7.4", source: { kind: "file", path: "x", sha256: "abc" } },
      ems: { fqdn: "ems.example.com", vip: "172.16.1.50" },
      extra: true,
    });
    const paths = issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "emsNodes[0].name",
        "emsNodes[0].os",
        "database.nodes[0].role",
        "database.nodes[0].storage",
        "installer.version",
        "installer.source.sha256",
        "(root)",
      ]),
    );
    const os = issues.find((i) => i.path === "emsNodes[0].os")!;
    expect(os.value).toBe("windows");
    expect(os.fix).toContain("ubuntu, rhel9-azure, rhel9-aws");
    expect(issues.find((i) => i.path === "(root)")!.fix).toContain("extra");
  });

  it("rejects cross-field mistakes: the guide's geo witness copy error, /tmp, keepalive, VIP", () => {
    const bad = {
      ...example,
      database: {
        ...example.database,
        nodes: [...example.database.nodes, { name: "pgw-1", address: "192.168.1.23", role: "witness" as const }],
      },
      installer: { ...example.installer, installDir: "/tmp/ems" },
      ems: { fqdn: "ha.example.com", vip: "ems.example.com", keepaliveSeconds: 60 },
    };
    const issues = issuesOf(bad);
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i]));
    expect(byPath["database.nodes[3].name"]!.message).toMatch(/duplicate node name/);
    expect(byPath["database.nodes[3].address"]!.message).toMatch(/duplicate address/);
    expect(byPath["database.nodes[3]"]!.message).toMatch(/repmgr node id 2001/);
    expect(byPath["installer.installDir"]!.value).toBe("/tmp/ems");
    expect(byPath["ems.keepaliveSeconds"]!.fix).toMatch(/5 to 30/);
    expect(byPath["ems.vip"]!.message).toMatch(/IPv4/);
  });

  it("requires Bitnami node names ending in -<number> and IP addresses with Docker", () => {
    const bad = {
      ...example,
      database: { ...example.database, nodes: [{ name: "primary", address: "db1.example.com", role: "data" as const }] },
    };
    const issues = issuesOf(bad);
    expect(issues.map((i) => i.path)).toEqual(["database.nodes[0].name", "database.nodes[0].address"]);
    expect(issues[0]!.fix).toContain("pg-1");
  });

  it("rejects a cluster where nobody can be promoted and a witness with a priority", () => {
    const bad = {
      ...example,
      database: {
        ...example.database,
        nodes: [
          { name: "pg-1", address: "10.0.0.1", role: "data" as const, priority: 0 },
          { name: "pgw-1", address: "10.0.0.3", role: "witness" as const, priority: 50 },
        ],
      },
    };
    const messages = issuesOf(bad)
      .map((i) => i.message)
      .join("\n");
    expect(messages).toMatch(/no data node can be promoted/);
    expect(messages).toMatch(/a witness never holds data/);
  });

  it("ConfigError lists every issue in its message", () => {
    try {
      parseDeployment({ ...example, ems: { fqdn: "x.example.com", vip: "300.1.1.1", keepaliveSeconds: 4 } }, "my.ts");
      throw new Error("not rejected");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const msg = (e as Error).message;
      expect(msg).toMatch(/^2 errors in the deployment \(my.ts\):/);
      expect(msg).toContain('ems.vip: must be an IPv4 address (got "300.1.1.1")');
      expect(msg).toContain("ems.keepaliveSeconds");
    }
  });

  it("takes failover timing from the topology unless set (Docker image 3 x 5 s, native 6 x 10 s, tuned 3 x 2 s)", () => {
    const docker = failoverTiming(parseDeployment(example));
    expect([docker.reconnectAttempts, docker.reconnectIntervalSeconds, docker.explicit.size]).toEqual([3, 5, 0]);
    const native = failoverTiming(parseDeployment({ ...example, topology: "native-single-region" }));
    expect([native.reconnectAttempts, native.reconnectIntervalSeconds]).toEqual([6, 10]);
    const tuned = failoverTiming(parseDeployment({ ...example, database: { ...example.database, failover: { profile: "tuned" } } }));
    expect([tuned.reconnectAttempts, tuned.reconnectIntervalSeconds]).toEqual([3, 2]);
  });

  it("loads JSON and finds the config from EMS_HA_CONFIG or ./ems-ha.config.*", () => {
    const dir = tempDir("ems-ha-cfg-");
    const file = join(dir, "ems-ha.config.json");
    writeFileSync(file, JSON.stringify(example));
    expect(resolveConfigPath(undefined, dir, {})).toBe(file);
    expect(resolveConfigPath(undefined, "/", { EMS_HA_CONFIG: file })).toBe(file);
    expect(loadDeployment(file).database.nodes).toHaveLength(3);
    writeFileSync(join(dir, "broken.json"), "{ nope");
    expect(() => loadDeployment(join(dir, "broken.json"))).toThrow(/not valid JSON/);
    expect(() => loadDeployment(join(dir, "missing.json"))).toThrow(/does not exist/);
  });
});
