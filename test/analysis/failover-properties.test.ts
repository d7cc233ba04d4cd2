/**
 * Properties of both failover models over many random clusters (seeded, so a failure
 * reproduces): one primary at most, never a down node, never priority 0 or a witness,
 * and an extra witness in the primary's location never takes a promotion away.
 */
import { describe, expect, it } from "vitest";
import { type ClusterNode, failover, FAILOVER_MODELS, type FailoverInput } from "../../src/analysis/failover";

/** mulberry32: a small deterministic PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomCase(r: () => number): FailoverInput {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const locations = ["dc1", "dc2", "dc3", "default"].slice(0, 1 + Math.floor(r() * 3));
  const dataCount = 1 + Math.floor(r() * 5);
  const witnessCount = Math.floor(r() * 3);
  const nodes: ClusterNode[] = [];
  for (let i = 1; i <= dataCount; i++) {
    nodes.push({ name: `pg-${i}`, role: "data", priority: pick([0, 50, 100, 100, 100]), location: pick(locations), nodeId: 1000 + i });
  }
  for (let i = 1; i <= witnessCount; i++) nodes.push({ name: `pgw-${i}`, role: "witness", priority: 0, location: pick(locations), nodeId: 2000 + i });
  const primary = pick(nodes.filter((n) => n.role === "data")).name;
  const down = nodes.filter((n) => (n.name === primary ? r() < 0.8 : r() < 0.35)).map((n) => n.name);
  const lsn = r() < 0.3 ? Object.fromEntries(nodes.filter(() => r() < 0.5).map((n) => [n.name, BigInt(Math.floor(r() * 4))])) : undefined;
  return { nodes, primary, down, ...(lsn ? { lsn } : {}) };
}

const CASES = 3000;

describe.each(FAILOVER_MODELS)("%s model properties", (model) => {
  const r = rng(model === "repmgr" ? 20240501 : 7);
  const cases = Array.from({ length: CASES }, () => randomCase(r));

  it("never has two primaries: a promotion happens only when the old primary is down", () => {
    let promotions = 0;
    for (const c of cases) {
      const o = failover(model, c);
      const primaryUp = !c.down.includes(c.primary);
      if (primaryUp) expect(o.newPrimary).toBe(c.primary);
      if (o.promoted) {
        promotions++;
        expect(primaryUp).toBe(false);
        expect(o.newPrimary).not.toBe(c.primary);
      }
      expect(o.promoted && o.manualPromotion).toBe(false);
      if (o.newPrimary === null) expect(o.promoted).toBe(false);
    }
    // The generator must exercise both branches, or the property says nothing.
    expect(promotions).toBeGreaterThan(CASES / 10);
    expect(cases.filter((c) => failover(model, c).newPrimary === null).length).toBeGreaterThan(CASES / 20);
  });

  it("never makes a down node primary", () => {
    for (const c of cases) {
      const o = failover(model, c);
      if (o.newPrimary !== null) expect(c.down).not.toContain(o.newPrimary);
    }
  });

  it("never promotes a node with priority 0 or a witness", () => {
    for (const c of cases) {
      const o = failover(model, c);
      if (!o.promoted) continue;
      const n = c.nodes.find((x) => x.name === o.newPrimary)!;
      expect(n.priority).toBeGreaterThan(0);
      expect(n.role).toBe("data");
    }
  });

  it("adding a witness in the primary's location never turns a promotion into none", () => {
    let checked = 0;
    for (const c of cases) {
      const before = failover(model, c);
      if (!before.promoted) continue;
      const primary = c.nodes.find((n) => n.name === c.primary)!;
      const witness: ClusterNode = { name: "pgw-9", role: "witness", priority: 0, location: primary.location, nodeId: 2009 };
      const after = failover(model, { ...c, nodes: [...c.nodes, witness] });
      expect(after.promoted).toBe(true);
      expect(after.newPrimary).toBe(before.newPrimary);
      checked++;
    }
    expect(checked).toBeGreaterThan(CASES / 10);
  });
});
