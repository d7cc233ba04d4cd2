/** The EMS GUI steps that have no automation, with the deployment's own values. */
import type { Deployment } from "../config/schema";

export function guiChecklist(d: Deployment): string[] {
  const primary = d.emsNodes[0];
  return [
    `Log in to the EMS primary (${primary?.name ?? "first EMS node"}, https://${primary?.address ?? "?"}) and add the license (one license covers every node).`,
    "System Settings > EMS Settings > Shared Settings: confirm Listen on IP is All.",
    `Enable Use FQDN and enter ${d.ems.fqdn}.`,
    `Custom hostname: enter the FortiGate VIP ${d.ems.vip}.`,
    `High Availability Keep Alive Interval: ${d.ems.keepaliveSeconds} seconds.`,
    `Dashboard > Status: the System Information widget shows HA mode with ${d.emsNodes.map((n) => n.name).join(", ")}.`,
    ...(d.fortigate ? [policyOrderStep(d.fortigate)] : []),
  ];
}

export function renderChecklist(d: Deployment): string {
  return ["Manual EMS steps (no API exists for them):", ...guiChecklist(d).map((s, i) => `  [ ] ${i + 1}. ${s}`)].join("\n") + "\n";
}

/** FortiGate evaluates policies top-down: a new one is appended at the bottom, below any broader policy. */
function policyOrderStep(fg: NonNullable<Deployment["fortigate"]>): string {
  const id = fg.policyIdBase;
  if (fg.placeBefore !== undefined)
    return `FortiGate > Policy & Objects > Firewall Policy: policy ${id} was moved before policy ${fg.placeBefore}; check no policy above it matches the same traffic.`;
  if (fg.placeAfter !== undefined)
    return `FortiGate > Policy & Objects > Firewall Policy: policy ${id} was moved after policy ${fg.placeAfter}; check no policy above it matches the same traffic.`;
  return `FortiGate > Policy & Objects > Firewall Policy: policy ${id} was added at the bottom of the list; move it above any broader policy that matches the same traffic, or set fortigate.placeBefore.`;
}
