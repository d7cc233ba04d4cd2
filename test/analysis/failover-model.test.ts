import { describe, expect, it } from "vitest";
import { type ClusterNode, clusterOf, failover, type FailoverModelName, repmgrFailover, vendorFailover } from "../../src/analysis/failover";
import { geoInput, geoOneLocation, parsed, singleInput } from "./fixtures";

const geo = clusterOf(parsed(geoInput()));
const run = (model: FailoverModelName, nodes: ReadonlyArray<ClusterNode>, primary: string, down: string[]) => failover(model, { nodes, primary, down });

/** The guide's "PostgreSQL DB HA failover scenarios" table: primary, down nodes, what it says happens. */
const GUIDE_TABLE: Array<{ row: string; primary: string; down: string[]; newPrimary: string | null }> = [
  { row: "pg-1 is the primary and becomes unavailable", primary: "pg-1", down: ["pg-1"], newPrimary: "pg-2" },
  { row: "pg-1 (the primary) and pg-2 become unavailable", primary: "pg-1", down: ["pg-1", "pg-2"], newPrimary: "pg-3" },
  { row: "pg-1 and pg-2 (the primary) become unavailable", primary: "pg-2", down: ["pg-1", "pg-2"], newPrimary: "pg-3" },
  { row: "DC 1 becomes unavailable (pg-1 was the primary)", primary: "pg-1", down: ["pg-1", "pg-2", "pgw-1"], newPrimary: null },
  { row: "DC 2 becomes unavailable (pg-3 was the primary)", primary: "pg-3", down: ["pg-3", "pgw-2"], newPrimary: "pg-1" },
  { row: "DC 2 becomes unavailable (pg-3 was the primary) and pgw-1 too", primary: "pg-3", down: ["pg-3", "pgw-2", "pgw-1"], newPrimary: null },
];

describe("vendor model", () => {
  it.each(GUIDE_TABLE)("reproduces the guide's row: $row", ({ primary, down, newPrimary }) => {
    const o = vendorFailover({ nodes: geo, primary, down });
    expect(o.newPrimary).toBe(newPrimary);
    expect(o.manualPromotion).toBe(newPrimary === null);
  });

  it("counts every node of the cluster for (n/2)+1, failed primary included", () => {
    const o = vendorFailover({ nodes: geo, primary: "pg-1", down: ["pg-1", "pg-2", "pgw-1"] });
    expect([o.visible, o.total, o.rule]).toEqual([2, 5, "quorum"]);
    expect(o.reason).toContain("quorum (n/2)+1 = 3");
  });
});

describe("repmgr model (docs/background.md#errors-in-the-guide, #repmgr-automatic-failover)", () => {
  it.each(GUIDE_TABLE)("per-DC locations: $row", ({ row, primary, down, newPrimary }) => {
    const o = repmgrFailover({ nodes: geo, primary, down });
    // The one row where repmgr differs from the guide: nobody is promoted (network split assumed).
    const expected = row === "DC 2 becomes unavailable (pg-3 was the primary)" ? null : newPrimary;
    expect(o.newPrimary).toBe(expected);
    expect(o.manualPromotion).toBe(expected === null);
  });

  it("DC 2 down with pg-3 primary: per-DC locations promote nobody, by the location rule", () => {
    const o = repmgrFailover({ nodes: geo, primary: "pg-3", down: ["pg-3", "pgw-2"] });
    expect(o.newPrimary).toBeNull();
    expect(o.rule).toBe("location");
    expect(o.manualCandidate).toBe("pg-1");
    expect([o.visible, o.total]).toEqual([3, 4]);
    expect(o.reason).toContain('location "dc2"');
  });

  it("DC 2 down with pg-3 primary: one shared location promotes pg-1 (lower node id than pg-2)", () => {
    const nodes = clusterOf(parsed(geoOneLocation()));
    const o = repmgrFailover({ nodes, primary: "pg-3", down: ["pg-3", "pgw-2"] });
    expect(o.newPrimary).toBe("pg-1");
    expect(o.rule).toBe("order");
    expect(o.reason).toContain("lower node id");
  });

  it("witnesses left in location default (the guide's commands): pg-1 and pg-2 down promotes nobody", () => {
    const g = geoInput();
    for (const n of g.database.nodes) if (n.role === "witness") delete n.location;
    g.topology = "single-region"; // the geo stack itself rejects witnesses without a location
    const nodes = clusterOf(parsed(g));
    const o = repmgrFailover({ nodes, primary: "pg-1", down: ["pg-1", "pg-2"] });
    expect(o.newPrimary).toBeNull();
    expect(o.rule).toBe("location");
    // With the witness in dc1, pg-3 is promoted.
    expect(repmgrFailover({ nodes: geo, primary: "pg-1", down: ["pg-1", "pg-2"] }).newPrimary).toBe("pg-3");
  });

  it("does not count the failed primary: shared = siblings + 1", () => {
    const o = repmgrFailover({ nodes: geo, primary: "pg-1", down: ["pg-1"] });
    expect([o.visible, o.total]).toEqual([4, 4]);
  });

  it("cancels without a qualified majority (visible <= shared / 2) in one location", () => {
    const nodes = clusterOf(parsed(geoOneLocation()));
    const o = repmgrFailover({ nodes, primary: "pg-1", down: ["pg-1", "pg-2", "pgw-1"] });
    expect(o.newPrimary).toBeNull();
    expect(o.rule).toBe("majority");
    expect([o.visible, o.total]).toEqual([2, 4]);
  });

  it("orders candidates by LSN before priority", () => {
    const o = repmgrFailover({ nodes: geo, primary: "pg-1", down: ["pg-1"], lsn: { "pg-2": 100n, "pg-3": 200n } });
    expect(o.newPrimary).toBe("pg-3");
    expect(o.candidates).toEqual(["pg-3", "pg-2"]);
    expect(o.reason).toContain("most WAL");
    // The vendor model ignores LSN.
    expect(vendorFailover({ nodes: geo, primary: "pg-1", down: ["pg-1"], lsn: { "pg-3": 200n } }).newPrimary).toBe("pg-2");
  });

  it("a single standby without siblings wins by default; the vendor quorum says manual", () => {
    const s = singleInput();
    s.database.nodes = s.database.nodes.filter((n) => n.role === "data");
    const nodes = clusterOf(parsed(s));
    const r = repmgrFailover({ nodes, primary: "pg-1", down: ["pg-1"] });
    expect([r.newPrimary, r.rule]).toEqual(["pg-2", "only-standby"]);
    const v = vendorFailover({ nodes, primary: "pg-1", down: ["pg-1"] });
    expect([v.newPrimary, v.manualPromotion]).toEqual([null, true]);
  });

  it("a single standby in another location is not promoted", () => {
    const nodes: ClusterNode[] = [
      { name: "pg-1", role: "data", priority: 100, location: "dc1", nodeId: 1001 },
      { name: "pg-2", role: "data", priority: 100, location: "dc2", nodeId: 1002 },
    ];
    const o = repmgrFailover({ nodes, primary: "pg-1", down: ["pg-1"] });
    expect([o.newPrimary, o.manualPromotion, o.rule]).toEqual([null, true, "only-standby"]);
  });

  it("never promotes a priority 0 data node, but names it for manual promotion", () => {
    const nodes: ClusterNode[] = [
      { name: "pg-1", role: "data", priority: 100, location: "default", nodeId: 1001 },
      { name: "pg-2", role: "data", priority: 0, location: "default", nodeId: 1002 },
      { name: "pgw-1", role: "witness", priority: 0, location: "default", nodeId: 2001 },
    ];
    for (const model of ["repmgr", "vendor"] as const) {
      const o = run(model, nodes, "pg-1", ["pg-1"]);
      expect([o.newPrimary, o.rule, o.manualCandidate]).toEqual([null, "no-candidate", "pg-2"]);
    }
  });

  it("keeps the primary when it is up, whatever else fails", () => {
    const o = repmgrFailover({ nodes: geo, primary: "pg-1", down: ["pg-2", "pg-3", "pgw-1", "pgw-2"] });
    expect([o.newPrimary, o.promoted, o.rule]).toEqual(["pg-1", false, "primary-up"]);
  });

  it("reports no manual promotion when no data node is up", () => {
    const o = repmgrFailover({ nodes: geo, primary: "pg-1", down: ["pg-1", "pg-2", "pg-3"] });
    expect([o.newPrimary, o.manualPromotion, o.manualCandidate]).toEqual([null, false, null]);
    expect(o.reason).toContain("no data node is up");
  });

  it("rejects unknown nodes and a witness as primary", () => {
    expect(() => repmgrFailover({ nodes: geo, primary: "pg-9", down: [] })).toThrow(/pg-9 is not a DB node/);
    expect(() => repmgrFailover({ nodes: geo, primary: "pgw-1", down: [] })).toThrow(/witness/);
    expect(() => vendorFailover({ nodes: geo, primary: "pg-1", down: ["nope"] })).toThrow(/nope is not a DB node/);
  });
});
