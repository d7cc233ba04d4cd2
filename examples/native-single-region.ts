/**
 * The guide's last topology with its lab values: "EMS nodes in HA with Postgres DB HA cluster
 * using native Postgres without Docker, single region". PostgreSQL 15 and repmgr installed
 * natively on two data nodes (172.16.1.12 starts as primary, 172.16.1.15 as standby) and a
 * witness (172.16.1.22); two EMS nodes behind a FortiGate VIP 172.16.1.50.
 * Node names follow the schema (lowercase, '-'): the guide's dbnode1 is dbnode-1 here;
 * repmgr node ids come from the order below: 1, 2 and 3, as in the guide.
 * Replace addresses, key paths and checksums with your own before deploying.
 */
import type { DeploymentInput } from "ems-ha/config";

export default {
  topology: "native-single-region",
  name: "ems",
  emsNodes: [
    { name: "ems-1", address: "192.168.1.10", ssh: { user: "root", privateKeyPath: "~/.ssh/id_ed25519" } },
    { name: "ems-2", address: "192.168.1.11", ssh: { user: "root", privateKeyPath: "~/.ssh/id_ed25519" } },
  ],
  database: {
    port: 5432,
    user: "postgres",
    nodes: [
      { name: "dbnode-1", address: "172.16.1.12", role: "data", ramGb: 4, cpus: 4, storage: "ssd", ssh: { user: "root", privateKeyPath: "~/.ssh/id_ed25519" } },
      { name: "dbnode-2", address: "172.16.1.15", role: "data", ramGb: 4, cpus: 4, storage: "ssd", ssh: { user: "root", privateKeyPath: "~/.ssh/id_ed25519" } },
      {
        name: "witness-1",
        address: "172.16.1.22",
        role: "witness",
        ramGb: 2,
        cpus: 2,
        storage: "ssd",
        ssh: { user: "root", privateKeyPath: "~/.ssh/id_ed25519" },
      },
    ],
  },
  native: {
    // the guide installs from apt.postgresql.org; "distribution" or "preinstalled" for hosts without internet
    packages: "pgdg",
    // ems_pg_extensions.tar.gz from the EMS 7.4.0 page of the Fortinet Support site
    extensions: { path: "./ems_pg_extensions.tar.gz", sha256: "0000000000000000000000000000000000000000000000000000000000000000" },
    walKeepSize: "512MB",
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
  },
} satisfies DeploymentInput;
