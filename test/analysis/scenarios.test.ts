import { describe, expect, it } from "vitest";
import {
  boundedScenarios,
  clusterOf,
  deploymentScenarioRun,
  deploymentScenarios,
  disagreements,
  MAX_EVALUATED_SCENARIOS,
  possiblePrimaries,
  scenarioJson,
  scenariosFor,
  scenarioTable,
} from "../../src/analysis/failover";
import { reportMarkdown } from "../../src/analysis/report";
import { safeParseDeployment } from "../../src/config/parse";
import { MAX_DB_NODES, MAX_EMS_NODES } from "../../src/config/schema";
import { geoInput, parsed, singleInput } from "./fixtures";

describe("scenario enumeration", () => {
  it("covers every single node, pair and location once for each possible primary (single region)", () => {
    const d = parsed(singleInput());
    const nodes = clusterOf(d);
    expect(possiblePrimaries(nodes, "pg-1")).toEqual(["pg-1", "pg-2"]);
    const s = scenariosFor(nodes, "pg-1");
    // 3 singles + 3 pairs + location "default" (all three nodes).
    expect(s.map((x) => x.down.join(","))).toEqual(["pg-1", "pg-2", "pgw-1", "pg-1,pg-2", "pg-1,pgw-1", "pg-2,pgw-1", "pg-1,pg-2,pgw-1"]);
    expect(deploymentScenarios(d, "repmgr", nodes)).toHaveLength(14);
  });

  it("merges a location that equals a pair into one row with both labels (geo)", () => {
    const nodes = clusterOf(parsed(geoInput()));
    const s = scenariosFor(nodes, "pg-3");
    const dc2 = s.filter((x) => x.down.join(",") === "pg-3,pgw-2");
    expect(dc2).toHaveLength(1);
    expect(dc2[0]!.label).toBe("pg-3 (the primary) and pgw-2 become unavailable = location dc2 becomes unavailable (pg-3, pgw-2; pg-3 was the primary)");
    // 5 singles + 10 pairs + dc1 (dc2 merged).
    expect(s).toHaveLength(16);
    const keys = s.map((x) => x.down.join(","));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("prints the JSON shape of the issue", () => {
    const d = parsed(geoInput());
    const json = scenarioJson(deploymentScenarios(d, "repmgr", clusterOf(d)));
    const row = json.find((j) => j.primary === "pg-3" && j.down.join(",") === "pg-3,pgw-2")!;
    expect(Object.keys(row).sort()).toEqual(["down", "manualPromotion", "newPrimary", "primary", "reason"]);
    expect(row).toMatchObject({ newPrimary: null, manualPromotion: true });
    expect(json.find((j) => j.primary === "pg-1" && j.down.join(",") === "pg-1")).toMatchObject({ newPrimary: "pg-2", manualPromotion: false });
  });

  it("shows where the models disagree: only the DC 2 rows with pg-3 primary", () => {
    const d = parsed(geoInput());
    const diff = disagreements(deploymentScenarios(d, "repmgr", clusterOf(d)));
    expect(diff.map((r) => `${r.scenario.primary}:${r.scenario.down.join(",")}`)).toEqual(["pg-3:pg-3,pgw-2"]);
    expect(diff[0]!.other.newPrimary).toBe("pg-1");
  });

  it("renders the guide-style table: a status column per data node and the other model's verdict", () => {
    const d = parsed(geoInput());
    const nodes = clusterOf(d);
    const table = scenarioTable(nodes, deploymentScenarios(d, "vendor", nodes), { onlyPrimaryFailures: true });
    const lines = table.split("\n");
    expect(lines[0]).toBe("| Scenario | pg-1 (dc1) status | pg-2 (dc1) status | pg-3 (dc2) status | Notes | repmgr model |");
    const dc2 = lines.find((l) => l.includes("location dc2"))!;
    expect(dc2).toContain("**becomes the primary**");
    expect(dc2).toContain("**differs:** nobody: manual promotion of pg-1");
    expect(lines.some((l) => l.includes("stays primary"))).toBe(false);
    const dc1 = lines.find((l) => l.startsWith("| location dc1"))!;
    expect(dc1).toContain("Needs manual promotion to primary.");
  });
});

describe("bounded analysis at the maximum node count", () => {
  /** The single-region example grown to MAX_DB_NODES DB nodes (one witness) and MAX_EMS_NODES EMS nodes. */
  function maxDeployment() {
    const s = singleInput();
    s.database.nodes = Array.from({ length: MAX_DB_NODES }, (_, i) =>
      i === MAX_DB_NODES - 1
        ? { name: "pgw-1", address: `10.1.0.${i + 1}`, role: "witness" as const, location: `dc${i % 3}` }
        : { name: `pg-${i + 1}`, address: `10.1.0.${i + 1}`, role: "data" as const, location: `dc${i % 3}` },
    );
    s.emsNodes = Array.from({ length: MAX_EMS_NODES }, (_, i) => ({ name: `ems-${i + 1}`, address: `10.2.0.${i + 1}` }));
    return s;
  }

  it("evaluates at most MAX_EVALUATED_SCENARIOS, always the initial primary's, and says which primaries it left out", () => {
    const d = parsed(maxDeployment());
    const nodes = clusterOf(d);
    const run = deploymentScenarioRun(d, "repmgr", nodes);
    const all = possiblePrimaries(nodes, "pg-1");
    expect(all).toHaveLength(MAX_DB_NODES - 1);
    // Unbounded it would be 31 primaries x (32 singles + 496 pairs + 3 locations).
    expect(all.length * scenariosFor(nodes, "pg-1").length).toBeGreaterThan(8 * MAX_EVALUATED_SCENARIOS);
    expect(run.evaluated).toBe(run.results.length);
    expect(run.evaluated).toBeLessThanOrEqual(MAX_EVALUATED_SCENARIOS);
    expect(run.primaries[0]).toBe("pg-1");
    expect([...run.primaries, ...run.omittedPrimaries].sort()).toEqual([...all].sort());
    expect(new Set(run.results.map((r) => r.scenario.primary))).toEqual(new Set(run.primaries));
    const md = reportMarkdown(d, { findings: [] });
    expect(md).toContain(`at most ${MAX_EVALUATED_SCENARIOS} scenarios), the scenarios with ${run.omittedPrimaries.join(", ")} as primary are left out`);
  });

  it("a small cluster is never cut", () => {
    const d = parsed(geoInput());
    const run = deploymentScenarioRun(d, "repmgr", clusterOf(d));
    expect(run.omittedPrimaries).toEqual([]);
    expect(run.evaluated).toBe(48);
  });

  it("the initial primary's scenarios run even when they alone exceed a small limit", () => {
    const nodes = clusterOf(parsed(geoInput()));
    const run = boundedScenarios(nodes, "repmgr", ["pg-1", "pg-2", "pg-3"], "pg-3", 5);
    expect(run.primaries).toEqual(["pg-3"]);
    expect(run.omittedPrimaries).toEqual(["pg-1", "pg-2"]);
  });

  it("more DB or EMS nodes than the maximum are refused with the reason", () => {
    const s = maxDeployment();
    s.database.nodes.push({ name: "pg-99", address: "10.1.1.99", role: "data" });
    s.emsNodes.push({ name: "ems-99", address: "10.2.1.99" });
    const r = safeParseDeployment(s);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.find((i) => i.path === "database.nodes")!.message).toMatch(/at most 32 DB nodes: the guide's largest cluster has 9/);
    expect(r.issues.find((i) => i.path === "emsNodes")!.message).toMatch(/at most 16 EMS nodes/);
  });
});
