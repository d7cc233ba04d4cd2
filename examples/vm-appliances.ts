/**
 * The guide's "Setting up HA for EMS VM appliances": two EMS VM appliances (EMS-1 primary,
 * EMS-2 secondary) redirected to one remote PostgreSQL server that already exists and is
 * prepared (the guide's step 1). Each appliance is driven through its SSH CLI as user "ems";
 * change its initial password at the first login by hand, then set TF_VAR_appliance_password.
 * Replace addresses and checksums with your own before deploying.
 */
import type { DeploymentInput } from "ems-ha/config";

const ssh = { user: "ems" };

export default {
  topology: "vm-appliances",
  name: "ems-appliances",
  emsNodes: [
    { name: "ems-1", address: "172.19.201.161", ssh },
    { name: "ems-2", address: "172.19.201.162", ssh },
  ],
  database: {
    port: 5432,
    user: "postgres",
    nodes: [{ name: "emsdb-1", address: "172.19.201.160", role: "data" }],
  },
  standalone: { mode: "existing" },
  appliances: {
    hostnames: { "ems-1": "EMS-1", "ems-2": "EMS-2" },
    redirectTimeoutSeconds: 900,
  },
  // The appliances come with EMS installed; the installer section is not used by this topology.
  // The hosts' SSH keys: every connection verifies them (replace the placeholder keys in that file).
  ssh: { knownHostsFile: `${__dirname}/known_hosts` },
  installer: {
    version: "7.4.4.2034",
    source: { kind: "file", path: "./forticlientems_7.4.4.2034.F.bin", sha256: "0000000000000000000000000000000000000000000000000000000000000000" },
  },
  ems: { fqdn: "ha.privatehyperv.com", vip: "172.16.1.50", keepaliveSeconds: 10 },
  fortigate: {
    address: "172.19.201.1",
    incomingInterface: "port1",
    outgoingInterface: "port2",
    // The CA that signed the FortiGate's HTTPS certificate (TLS is verified by default).
    caBundleFile: "./fortigate-ca.pem",
  },
} satisfies DeploymentInput;
