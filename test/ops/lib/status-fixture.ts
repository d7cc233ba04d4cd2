/**
 * The deployment the status and switchover unit tests evaluate probes against (pg-1, pg-2, pg-3
 * data, pgw-1 witness, at 10.0.0.11-14; one EMS node), and a ClusterStatus from a database verdict.
 */
import { parseDeployment } from "../../../src/config/parse";
import type { DeploymentInput } from "../../../src/config/schema";
import type { ClusterStatus, evaluateDatabase } from "../../../src/ops/status";

/** The four DB nodes, with `database` fields added (e.g. synchronousReplication). */
export function fourNodeDeployment(topology: DeploymentInput["topology"], database: Record<string, unknown> = {}) {
  return parseDeployment({
    topology,
    emsNodes: [{ name: "ems-1", address: "10.0.0.21" }],
    database: {
      ...database,
      nodes: [
        { name: "pg-1", address: "10.0.0.11", role: "data" },
        { name: "pg-2", address: "10.0.0.12", role: "data" },
        { name: "pg-3", address: "10.0.0.13", role: "data" },
        { name: "pgw-1", address: "10.0.0.14", role: "witness" },
      ],
    },
    installer: { version: "7.4.4.2034", source: { kind: "url", url: "https://example.com/i.bin", sha256: "a".repeat(64) } },
    ems: { fqdn: "ems.example.com", vip: "10.0.0.50" },
  } as DeploymentInput);
}

/** A ClusterStatus holding only the database verdict (no EMS node asked, no markers). */
export function statusOf(d: ReturnType<typeof fourNodeDeployment>, v: ReturnType<typeof evaluateDatabase>): ClusterStatus {
  return {
    name: d.name,
    topology: d.topology,
    dbNodes: v.dbNodes,
    writablePrimaries: v.writablePrimaries,
    emsNodes: [],
    synchronous: v.synchronous,
    rewinds: [],
    fenced: [],
    degraded: v.reasons.length > 0,
    reasons: v.reasons,
    warnings: v.warnings,
  };
}
