/**
 * The guide's "To upgrade a previously installed EMS deployment with Postgres HA using EMS
 * PostgreSQL HA Docker to 7.4.4": the running cluster pg-1 (primary), pg-2 and witness pgw-1
 * moves to the 7.4.4 image as pgn-1, pgn-2 and pgnw-1 (the guide's new names), each on its
 * own existing volume (pg_1_data, pg_2_data, pgw_1_data). database.nodes describe the cluster
 * after the upgrade; database.image is the new image.
 * Replace addresses, key paths and checksums with your own before deploying.
 */
import type { DeploymentInput } from "ems-ha/config";

const ssh = { user: "root", privateKeyPath: "~/.ssh/id_ed25519" };

export default {
  topology: "upgrade-7-4-4",
  name: "ems-upgrade",
  emsNodes: [
    { name: "ems-1", address: "192.168.1.10", ssh },
    { name: "ems-2", address: "192.168.1.11", ssh },
  ],
  database: {
    port: 5432,
    user: "postgres",
    confDir: "/home/ems/conf.d",
    image: {
      name: "ems-postgres-ha",
      tag: "latest",
      source: {
        kind: "tarball",
        path: "/root/forticlientems_7.4.4.2034.F_postgres-ha.tar.gz",
        sha256: "0000000000000000000000000000000000000000000000000000000000000000",
      },
    },
    nodes: [
      { name: "pgn-1", address: "192.168.1.21", role: "data", priority: 100, ssh },
      { name: "pgn-2", address: "192.168.1.22", role: "data", priority: 100, ssh },
      { name: "pgnw-1", address: "192.168.1.23", role: "witness", ssh },
    ],
  },
  upgrade: {
    previous: [
      { node: "pgn-1", container: "pg-1" },
      { node: "pgn-2", container: "pg-2" },
      { node: "pgnw-1", container: "pgw-1" },
    ],
  },
  // The hosts' SSH keys: every connection verifies them (replace the placeholder keys in that file).
  ssh: { knownHostsFile: `${__dirname}/known_hosts` },
  installer: {
    version: "7.4.4.2034",
    source: { kind: "file", path: "./forticlientems_7.4.4.2034.F.bin", sha256: "0000000000000000000000000000000000000000000000000000000000000000" },
  },
  ems: { fqdn: "ha.privatehyperv.com", vip: "172.16.1.50", keepaliveSeconds: 10 },
} satisfies DeploymentInput;
