import { describe, expect, it } from "vitest";
import { clusterOf, deploymentScenarios, disagreements, possiblePrimaries, scenarioJson, scenariosFor, scenarioTable } from "../../src/analysis/failover";
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
