/** Which hosts a deployment needs in the lab, and the lab subnet its addresses imply. */
import type { Deployment } from "../../src/config/schema";
import { LabError } from "./exec";
import type { LabHostRole } from "./state";

export interface PlannedHost {
  readonly name: string;
  readonly address: string;
  readonly role: LabHostRole;
  /** ssh.privateKeyPath of the node, if any. */
  readonly privateKeyPath?: string;
}

export function plannedHosts(d: Deployment): PlannedHost[] {
  return [
    ...d.database.nodes.map((n) => ({ name: n.name, address: n.address, role: n.role, privateKeyPath: n.ssh.privateKeyPath })),
    ...d.emsNodes.map((n) => ({ name: n.name, address: n.address, role: "ems" as const, privateKeyPath: n.ssh.privateKeyPath })),
  ];
}

/**
 * The /24 every host address must share. .0, .1 (the bridge on this machine) and .255
 * are not host addresses.
 */
export function labPrefixOf(hosts: readonly PlannedHost[]): string {
  const bad = hosts.filter((h) => !/^\d+\.\d+\.\d+\.\d+$/.test(h.address));
  if (bad.length > 0) throw new LabError(`lab hosts need IPv4 addresses; ${bad.map((h) => `${h.name} has '${h.address}'`).join(", ")}`);
  const prefixes = [...new Set(hosts.map((h) => h.address.split(".").slice(0, 3).join(".")))];
  if (prefixes.length !== 1) {
    throw new LabError(
      `lab hosts must share one /24; the deployment uses ${prefixes.map((p) => `${p}.0/24`).join(", ")} (use labDeployment(prefix) from examples/lab.ts)`,
    );
  }
  const reserved = hosts.filter((h) => ["0", "1", "255"].includes(h.address.split(".")[3]));
  if (reserved.length > 0) {
    throw new LabError(`${reserved.map((h) => `${h.name} (${h.address})`).join(", ")}: .0, .1 (the lab bridge) and .255 are not host addresses`);
  }
  const names = hosts.map((h) => h.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new LabError(`host name ${dup} appears twice`);
  return prefixes[0];
}
