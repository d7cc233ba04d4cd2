/** `ems-ha status` and the witnesses' promotion claims: named, how long each still holds, a warning while one blocks. */
import { describe, expect, it } from "vitest";
import type { DbProbe, PromotionClaimRow } from "../../src/ops/pg";
import { evaluateDatabase, renderStatusTable } from "../../src/ops/status";
import { fourNodeDeployment, statusOf } from "./lib/status-fixture";
import { CLAIM_STANDBY_GRACE_SECONDS, CLAIM_TTL_SECONDS } from "../../src/render/failover-validation";

// Docker single-region: the image's ids are the name's number + 1000 (data) / + 2000 (witness).
const d = fourNodeDeployment("single-region");

const primary: DbProbe = { reachable: true, inRecovery: false, replicas: [] };
const standby = (upstream = "10.0.0.11"): DbProbe => ({
  reachable: true,
  inRecovery: true,
  walReceiver: "streaming",
  upstreamHost: upstream,
  lagBytes: 0,
  lagSeconds: 0,
});
const down: DbProbe = { reachable: false, error: "connect ECONNREFUSED" };
const claim = (failedNodeId: number, claimerId: number, ageSeconds: number): PromotionClaimRow => ({ failedNodeId, claimerId, ageSeconds });

const asStatus = (v: ReturnType<typeof evaluateDatabase>) => statusOf(d, v);

describe("promotion claims in status", () => {
  it("the last failover's claim, its node now the primary, is settled: listed, no warning", () => {
    const v = evaluateDatabase(
      d,
      new Map<string, DbProbe>([
        ["pg-1", down],
        ["pg-2", primary],
        ["pg-3", standby("10.0.0.12")],
        ["pgw-1", { reachable: true, inRecovery: false, promotionClaims: [claim(1001, 1002, 40)] }],
      ]),
    );
    const w = v.dbNodes.find((n) => n.name === "pgw-1")!;
    expect(w.promotionClaims).toEqual([{ failed: "pg-1", failedNodeId: 1001, claimer: "pg-2", ageSeconds: 40, holdsForSeconds: 0 }]);
    expect(v.warnings.filter((x) => /claim/.test(x))).toEqual([]);
    expect(renderStatusTable(asStatus(v))).toContain("pgw-1: pg-2 claimed the succession of pg-1 40 s ago (settled: pg-2 is the primary)");
  });

  it("a claim whose node did not promote holds the TTL when that node does not answer, the standby grace when it answers as a standby; a warning says how to release it", () => {
    const probes = (pg3: DbProbe, age: number) =>
      new Map<string, DbProbe>([
        ["pg-1", down],
        ["pg-2", standby()],
        ["pg-3", pg3],
        ["pgw-1", { reachable: true, inRecovery: false, promotionClaims: [claim(1001, 1003, age)] }],
      ]);
    const gone = evaluateDatabase(d, probes(down, 50));
    expect(gone.dbNodes.find((n) => n.name === "pgw-1")!.promotionClaims![0]!.holdsForSeconds).toBe(CLAIM_TTL_SECONDS - 50);
    const warning = gone.warnings.find((x) => /claim/.test(x));
    expect(warning).toBe(
      `witness pgw-1 holds pg-3's claim to succeed pg-1 (made 50 s ago): for ${CLAIM_TTL_SECONDS - 50} s more the failover validation lets no other node succeed pg-1 ` +
        `(docs/reliability.md, "The witnesses arbitrate"; to release it: psql -d repmgr -c 'delete from public.ems_ha_promotion_claim where failed_node = 1001' on pgw-1)`,
    );
    expect(renderStatusTable(asStatus(gone))).toContain(`pgw-1: pg-3 claimed the succession of pg-1 50 s ago (holds ${CLAIM_TTL_SECONDS - 50} s more)`);

    const asStandby = evaluateDatabase(d, probes(standby(), 10));
    expect(asStandby.dbNodes.find((n) => n.name === "pgw-1")!.promotionClaims![0]!.holdsForSeconds).toBe(CLAIM_STANDBY_GRACE_SECONDS - 10);
    const expired = evaluateDatabase(d, probes(standby(), CLAIM_STANDBY_GRACE_SECONDS + 1));
    expect(expired.dbNodes.find((n) => n.name === "pgw-1")!.promotionClaims![0]!.holdsForSeconds).toBe(0);
    expect(expired.warnings.filter((x) => /claim/.test(x))).toEqual([]);
    expect(renderStatusTable(asStatus(expired))).toContain(`(expired)`);
  });

  it("names come from repmgr.nodes where a node's id differs from the derived one; unknown ids are shown as ids; no claims, no section", () => {
    const view = [
      { nodeId: 7, nodeName: "pg-1", type: "primary", active: true, upstreamNodeId: null, location: "default", priority: 100 },
      { nodeId: 1002, nodeName: "pg-2", type: "standby", active: true, upstreamNodeId: 7, location: "default", priority: 100 },
    ];
    const v = evaluateDatabase(
      d,
      new Map<string, DbProbe>([
        ["pg-1", { ...primary, repmgrView: view }],
        ["pg-2", standby()],
        ["pg-3", standby()],
        ["pgw-1", { reachable: true, inRecovery: false, promotionClaims: [claim(7, 99, 500)] }],
      ]),
    );
    expect(v.dbNodes.find((n) => n.name === "pgw-1")!.promotionClaims).toEqual([
      { failed: "pg-1", failedNodeId: 7, claimer: "node id 99", ageSeconds: 500, holdsForSeconds: 0 },
    ]);
    const none = evaluateDatabase(
      d,
      new Map<string, DbProbe>([
        ["pg-1", primary],
        ["pg-2", standby()],
        ["pg-3", standby()],
        ["pgw-1", { reachable: true, inRecovery: false, promotionClaims: [] }],
      ]),
    );
    expect(renderStatusTable(asStatus(none))).not.toContain("Promotion claims");
    // a data node's probe never carries claims into its status
    expect(none.dbNodes.filter((n) => n.promotionClaims !== undefined).map((n) => n.name)).toEqual(["pgw-1"]);
  });
});
