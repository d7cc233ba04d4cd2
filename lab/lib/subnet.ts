/** Choosing the lab's /24: it must not overlap anything this machine already routes or holds. */
import { LabError, runOk } from "./exec";

interface Net {
  readonly base: number;
  readonly bits: number;
}

function ipToInt(ip: string): number {
  const p = ip.split(".").map(Number);
  return (((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3]) >>> 0;
}

function parseNet(s: string): Net | undefined {
  if (s === "default") return { base: 0, bits: 0 };
  const [ip, bitsText] = s.split("/");
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return undefined;
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { base: (ipToInt(ip) & mask) >>> 0, bits };
}

function overlaps(a: Net, b: Net): boolean {
  const bits = Math.min(a.bits, b.bits);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (a.base & mask) >>> 0 === (b.base & mask) >>> 0;
}

export interface SubnetUse {
  readonly what: string;
}

export interface IpRoute {
  readonly dst: string;
  readonly dev?: string;
}
export interface IpLink {
  readonly ifname: string;
  readonly addr_info?: ReadonlyArray<{ readonly local: string; readonly prefixlen: number }>;
}

/**
 * What in `routes` / `links` (the JSON of `ip -j -4 route|addr`) overlaps `prefix`.0/24. The
 * default route covers everything and does not count; `ignoreDevice` is the lab's own bridge.
 */
export function usesIn(prefix: string, routes: readonly IpRoute[], links: readonly IpLink[], ignoreDevice?: string): SubnetUse[] {
  const lab = parseNet(`${prefix}.0/24`)!;
  const uses: SubnetUse[] = [];
  for (const r of routes) {
    if (r.dst === "default" || r.dev === ignoreDevice || r.dev === "lo") continue;
    const n = parseNet(r.dst);
    if (n && n.bits > 0 && overlaps(n, lab)) uses.push({ what: `route ${r.dst}${r.dev ? ` dev ${r.dev}` : ""}` });
  }
  for (const l of links) {
    if (l.ifname === ignoreDevice) continue;
    for (const a of l.addr_info ?? []) {
      if (overlaps(parseNet(`${a.local}/32`)!, lab)) uses.push({ what: `address ${a.local}/${a.prefixlen} on ${l.ifname}` });
    }
  }
  return uses;
}

/** What on this machine already uses `prefix`.0/24 (routes of every table, addresses). */
export function subnetUses(prefix: string, ignoreDevice?: string): SubnetUse[] {
  const routes = JSON.parse(runOk("ip", ["-j", "-4", "route", "show", "table", "all"]) || "[]") as IpRoute[];
  const links = JSON.parse(runOk("ip", ["-j", "-4", "addr"]) || "[]") as IpLink[];
  return usesIn(prefix, routes, links, ignoreDevice);
}

/** Throws when the subnet is in use, naming what uses it and how to pick another. */
export function assertSubnetFree(prefix: string, ignoreDevice?: string): void {
  const uses = subnetUses(prefix, ignoreDevice);
  if (uses.length > 0) {
    throw new LabError(
      `lab subnet ${prefix}.0/24 is already in use on this machine (${uses.map((u) => u.what).join("; ")}); ` +
        `pick a free one with --subnet (e.g. ${suggestFreeSubnet() ?? "10.231.9"}) or stop the lab that holds it (npm run lab -- down)`,
    );
  }
}

/** Candidates 10.231.7 … 10.231.30, then 10.232.7 …: the first one nothing uses. */
export function suggestFreeSubnet(candidates: readonly string[] = defaultCandidates()): string | undefined {
  return candidates.find((c) => subnetUses(c).length === 0);
}

function defaultCandidates(): string[] {
  const out: string[] = [];
  for (const b of [231, 232, 233]) for (let c = 7; c <= 30; c++) out.push(`10.${b}.${c}`);
  return out;
}
