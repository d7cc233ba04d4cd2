/**
 * pg_hba.conf lines of the native cluster. They form a managed block the setup script
 * puts at the top of the file, before Debian's defaults: the first matching line wins,
 * so appended repmgr lines would lose to `local all all peer` (docs/background.md#native-postgresql-and-repmgr).
 */
import type { Deployment } from "../../config/schema";
import { isIpv4 } from "../../config/semantics";
import { hbaField } from "../escape";
import { nativeMembers, nativeSettings, type NativeMember } from "./layout";

export const HBA_BEGIN = "# BEGIN ems-ha managed block (do not edit; rewritten on deploy)";
export const HBA_END = "# END ems-ha managed block";

export interface HbaLine {
  readonly type: "local" | "host";
  readonly database: string;
  readonly user: string;
  readonly address?: string;
  readonly method: string;
}

/** A member's address as a pg_hba address field: an IPv4 /32, an IPv6 /128 or a host name. */
export function hbaAddress(address: string): string {
  if (isIpv4(address)) return `${address}/32`;
  if (address.includes(":")) return `${hbaField(address, "address")}/128`;
  return hbaField(address, "address");
}

/**
 * The block's lines for one member. repmgr connects with a password (scram-sha-256) from
 * ~postgres/.pgpass instead of the guide's `trust`; loopback covers 127.0.0.1 and ::1
 * because `localhost` may resolve to either.
 */
export function hbaLines(d: Deployment, _self: NativeMember): HbaLine[] {
  const method = "scram-sha-256";
  const lines: HbaLine[] = [];
  for (const db of ["replication", "repmgr"]) {
    lines.push({ type: "local", database: db, user: "repmgr", method });
    lines.push({ type: "host", database: db, user: "repmgr", address: "127.0.0.1/32", method });
    lines.push({ type: "host", database: db, user: "repmgr", address: "::1/128", method });
    for (const m of nativeMembers(d)) lines.push({ type: "host", database: db, user: "repmgr", address: hbaAddress(m.address), method });
  }
  // Clients (EMS on data nodes; monitoring such as `ems-ha status` everywhere) log in with a password,
  // as the guide's last line does on every node, the witness included: the block is the same on every member.
  for (const net of nativeSettings(d).clientNetworks) lines.push({ type: "host", database: "all", user: "all", address: net, method });
  return lines;
}

export function formatHbaLine(l: HbaLine): string {
  const cols = [
    l.type.padEnd(6),
    hbaField(l.database, "database").padEnd(12),
    hbaField(l.user, "user").padEnd(8),
    (l.address === undefined ? "" : hbaField(l.address, "address")).padEnd(24),
    l.method,
  ];
  return cols.join(" ").replace(/ +$/, "");
}

export function renderHbaBlock(d: Deployment, self: NativeMember): string {
  return [HBA_BEGIN, ...hbaLines(d, self).map(formatHbaLine), HBA_END].join("\n") + "\n";
}
