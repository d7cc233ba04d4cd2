/**
 * The guide's first topology with its lab values: "EMS nodes in HA with Postgres DB HA
 * cluster using EMS PostgreSQL HA Docker, single region".
 * Two data nodes (pg-1, pg-2) and a witness (pgw-1), 4 GB RAM / 4 CPUs / SSD each,
 * two EMS nodes behind a FortiGate VIP 172.16.1.50.
 * Replace addresses, key paths and checksums with your own before deploying.
 */
import type { DeploymentInput } from "ems-ha/config";

export default {
  topology: "single-region",
  name: "ems",
  emsNodes: [
    { name: "ems-1", address: "192.168.1.10", ssh: { user: "root", privateKeyPath: "~/.ssh/id_ed25519" } },
    { name: "ems-2", address: "192.168.1.11", ssh: { user: "root", privateKeyPath: "~/.ssh/id_ed25519" } },
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
      {
        name: "pg-1",
        address: "192.168.1.21",
        role: "data",
        priority: 100,
        ramGb: 4,
        cpus: 4,
        storage: "ssd",
        ssh: { user: "root", privateKeyPath: "~/.ssh/id_ed25519" },
      },
      {
        name: "pg-2",
        address: "192.168.1.22",
        role: "data",
        priority: 100,
        ramGb: 4,
        cpus: 4,
        storage: "ssd",
        ssh: { user: "root", privateKeyPath: "~/.ssh/id_ed25519" },
      },
      {
        name: "pgw-1",
        address: "192.168.1.23",
        role: "witness",
        ramGb: 2,
        cpus: 2,
        storage: "ssd",
        ssh: { user: "root", privateKeyPath: "~/.ssh/id_ed25519" },
      },
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
} satisfies DeploymentInput;
