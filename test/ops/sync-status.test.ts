/** `ems-ha status` with synchronous replication: sync_state per standby, degraded when commits would block or wait for nobody. */
import { describe, expect, it } from "vitest";
import type { DbProbe, ReplicaRow } from "../../src/ops/pg";
import { evaluateDatabase, renderStatusTable } from "../../src/ops/status";
import { fourNodeDeployment, statusOf } from "./lib/status-fixture";

function deployment(sync: "off" | "any-1") {
  return fourNodeDeployment("native-single-region", { synchronousReplication: { mode: sync } });
}

const replica = (name: string, syncState: string, state = "streaming"): ReplicaRow => ({
  applicationName: name,
  clientAddr: name === "pg-2" ? "10.0.0.12" : "10.0.0.13",
  state,
  lagBytes: 0,
  writeLagSeconds: 0,
  replayLagSeconds: 0,
  syncState,
});
const standby = (): DbProbe => ({ reachable: true, inRecovery: true, walReceiver: "streaming", upstreamHost: "10.0.0.11", lagBytes: 0, lagSeconds: 0 });
const down: DbProbe = { reachable: false, error: "connect ECONNREFUSED" };
const NAMES = 'ANY 1 ("pg-2", "pg-3")';

function probes(primary: Partial<DbProbe>, pg2: DbProbe = standby(), pg3: DbProbe = standby()) {
  return new Map<string, DbProbe>([
    ["pg-1", { reachable: true, inRecovery: false, synchronousStandbyNames: NAMES, ...primary }],
    ["pg-2", pg2],
    ["pg-3", pg3],
    ["pgw-1", { reachable: true, inRecovery: false }],
  ]);
}

const asStatus = statusOf;

describe("synchronous replication in status", () => {
  it("healthy with two quorum standbys: each standby's sync_state, both listed as confirming", () => {
    const d = deployment("any-1");
    const v = evaluateDatabase(d, probes({ replicas: [replica("pg-2", "quorum"), replica("pg-3", "quorum")] }));
    expect(v.reasons).toEqual([]);
    expect(v.synchronous).toEqual({ mode: "any-1", standbyNames: NAMES, synchronousStandbys: ["pg-2", "pg-3"] });
    expect(v.dbNodes.map((n) => n.syncState)).toEqual([undefined, "quorum", "quorum", undefined]);
    const table = renderStatusTable(asStatus(d, v));
    expect(table).toMatch(/^ {2}NODE .* STREAMING +SYNC +LAG/m);
    expect(table).toMatch(/^ {2}pg-2 .* yes +quorum /m);
    expect(table).toContain(`synchronous_standby_names = '${NAMES}'; standbys confirming commits now: pg-2, pg-3`);
  });

  it("one standby away: still healthy on the synchronous side (ANY 1 is met by the other)", () => {
    const d = deployment("any-1");
    const v = evaluateDatabase(d, probes({ replicas: [replica("pg-3", "quorum")] }, down));
    expect(v.reasons.some((r) => /synchronous/.test(r))).toBe(false);
    expect(v.synchronous?.synchronousStandbys).toEqual(["pg-3"]);
  });

  it("degraded when no synchronous standby streams: writes block (a standby in catchup does not count)", () => {
    const d = deployment("any-1");
    const v = evaluateDatabase(d, probes({ replicas: [replica("pg-2", "potential", "catchup")] }, standby(), down));
    expect(v.reasons).toContain(
      "no synchronous standby is connected to the primary pg-1: every commit waits (writes block) until one of pg-2, pg-3 streams again",
    );
    expect(renderStatusTable(asStatus(d, v))).toContain("standbys confirming commits now: none (commits block)");
  });

  it("degraded when configured but the primary's synchronous_standby_names is empty (commits wait for nobody)", () => {
    const d = deployment("any-1");
    const v = evaluateDatabase(d, probes({ synchronousStandbyNames: "", replicas: [replica("pg-2", "async"), replica("pg-3", "async")] }));
    expect(v.reasons).toEqual([
      expect.stringMatching(/^synchronous replication is configured \(mode any-1\) but the primary pg-1 has an empty synchronous_standby_names/),
    ]);
  });

  it("off: no verdict, no SYNC column", () => {
    const d = deployment("off");
    const v = evaluateDatabase(d, probes({ synchronousStandbyNames: "", replicas: [replica("pg-2", "async"), replica("pg-3", "async")] }));
    expect(v.synchronous).toBeUndefined();
    expect(v.reasons).toEqual([]);
    expect(renderStatusTable(asStatus(d, v))).not.toMatch(/SYNC|Synchronous/);
  });
});
