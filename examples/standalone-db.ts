/**
 * The guide's "EMS nodes in HA with standalone remote DB": two EMS nodes and one PostgreSQL
 * server on a third Linux machine, set up natively by the stack (mode "managed"; use
 * { mode: "existing" } for a server you prepared yourself).
 * Replace addresses, key paths and checksums with your own before deploying.
 */
import type { DeploymentInput } from "ems-ha/config";

const ssh = { user: "root", privateKeyPath: "~/.ssh/id_ed25519" };

export default {
  topology: "standalone-db",
  name: "ems-standalone",
  emsNodes: [
    { name: "ems-1", address: "192.168.1.10", ssh },
    { name: "ems-2", address: "192.168.1.11", ssh },
  ],
  database: {
    port: 5432,
    user: "postgres",
    nodes: [{ name: "emsdb-1", address: "192.168.1.30", role: "data", ramGb: 4, cpus: 4, storage: "ssd", ssh }],
  },
  standalone: {
    mode: "managed",
    packages: "pgdg",
    extensions: { path: "./ems_pg_extensions.tar.gz", sha256: "0000000000000000000000000000000000000000000000000000000000000000" },
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
    incomingInterface: "port1",
    outgoingInterface: "port2",
    // The CA that signed the FortiGate's HTTPS certificate (TLS is verified by default).
    caBundleFile: "./fortigate-ca.pem",
  },
} satisfies DeploymentInput;
