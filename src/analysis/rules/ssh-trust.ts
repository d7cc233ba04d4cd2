/**
 * SSH and TLS trust of a deployment: whether each connection can tell the real host from an
 * impostor, and whether it can log in without an ssh agent. docs/configuration.md, "Host keys".
 */
import { pinnedHostKey, sshHostsOf } from "../../config/host-keys";
import type { Deployment } from "../../config/schema";
import type { TopologyRule } from "./rule";

function unpinned(d: Deployment): string[] {
  return sshHostsOf(d)
    .filter((h) => !pinnedHostKey(h, d.ssh))
    .map((h) => h.name ?? h.address);
}

const PIN_FIX =
  "pin each host's key: ssh.hostKey on the host (the 'ssh-ed25519 AAAA...' part of `ssh-keyscan -t ed25519 HOST`, checked out of band), or a known_hosts file named by the deployment's ssh.knownHostsFile";

/** No pinned key: Terraform's provisioners accept any host key and upload the DB password to whoever answers. */
export const sshHostKeyUnverified: TopologyRule = {
  id: "ssh-host-key-unverified",
  level: "warning",
  summary: "every SSH host's key is pinned, so secrets go only to the real host",
  check: (d) => {
    if (d.ssh.strictHostKeys) return [];
    const hosts = unpinned(d);
    return hosts.length === 0
      ? []
      : [
          {
            nodes: hosts,
            message: `no host key pinned for ${hosts.join(", ")}: Terraform's provisioners accept any key there (and send the passwords to whoever answers), and the docker provider needs the key in ~/.ssh/known_hosts`,
            fix: `${PIN_FIX}; ssh.strictHostKeys: true then refuses any host without one`,
          },
        ];
  },
};

/** ssh.strictHostKeys: a host without a pinned key is an error. */
export const sshHostKeyRequired: TopologyRule = {
  id: "ssh-host-key-required",
  level: "error",
  summary: "with ssh.strictHostKeys, every SSH host has a pinned key",
  check: (d) => {
    if (!d.ssh.strictHostKeys) return [];
    const hosts = unpinned(d);
    return hosts.length === 0
      ? []
      : [{ nodes: hosts, message: `ssh.strictHostKeys is true but ${hosts.join(", ")} ha${hosts.length === 1 ? "s" : "ve"} no pinned host key`, fix: PIN_FIX }];
  },
};

/** No privateKeyPath: Terraform logs in with the ssh agent only, and fails without one. */
export const sshAgentRequired: TopologyRule = {
  id: "ssh-agent-required",
  level: "warning",
  summary: "every SSH host names its private key (otherwise an ssh agent is required)",
  check: (d) => {
    const hosts = sshHostsOf(d)
      .filter((h) => !h.ssh.privateKeyPath)
      .map((h) => h.name ?? h.address);
    return hosts.length === 0
      ? []
      : [
          {
            nodes: hosts,
            message: `no ssh.privateKeyPath for ${hosts.join(", ")}: Terraform then authenticates only through an ssh agent (SSH_AUTH_SOCK) and fails with "no supported methods remain" without one`,
            fix: "set ssh.privateKeyPath on these hosts, or run the deploy with an ssh agent holding the key",
          },
        ];
  },
};

/** verifyTls: false sends the FortiGate token to whoever answers at its address. */
export const fortigateTlsUnverified: TopologyRule = {
  id: "fortigate-tls-unverified",
  level: "warning",
  summary: "the FortiGate's TLS certificate is verified",
  check: (d) =>
    d.fortigate && !d.fortigate.verifyTls
      ? [
          {
            nodes: [],
            message: `fortigate.verifyTls is false: the fortios provider accepts any certificate at ${d.fortigate.address} and sends the API token to it`,
            fix: "set fortigate.caBundleFile to the CA bundle that signed the FortiGate's certificate and remove verifyTls: false",
          },
        ]
      : [],
};
