/**
 * Acme's EMS deployment, in Acme's naming: three database hosts in two rooms of one site,
 * two EMS hosts, the image from Acme's own registry. Validated by ems-ha's schema before
 * any construct sees it (a mistake fails here with the field, the value and the fix).
 */
import { defineDeployment } from "ems-ha/config";

export default defineDeployment({
  topology: "single-region",
  name: "ledger-ems",
  emsNodes: [
    { name: "ledger-ems-1", address: "10.40.1.11", ssh: { user: "deploy", privateKeyPath: "~/.ssh/acme_deploy" } },
    { name: "ledger-ems-2", address: "10.40.1.12", ssh: { user: "deploy", privateKeyPath: "~/.ssh/acme_deploy" } },
  ],
  database: {
    image: { name: "ems-postgres-ha", tag: "7.4.4", source: { kind: "registry", registry: "registry.acme.example/fortinet" } },
    nodes: [
      {
        name: "ledger-db-1",
        address: "10.40.2.21",
        role: "data",
        location: "room-a",
        ramGb: 8,
        cpus: 4,
        ssh: { user: "deploy", privateKeyPath: "~/.ssh/acme_deploy" },
      },
      {
        name: "ledger-db-2",
        address: "10.40.2.22",
        role: "data",
        location: "room-b",
        ramGb: 8,
        cpus: 4,
        ssh: { user: "deploy", privateKeyPath: "~/.ssh/acme_deploy" },
      },
      {
        name: "ledger-dbw-3",
        address: "10.40.2.23",
        role: "witness",
        location: "room-c",
        ramGb: 2,
        cpus: 2,
        ssh: { user: "deploy", privateKeyPath: "~/.ssh/acme_deploy" },
      },
    ],
  },
  installer: {
    version: "7.4.4.2034",
    source: {
      kind: "url",
      url: "https://artifacts.acme.example/fortinet/forticlientems_7.4.4.2034.F.bin",
      sha256: "1111111111111111111111111111111111111111111111111111111111111111",
    },
  },
  ems: { fqdn: "ems.acme.example", vip: "10.40.0.50" },
  fortigate: {
    address: "10.40.0.1",
    vdom: "dc1",
    incomingInterface: "wan1",
    outgoingInterface: "dc-servers",
    namePrefix: "ledger",
    caBundleFile: "fortigate-ca.pem",
  },
});
