/**
 * The guide's geo-redundant topology on lab hosts (`npm run lab -- up --config
 * examples/lab-geo-docker.ts`): two locations in one private /24 (default 10.231.18.0/24).
 *   dc1: pg-1 .11, pg-2 .12 (data, priority 100), pgw-1 .13 (witness), ems-1 .21, ems-2 .22
 *   dc2: pg-3 .14 (data, priority 50), pgw-2 .15 (witness), ems-3 .23
 * With the corrections the toolkit makes to the guide (the second witness is pgw-2, each witness
 * in its data centre's location). The DB hosts run Debian's Docker engine and the STAND-IN for
 * the vendor image (test/standins/ems-postgres-ha, not the product), as in examples/lab-docker.ts.
 */
import { defineDeployment } from "../src/config/parse";
import type { DeploymentInput } from "../src/config/schema";
import { checkSubnetPrefix, labKeyPath } from "../lab/lib/paths";
import { standinImageSync } from "../test/standins/ems-postgres-ha/sync";
import { labDeployment, type LabFailover } from "./lab";
import { labDockerFailover, labImageSection, type LabImage } from "./lab-docker";

export const DEFAULT_GEO_LAB_SUBNET = "10.231.18";

export function labGeoDockerDeployment(
  prefix: string = DEFAULT_GEO_LAB_SUBNET,
  image: LabImage = standinImageSync("7.4.4"),
  failover: LabFailover = "tuned",
): DeploymentInput {
  checkSubnetPrefix(prefix);
  const ssh = { user: "root", port: 22, privateKeyPath: labKeyPath(prefix) };
  const small = { ramGb: 2, cpus: 2, storage: "ssd" as const, ssh };
  return defineDeployment({
    topology: "geo-redundant",
    name: "ems-lab-geo",
    emsNodes: [
      { name: "ems-1", address: `${prefix}.21`, ssh, location: "dc1" },
      { name: "ems-2", address: `${prefix}.22`, ssh, location: "dc1" },
      { name: "ems-3", address: `${prefix}.23`, ssh, location: "dc2" },
    ],
    database: {
      port: 5432,
      user: "postgres",
      image: labImageSection(image),
      nodes: [
        { name: "pg-1", address: `${prefix}.11`, role: "data", priority: 100, location: "dc1", ...small },
        { name: "pg-2", address: `${prefix}.12`, role: "data", priority: 100, location: "dc1", ...small },
        { name: "pgw-1", address: `${prefix}.13`, role: "witness", location: "dc1", ...small, ramGb: 1, cpus: 1 },
        { name: "pg-3", address: `${prefix}.14`, role: "data", priority: 50, location: "dc2", ...small },
        { name: "pgw-2", address: `${prefix}.15`, role: "witness", location: "dc2", ...small, ramGb: 1, cpus: 1 },
      ],
      failover: labDockerFailover(failover),
      // No provider can be downloaded here: the containers are created with the docker CLI over SSH.
      docker: { engine: "ssh" },
    },
    installer: labDeployment(prefix).installer,
    ems: { fqdn: "ems.lab.internal", vip: `${prefix}.50`, keepaliveSeconds: 10 },
    acknowledgements: [
      {
        rule: "location-loss-no-majority",
        reason: "dc2 is the disaster-recovery site: after losing dc1 pg-3 is promoted by hand, as the guide intends",
      },
    ],
  });
}

export default labGeoDockerDeployment();
