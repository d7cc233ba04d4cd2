/**
 * The FortiGate objects that load-balance EMS (the guide's step 6), as plain data in the
 * fortinetdev/fortios provider's attribute names (docs/background.md#the-fortios-provider), and as a FortiOS CLI script.
 */
import { emsPorts } from "../config/derive";
import type { Deployment, FortiGateConfig } from "../config/schema";
import { fortiosString, fortiosWord } from "./escape";

export interface LdbMonitor {
  readonly name: string;
  readonly type: "tcp";
  readonly interval: number;
  readonly timeout: number;
  readonly retry: number;
  readonly port: number;
}

export interface RealServer {
  readonly id: number;
  readonly type: "ip";
  readonly ip: string;
  readonly port: number;
  readonly status: "active";
  readonly max_connections: number;
}

export interface LbVip {
  readonly name: string;
  readonly type: "server-load-balance";
  readonly server_type: "tcp";
  readonly ldb_method: "first-alive";
  readonly extip: string;
  readonly extintf: string;
  readonly extport: string;
  readonly monitor: ReadonlyArray<{ readonly name: string }>;
  readonly realservers: ReadonlyArray<RealServer>;
}

export interface LbPolicy {
  readonly policyid: number;
  readonly name: string;
  readonly srcintf: ReadonlyArray<{ readonly name: string }>;
  readonly dstintf: ReadonlyArray<{ readonly name: string }>;
  readonly srcaddr: ReadonlyArray<{ readonly name: string }>;
  readonly dstaddr: ReadonlyArray<{ readonly name: string }>;
  readonly service: ReadonlyArray<{ readonly name: string }>;
  readonly action: "accept";
  readonly schedule: "always";
  readonly inspection_mode: "proxy";
  readonly nat: "disable";
}

export interface FortiGateObjects {
  readonly monitor: LdbMonitor;
  readonly vips: ReadonlyArray<LbVip>;
  readonly policies: ReadonlyArray<LbPolicy>;
}

/** The guide's health check: TCP, interval 10, timeout 2, retry 3, port 8013. */
export const HEALTH_CHECK = { interval: 10, timeout: 2, retry: 3, port: 8013 } as const;

export function fortigateObjects(d: Deployment, fg: FortiGateConfig): FortiGateObjects {
  const p = fg.namePrefix;
  const monitor: LdbMonitor = { name: `${p}-tcp-${HEALTH_CHECK.port}`, type: "tcp", ...HEALTH_CHECK };
  const vips: LbVip[] = emsPorts(fg).map((port) => ({
    name: `${p}-vip-${port}`,
    type: "server-load-balance",
    server_type: "tcp",
    ldb_method: "first-alive",
    extip: d.ems.vip,
    extintf: fg.incomingInterface,
    extport: String(port),
    monitor: [{ name: monitor.name }],
    // Explicit ids in config order: stable across applies (provider issue #432).
    realservers: d.emsNodes.map((n, i) => ({ id: i + 1, type: "ip", ip: n.address, port, status: "active", max_connections: 0 })),
  }));
  const dst = vips.map((v) => ({ name: v.name }));
  const policy = (id: number, name: string, inIf: string, outIf: string): LbPolicy => ({
    policyid: id,
    name,
    srcintf: [{ name: inIf }],
    dstintf: [{ name: outIf }],
    srcaddr: [{ name: "all" }],
    dstaddr: dst,
    service: [{ name: "ALL" }],
    action: "accept",
    schedule: "always",
    inspection_mode: "proxy",
    nat: "disable",
  });
  const policies = [
    policy(fg.policyIdBase, `${p}-ems`, fg.incomingInterface, fg.outgoingInterface),
    ...fg.extraEmsSubnets.map((s, i) => policy(fg.policyIdBase + i + 1, `${p}-ems-${i + 2}`, s.incomingInterface ?? fg.incomingInterface, s.outgoingInterface)),
  ];
  for (const x of [...vips.map((v) => v.name), monitor.name])
    if (x.length > 79) throw new Error(`FortiGate object name ${x} is longer than 79 characters; shorten fortigate.namePrefix`);
  for (const x of policies) if (x.name.length > 35) throw new Error(`policy name ${x.name} is longer than 35 characters; shorten fortigate.namePrefix`);
  return { monitor, vips, policies };
}

function names(list: ReadonlyArray<{ name: string }>, field: string): string {
  return list.map((x) => fortiosString(x.name, field)).join(" ");
}

/**
 * The same objects as a FortiOS CLI script, for people who configure by hand. Every value is a
 * FortiOS quoted string or a plain token ({@link fortiosString}, {@link fortiosWord}); a value
 * with a control character (a newline would start another command) is refused.
 */
export function renderFortiOsCli(o: FortiGateObjects, vdom?: string): string {
  const str = fortiosString;
  const word = fortiosWord;
  const out: string[] = [];
  if (vdom) out.push("config vdom", "edit " + str(vdom, "fortigate.vdom"));
  out.push(
    "config firewall ldb-monitor",
    "    edit " + str(o.monitor.name, "health check name"),
    "        set type " + word(o.monitor.type),
    "        set interval " + word(o.monitor.interval),
    "        set timeout " + word(o.monitor.timeout),
    "        set retry " + word(o.monitor.retry),
    "        set port " + word(o.monitor.port),
    "    next",
    "end",
    "config firewall vip",
  );
  for (const v of o.vips) {
    out.push(
      "    edit " + str(v.name, "VIP name"),
      "        set type " + word(v.type),
      "        set extip " + word(v.extip, "ems.vip"),
      "        set extintf " + str(v.extintf, "fortigate.incomingInterface"),
      "        set server-type " + word(v.server_type),
      "        set extport " + word(v.extport),
      "        set ldb-method " + word(v.ldb_method),
      "        set monitor " + names(v.monitor, "health check name"),
      "        config realservers",
    );
    for (const r of v.realservers) {
      out.push(
        "            edit " + word(r.id),
        "                set ip " + word(r.ip, "emsNodes[].address"),
        "                set port " + word(r.port),
        "                set status " + word(r.status),
        "                set max-connections " + word(r.max_connections),
        "            next",
      );
    }
    out.push("        end", "    next");
  }
  out.push("end", "config firewall policy");
  for (const p of o.policies) {
    out.push(
      "    edit " + word(p.policyid),
      "        set name " + str(p.name, "policy name"),
      "        set srcintf " + names(p.srcintf, "fortigate interface"),
      "        set dstintf " + names(p.dstintf, "fortigate interface"),
      "        set action " + word(p.action),
      "        set srcaddr " + names(p.srcaddr, "address name"),
      "        set dstaddr " + names(p.dstaddr, "VIP name"),
      "        set schedule " + str(p.schedule),
      "        set service " + names(p.service, "service name"),
      "        set inspection-mode " + word(p.inspection_mode),
      "        set nat " + word(p.nat),
      "    next",
    );
  }
  out.push("end");
  if (vdom) out.push("end");
  return out.join("\n") + "\n";
}
