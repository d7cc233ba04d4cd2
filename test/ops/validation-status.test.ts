/**
 * `ems-ha status` says when a data node's repmgr.conf has no failover_validation_command
 * (docs/reliability.md#two-standbys-promoted-at-once): a warning naming the node and the fix per
 * topology; where the file could not be read, nothing is claimed.
 */
import { describe, expect, it } from "vitest";
import geo from "../../examples/geo-redundant";
import native from "../../examples/native-single-region";
import single from "../../examples/single-region";
import standalone from "../../examples/standalone-db";
import { parseDeployment } from "../../src/config/parse";
import { repmgrConfPathOf, setsFailoverValidation, type DbProbe } from "../../src/ops/pg";
import { evaluateDatabase } from "../../src/ops/status";

describe("reading repmgr.conf for the failover validation", () => {
  it("finds the setting as the renderers write it, and not when it is absent, commented out or empty", () => {
    expect(setsFailoverValidation("node_id=1\nfailover_validation_command='/usr/local/sbin/ems-ha-validate-failover %n'\n")).toBe(true);
    expect(setsFailoverValidation("failover_validation_command='/bin/bash /bitnami/repmgr/conf/ems-ha-validate-failover %n'")).toBe(true);
    expect(setsFailoverValidation("node_id=1\npriority=100\n")).toBe(false);
    expect(setsFailoverValidation("#failover_validation_command='/x %n'\n")).toBe(false);
    expect(setsFailoverValidation("failover_validation_command=''\n")).toBe(false);
  });

  it("looks where each topology's repmgrd reads it, and nowhere for the topologies without repmgrd", () => {
    expect(repmgrConfPathOf(parseDeployment(native))).toBe("/etc/repmgr.conf");
    expect(repmgrConfPathOf(parseDeployment(single))).toBe("/opt/bitnami/repmgr/conf/repmgr.conf");
    expect(repmgrConfPathOf(parseDeployment(geo))).toBe("/opt/bitnami/repmgr/conf/repmgr.conf");
    expect(repmgrConfPathOf(parseDeployment(standalone))).toBeUndefined();
  });
});

describe("status with and without the failover validation", () => {
  const d = parseDeployment(single);
  const probes = (pg2: Partial<DbProbe>) =>
    new Map<string, DbProbe>([
      ["pg-1", { reachable: true, inRecovery: false, failoverValidation: true }],
      ["pg-2", { reachable: true, inRecovery: true, walReceiver: "streaming", upstreamHost: d.database.nodes[0]!.address, ...pg2 }],
      ["pgw-1", { reachable: true, inRecovery: false }],
    ]);

  it("warns about a data node without it, naming the node and the image's mount, without calling the cluster degraded", () => {
    const v = evaluateDatabase(d, probes({ failoverValidation: false }));
    const w = v.warnings.filter((x) => /failover_validation_command/.test(x));
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^pg-2's repmgr.conf sets no failover_validation_command/);
    expect(w[0]).toMatch(/REPMGR_MOUNTED_CONF_DIR/);
    expect(v.reasons.some((r) => /failover_validation/.test(r))).toBe(false);
    expect(v.dbNodes.find((n) => n.name === "pg-2")!.failoverValidation).toBe(false);
  });

  it("says nothing when the setting is there or the file could not be read", () => {
    for (const fv of [true, undefined]) {
      const v = evaluateDatabase(d, probes({ failoverValidation: fv }));
      expect(v.warnings.filter((x) => /failover_validation_command/.test(x))).toEqual([]);
    }
  });

  it("tells a native deployment to re-apply", () => {
    const n = parseDeployment(native);
    const [p, s, w] = n.database.nodes;
    const v = evaluateDatabase(
      n,
      new Map<string, DbProbe>([
        [p!.name, { reachable: true, inRecovery: false, failoverValidation: false }],
        [s!.name, { reachable: true, inRecovery: true, walReceiver: "streaming", upstreamHost: p!.address, failoverValidation: true }],
        [w!.name, { reachable: true, inRecovery: false }],
      ]),
    );
    expect(v.warnings.filter((x) => /failover_validation_command/.test(x))).toEqual([
      expect.stringMatching(new RegExp(`^${p!.name}'s repmgr.conf .*re-apply the deployment`)),
    ]);
  });
});
