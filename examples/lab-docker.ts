/**
 * The guide's main topology ("single-region": EMS PostgreSQL HA Docker, two data nodes and a
 * witness) on hosts that `npm run lab -- up --config examples/lab-docker.ts` boots on this
 * machine: pg-1, pg-2 (data), pgw-1 (witness) with Debian's Docker engine, and two EMS hosts,
 * all in one private /24 (default 10.231.17.0/24). No FortiGate section: the lab has none.
 *
 * The image is the STAND-IN for the vendor's ems-postgres-ha (test/standins/ems-postgres-ha,
 * not the product): `lab up` places its tarball on each DB host at the path named here, and
 * the stack loads it as it loads the vendor tarball (sha256 check, docker load). Its sha256 is
 * read from the lab's cache when this module loads (building the image the first time).
 * The EMS installer is the installer stand-in. Secrets enter as sensitive variables.
 */
import { defineDeployment } from "../src/config/parse";
import type { DeploymentInput } from "../src/config/schema";
import { standinImageSync } from "../test/standins/ems-postgres-ha/sync";
import type { StandinImage } from "../test/standins/ems-postgres-ha/build";
import { checkSubnetPrefix, labKeyPath } from "../lab/lib/paths";
import { labDeployment, type LabFailover } from "./lab";

/** The subnet `lab up --config examples/lab-docker.ts` uses. */
export const DEFAULT_DOCKER_LAB_SUBNET = "10.231.17";

/** What a lab deployment needs of a stand-in image: its name:tag, where it lies on the DB hosts, its sha256. */
export type LabImage = Pick<StandinImage, "tag" | "hostPath" | "sha256">;

/** The stand-in image's name (docker load reports ems-postgres-ha-standin:<tag>). */
export const STANDIN_IMAGE = "ems-postgres-ha-standin";

export function labImageSection(image: LabImage) {
  return { name: STANDIN_IMAGE, tag: image.tag, source: { kind: "tarball" as const, path: image.hostPath, sha256: image.sha256 } };
}

/** Failover timing of Docker labs: "tuned" 3 x 2 s, or "guide" (the image's defaults, 3 x 5 s). */
export function labDockerFailover(profile: LabFailover) {
  return profile === "tuned"
    ? { reconnectAttempts: 3, reconnectIntervalSeconds: 2, connectTimeoutSeconds: 2, monitorIntervalSeconds: 2 }
    : { profile: "default" as const };
}

/**
 * single-region on `prefix`.0/24: pg-1 .11, pg-2 .12, pgw-1 .13 (Docker), ems-1 .21, ems-2 .22.
 * `image` defaults to the stand-in 7.4.4 (built and cached on first use).
 */
export function labDockerDeployment(
  prefix: string = DEFAULT_DOCKER_LAB_SUBNET,
  image: LabImage = standinImageSync("7.4.4"),
  failover: LabFailover = "tuned",
): DeploymentInput {
  checkSubnetPrefix(prefix);
  const ssh = { user: "root", port: 22, privateKeyPath: labKeyPath(prefix) };
  const native = labDeployment(prefix);
  return defineDeployment({
    topology: "single-region",
    name: "ems-lab-docker",
    emsNodes: [
      { name: "ems-1", address: `${prefix}.21`, ssh },
      { name: "ems-2", address: `${prefix}.22`, ssh },
    ],
    database: {
      port: 5432,
      user: "postgres",
      image: labImageSection(image),
      // Lab hosts share two cores: small PGTune inputs.
      nodes: [
        { name: "pg-1", address: `${prefix}.11`, role: "data", priority: 100, ramGb: 2, cpus: 2, storage: "ssd", ssh },
        { name: "pg-2", address: `${prefix}.12`, role: "data", priority: 100, ramGb: 2, cpus: 2, storage: "ssd", ssh },
        { name: "pgw-1", address: `${prefix}.13`, role: "witness", ramGb: 1, cpus: 1, storage: "ssd", ssh },
      ],
      failover: labDockerFailover(failover),
      // A cap on the WAL the primary keeps for an absent standby (docs/operations.md#replication-slots); lab disks are small.
      maxSlotWalKeepSize: "2GB",
      // No provider can be downloaded here: the containers are created with the docker CLI over SSH.
      docker: { engine: "ssh" },
    },
    installer: native.installer,
    ems: { fqdn: "ems.lab.internal", vip: `${prefix}.50`, keepaliveSeconds: 10 },
  });
}

export default labDockerDeployment();
