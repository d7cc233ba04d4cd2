/**
 * The lab deployment: the guide's native topology ("native-single-region": PostgreSQL 15 +
 * repmgr installed natively) on hosts that `npm run lab -- up` boots on this machine.
 * Two data nodes, one witness, two EMS hosts, all in one private /24 (default 10.231.7.0/24).
 *
 * The EMS installer is the stand-in test/standins/forticlientems-installer (not the product);
 * its sha256 is computed when this module loads. The SSH key is the one `lab up` generates.
 * Secrets (DB and repmgr passwords) are not here: they enter as sensitive variables.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defineDeployment } from "../src/config/parse";
import type { DeploymentInput } from "../src/config/schema";
import { REPO_ROOT, checkSubnetPrefix, labKeyPath } from "../lab/lib/paths";

/** The subnet `lab up` uses unless told otherwise. */
export const DEFAULT_LAB_SUBNET = "10.231.7";

export const STANDIN_INSTALLER = join(REPO_ROOT, "test/standins/forticlientems-installer");

function sha256Of(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Failover timing of the lab: "tuned" (3 x 2 s, the default) or "guide" (repmgr's 6 x 10 s). */
export type LabFailover = "tuned" | "guide";

/** The lab deployment on `prefix`.0/24 (e.g. "10.231.8"); host addresses .11-.13 (DB) and .21-.22 (EMS). */
export function labDeployment(prefix: string = DEFAULT_LAB_SUBNET, failoverProfile: LabFailover = "tuned"): DeploymentInput {
  checkSubnetPrefix(prefix);
  const ssh = { user: "root", port: 22, privateKeyPath: labKeyPath(prefix) };
  return defineDeployment({
    topology: "native-single-region",
    name: "ems-lab",
    emsNodes: [
      { name: "ems-1", address: `${prefix}.21`, ssh },
      { name: "ems-2", address: `${prefix}.22`, ssh },
    ],
    database: {
      port: 5432,
      user: "postgres",
      // Lab hosts share two cores: small PGTune inputs.
      nodes: [
        { name: "dbnode-1", address: `${prefix}.11`, role: "data", priority: 100, ramGb: 2, cpus: 2, storage: "ssd", ssh },
        { name: "dbnode-2", address: `${prefix}.12`, role: "data", priority: 100, ramGb: 2, cpus: 2, storage: "ssd", ssh },
        { name: "witness-1", address: `${prefix}.13`, role: "witness", ramGb: 1, cpus: 1, storage: "ssd", ssh },
      ],
      // Fast failover for the drill (docs/background.md#native-postgresql-and-repmgr: ~5 s with 3 x 2 s instead of ~60 s with repmgr's 6 x 10 s).
      failover:
        failoverProfile === "tuned"
          ? { reconnectAttempts: 3, reconnectIntervalSeconds: 2, connectTimeoutSeconds: 2, monitorIntervalSeconds: 2 }
          : { profile: "default" },
      // A cap on the WAL the primary keeps for an absent standby (docs/operations.md#replication-slots); lab disks are small.
      maxSlotWalKeepSize: "2GB",
    },
    installer: {
      version: "7.4.4.2034",
      source: { kind: "file", path: STANDIN_INSTALLER, sha256: sha256Of(STANDIN_INSTALLER) },
      installDir: "/opt/ems-ha/installer",
    },
    ems: { fqdn: "ems.lab.internal", vip: `${prefix}.50`, keepaliveSeconds: 10 },
    // Lab hosts have no internet: PostgreSQL 15 + repmgr are preinstalled in the image.
    native: { packages: "preinstalled" },
  });
}

export default labDeployment(DEFAULT_LAB_SUBNET);

/**
 * The guide's "EMS nodes in HA with standalone remote DB" on lab hosts: one PostgreSQL server the
 * stack sets up (mode "managed", packages preinstalled in the lab image) and two EMS hosts.
 * Addresses .11 (emsdb-1), .21 and .22 (EMS).
 */
export function labStandaloneDeployment(prefix: string = DEFAULT_LAB_SUBNET): DeploymentInput {
  checkSubnetPrefix(prefix);
  const base = labDeployment(prefix);
  const ssh = { user: "root", port: 22, privateKeyPath: labKeyPath(prefix) };
  return defineDeployment({
    topology: "standalone-db",
    name: "ems-lab-standalone",
    emsNodes: base.emsNodes,
    database: {
      port: 5432,
      user: "postgres",
      nodes: [{ name: "emsdb-1", address: `${prefix}.11`, role: "data", ramGb: 1, cpus: 2, storage: "ssd", ssh }],
    },
    standalone: { mode: "managed", packages: "preinstalled" },
    installer: base.installer,
    ems: base.ems,
  });
}
