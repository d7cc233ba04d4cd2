import { describe, expect, it, vi } from "vitest";
import { ALL_RULES, formatFinding, openFindings, runRules, synthFindings, UNKNOWN_ACK_ID, WARNING_RULES } from "../../src/analysis/rules";
import { CONFIG_CHECKS } from "../../src/config/semantics";
import { ConfigError } from "../../src/config/errors";
import singleExample from "../../examples/single-region";
import { clone, geoInput, parsed, schemaOnly, singleInput } from "./fixtures";

const ids = (d: Parameters<typeof runRules>[0]) => runRules(d).map((f) => f.ruleId);

describe("rule catalogue", () => {
  it("wraps every semantic config check as an error rule with a unique id", () => {
    // Every config check, plus the one error rule that is not a config check (ssh.strictHostKeys).
    const errorRules = ALL_RULES.filter((r) => r.level === "error" && r.id !== "ssh-host-key-required");
    expect(errorRules).toHaveLength(CONFIG_CHECKS.length);
    const all = ALL_RULES.map((r) => r.id);
    expect(new Set(all).size).toBe(all.length);
    expect(WARNING_RULES.every((r) => r.level === "warning")).toBe(true);
  });

  it("finds nothing open in the examples once their checksums are real", () => {
    expect(openFindings(runRules(parsed(singleInput())))).toEqual([]);
    expect(openFindings(runRules(parsed(geoInput())))).toEqual([]);
  });

  it("warns about each placeholder checksum (the examples' zeros)", () => {
    const f = openFindings(runRules(parsed(clone(singleExample))));
    expect(f.map((x) => x.ruleId)).toEqual(["placeholder-checksum", "placeholder-checksum"]);
    expect(f.map((x) => x.level)).toEqual(["warning", "warning"]);
    expect(f[0]!.message).toContain("installer.source.sha256");
    expect(f[1]!.message).toContain("database.image.source.sha256");
  });

  it("keeps each rule's id and summary with its check", () => {
    for (const r of ALL_RULES) {
      expect(r.id).toMatch(/^[a-z0-9-]+$/);
      expect(r.summary.length).toBeGreaterThan(10);
    }
    expect(CONFIG_CHECKS.map((c) => c.id)).toEqual(ALL_RULES.filter((r) => r.level === "error" && r.id !== "ssh-host-key-required").map((r) => r.id));
  });
});

describe("error rules (reused config checks)", () => {
  it("duplicate names, addresses and node ids name both nodes", () => {
    const g = geoInput();
    g.database.nodes[4]!.name = "pgw-1"; // the guide's geo step 5.g
    g.database.nodes[1]!.address = g.database.nodes[0]!.address;
    const f = runRules(schemaOnly(g));
    const names = f.find((x) => x.ruleId === "unique-names")!;
    expect(names.level).toBe("error");
    expect(names.nodes).toEqual(["pgw-1"]);
    expect(names.fix).toContain("pgw-2");
    expect(f.find((x) => x.ruleId === "unique-addresses")!.nodes.sort()).toEqual(["pg-1", "pg-2"]);
    expect(f.find((x) => x.ruleId === "unique-node-ids")!.message).toContain("2001");
  });

  it("no promotable data node, keepalive, /tmp, EMS real servers and Bitnami names", () => {
    const s = singleInput();
    s.database.nodes[0]!.priority = 0;
    s.database.nodes[1]!.priority = 0;
    s.ems.keepaliveSeconds = 40;
    s.installer.installDir = "/tmp/ems";
    s.emsNodes[1]!.address = "ems2.example.com";
    s.database.nodes[2]!.name = "witness";
    const found = ids(schemaOnly(s));
    for (const id of ["promotable-data-node", "keepalive-range", "installer-not-in-tmp", "ems-real-servers-are-ips", "bitnami-node-names"])
      expect(found).toContain(id);
    expect(runRules(schemaOnly(s)).find((f) => f.ruleId === "ems-real-servers-are-ips")!.nodes).toEqual(["ems-2"]);
    const bitnami = runRules(schemaOnly(s)).find((f) => f.ruleId === "bitnami-node-names")!;
    expect(bitnami.nodes).toEqual(["witness"]);
  });

  it("the repmgr configuration directory of the Docker data nodes must not be conf.d or nested with it", () => {
    for (const [conf, rep] of [
      ["/opt/ems-ha/conf.d", "/opt/ems-ha/conf.d/"],
      ["/opt/ems-ha/conf.d", "/opt/ems-ha/conf.d/repmgr"],
      ["/opt/ems-ha/x/conf.d", "/opt/ems-ha/x"],
    ]) {
      const s = singleInput();
      s.database.confDir = conf;
      s.database.repmgrConfDir = rep;
      const f = runRules(schemaOnly(s)).filter((x) => x.ruleId === "repmgr-conf-dir-apart");
      expect(f, `${conf} / ${rep}`).toHaveLength(1);
      expect(f[0]!.message).toContain("database.repmgrConfDir");
      expect(JSON.stringify(f[0])).toContain("/opt/ems-ha/repmgr-conf");
    }
    const ok = singleInput();
    ok.database.confDir = "/opt/ems-ha/conf.d";
    ok.database.repmgrConfDir = "/opt/ems-ha/conf.dx";
    expect(ids(schemaOnly(ok))).not.toContain("repmgr-conf-dir-apart");
  });

  it("errors cannot be acknowledged, and saying so is reported", () => {
    const s = singleInput();
    s.ems.keepaliveSeconds = 2;
    s.acknowledgements = [{ rule: "keepalive-range", reason: "we really want two seconds" }];
    const f = runRules(schemaOnly(s));
    expect(openFindings(f, "error").map((x) => x.ruleId)).toEqual(["keepalive-range"]);
    expect(f.find((x) => x.ruleId === UNKNOWN_ACK_ID)!.message).toContain("errors cannot be acknowledged");
  });
});

describe("warning rules", () => {
  it("even number of voting nodes and a size other than 3/5/9", () => {
    const s = singleInput();
    s.database.nodes = s.database.nodes.filter((n) => n.role === "data");
    const f = runRules(parsed(s));
    expect(f.find((x) => x.ruleId === "even-voting-nodes")!.nodes).toEqual(["pg-1", "pg-2"]);
    expect(f.find((x) => x.ruleId === "recommended-cluster-size")!.message).toContain("2 nodes (2 data + 0 witness)");
  });

  it("a single DB node is not a cluster: no size or parity warning", () => {
    const s = singleInput();
    s.database.nodes = [s.database.nodes[0]!];
    expect(ids(parsed(s))).not.toContain("recommended-cluster-size");
    expect(ids(parsed(s))).not.toContain("even-voting-nodes");
  });

  it("a location whose loss leaves no majority, unless acknowledged", () => {
    const g = geoInput();
    g.acknowledgements = [];
    const f = runRules(parsed(g)).find((x) => x.ruleId === "location-loss-no-majority")!;
    expect(f.nodes).toEqual(["pg-1", "pg-2", "pgw-1"]);
    expect(f.acknowledged).toBeUndefined();
    const acked = runRules(parsed(geoInput())).find((x) => x.ruleId === "location-loss-no-majority")!;
    expect(acked.acknowledged).toContain("disaster-recovery");
    expect(formatFinding(acked)).toMatch(/^\[Acknowledged\] location-loss-no-majority/);
  });

  it("EMS primary and DB primary in different locations", () => {
    const g = geoInput();
    g.emsNodes = [g.emsNodes[2]!, g.emsNodes[0]!, g.emsNodes[1]!];
    const f = runRules(parsed(g)).find((x) => x.ruleId === "ems-db-same-location")!;
    expect(f.nodes).toEqual(["ems-3", "pg-1"]);
  });

  it("a witness without a location when data nodes have one (the guide's geo commands)", () => {
    const g = geoInput();
    delete g.database.nodes[4]!.location;
    g.topology = "single-region"; // the geo stack itself rejects it as an error
    const f = runRules(parsed(g)).find((x) => x.ruleId === "witness-location")!;
    expect(f.nodes).toEqual(["pgw-2"]);
  });

  it("a single EMS node", () => {
    const s = singleInput();
    s.emsNodes = [s.emsNodes[0]!];
    expect(ids(parsed(s))).toContain("ems-node-pair");
  });

  it("an acknowledgement naming no rule is itself a warning", () => {
    const s = singleInput();
    s.acknowledgements = [{ rule: "no-such-rule", reason: "typo in the rule id here" }];
    const f = runRules(parsed(s)).find((x) => x.ruleId === UNKNOWN_ACK_ID)!;
    expect(f.message).toContain("no-such-rule");
  });
});

describe("synthFindings", () => {
  it("prints open warnings and returns them", () => {
    const g = geoInput();
    g.acknowledgements = [];
    const warn = vi.fn();
    const r = synthFindings(parsed(g), warn);
    expect(r.warnings.map((w) => w.ruleId)).toEqual(["location-loss-no-majority"]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(/^\[Warning\] location-loss-no-majority/);
  });

  it("throws ConfigError (exit 2) on an error finding", () => {
    const s = singleInput();
    s.database.nodes[0]!.address = "db1.example.com";
    expect(() => synthFindings(schemaOnly(s), () => undefined)).toThrow(ConfigError);
    try {
      synthFindings(schemaOnly(s), () => undefined);
    } catch (e) {
      expect((e as ConfigError).message).toContain("rule docker-addresses-are-ips");
    }
  });
});

describe("plan-review acknowledgements as rules", () => {
  it("each plan acknowledgement is listed by check while the deployment holds it, and only then", () => {
    for (const rule of ["plan-data-loss", "plan-docker-membership"]) {
      expect(ids(parsed(singleInput()))).not.toContain(rule);
      const s = singleInput();
      s.acknowledgements = [{ rule, reason: "a reason of at least ten characters" }];
      const hit = runRules(parsed(s)).find((f) => f.ruleId === rule)!;
      expect(hit.level).toBe("warning");
      expect(hit.acknowledged).toBe("a reason of at least ten characters");
      expect(hit.fix).toContain(`remove the ${rule} acknowledgement`);
    }
  });
});
