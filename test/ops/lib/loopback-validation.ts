/**
 * The failover validation script (src/render/failover-validation.ts) for a node of a loopback
 * cluster: its socket, its own state file, short timeouts (2 s for the failed primary, 2 x 3 s
 * for a standby) so that a test waits seconds, not minutes; a claim on a witness holds 60 s.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderFailoverValidationScript } from "../../../src/render/failover-validation";
import { PG_BIN, type LoopbackCluster, type PgNode } from "./loopback-cluster";

/** Writes node n's copy of the script at `path` (mode 0755) and returns the path. */
export function installLoopbackValidation(path: string, cluster: LoopbackCluster, n: PgNode): string {
  writeFileSync(
    path,
    renderFailoverValidationScript({
      psql: `${PG_BIN}/psql`,
      localPort: cluster.port,
      localHost: n.socketDir,
      primaryTimeoutSeconds: 2,
      peerTimeoutSeconds: 3,
      peerTries: 2,
      stateFile: join(n.socketDir, "validate.state"),
      stateMaxAgeSeconds: 300,
      claimTtlSeconds: 60,
    }),
    { mode: 0o755 },
  );
  return path;
}
