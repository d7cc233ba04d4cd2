/**
 * The guide's second topology: "EMS nodes in HA with Postgres DB HA cluster for
 * geo-redundancy". Two data centres:
 *   dc1: pg-1, pg-2 (priority 100), witness pgw-1, EMS nodes ems-1 (primary) and ems-2
 *   dc2: pg-3 (priority 50), witness pgw-2, EMS node ems-3
 * Corrections to the guide (docs/analysis.md, docs/background.md#errors-in-the-guide): the second witness is pgw-2
 * (not a second pgw-1), and every witness carries its data centre's location.
 * Losing dc1 leaves no majority by design (DR needs a manual promotion in dc2): the
 * finding is acknowledged below.
 * Replace addresses, key paths and checksums with your own before deploying.
 */
import type { DeploymentInput } from "ems-ha/config";

const ssh = { user: "root", privateKeyPath: "~/.ssh/id_ed25519" };

export default {
  topology: "geo-redundant",
  name: "ems-geo",
  emsNodes: [
    { name: "ems-1", address: "192.168.1.10", ssh, location: "dc1" },
    { name: "ems-2", address: "192.168.1.11", ssh, location: "dc1" },
    { name: "ems-3", address: "192.168.2.10", ssh, location: "dc2" },
  ],
  database: {
    port: 5432,
    user: "postgres",
    image: {
      name: "ems-postgres-ha",
      tag: "latest",
      source: {
        kind: "tarball",
        path: "/root/forticlientems_postgres-ha.tar.gz",
        sha256: "0000000000000000000000000000000000000000000000000000000000000000",
      },
    },
    nodes: [
      { name: "pg-1", address: "192.168.1.21", role: "data", priority: 100, location: "dc1", ramGb: 4, cpus: 4, storage: "ssd", ssh },
      { name: "pg-2", address: "192.168.1.22", role: "data", priority: 100, location: "dc1", ramGb: 4, cpus: 4, storage: "ssd", ssh },
      { name: "pgw-1", address: "192.168.1.23", role: "witness", location: "dc1", ramGb: 2, cpus: 2, storage: "ssd", ssh },
      { name: "pg-3", address: "192.168.2.21", role: "data", priority: 50, location: "dc2", ramGb: 4, cpus: 4, storage: "ssd", ssh },
      { name: "pgw-2", address: "192.168.2.23", role: "witness", location: "dc2", ramGb: 2, cpus: 2, storage: "ssd", ssh },
    ],
  },
  // The hosts' SSH keys: every connection verifies them (replace the placeholder keys in that file).
  ssh: { knownHostsFile: `${__dirname}/known_hosts` },
  installer: {
    version: "7.4.4.2034",
    source: {
      kind: "file",
      path: "./forticlientems_7.4.4.2034.F.bin",
      sha256: "0000000000000000000000000000000000000000000000000000000000000000",
    },
    installDir: "/opt/ems-ha/installer",
  },
  ems: { fqdn: "ha.privatehyperv.com", vip: "172.16.1.50", keepaliveSeconds: 10 },
  fortigate: {
    address: "192.168.1.1",
    vdom: "root",
    incomingInterface: "port1",
    outgoingInterface: "port2",
    // The CA that signed the FortiGate's HTTPS certificate (TLS is verified by default).
    caBundleFile: "./fortigate-ca.pem",
    chromebook: false,
    acme: false,
  },
  acknowledgements: [
    {
      rule: "location-loss-no-majority",
      reason: "dc2 is the disaster-recovery site: after losing dc1 we promote pg-3 by hand, as the guide intends",
    },
  ],
} satisfies DeploymentInput;
