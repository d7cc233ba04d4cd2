/**
 * The error rules: the semantic checks of src/config/semantics.ts (which also run
 * inside parseDeployment), each given a rule id and reported as findings.
 */
import type { ConfigIssue } from "../../config/errors";
import { CONFIG_CHECKS, type SemanticCheck } from "../../config/semantics";
import type { Deployment } from "../../config/schema";
import type { RuleHit, TopologyRule } from "./rule";

/** Rule ids of the known checks. A check added later gets its function name in kebab case. */
const IDS: ReadonlyArray<[string, string, string]> = [
  ["uniqueNames", "unique-names", "every host has its own name"],
  ["uniqueAddresses", "unique-addresses", "every host has its own address"],
  ["uniqueNodeIds", "unique-node-ids", "every DB node has its own repmgr node id"],
  ["bitnamiNames", "bitnami-node-names", "with the Docker image, DB node names end in -<number>"],
  ["dockerAddressesAreIps", "docker-addresses-are-ips", "with the Docker image, DB node addresses are IPv4 addresses"],
  ["promotableDataNode", "promotable-data-node", "at least one data node can be promoted (priority > 0)"],
  ["witnessPriority", "witness-priority", "witnesses have no priority (always 0)"],
  ["initialPrimaryIsData", "initial-primary-is-data", "the initial primary is a data node of the cluster"],
  ["keepaliveRange", "keepalive-range", "the EMS keep-alive interval is 5-30 s"],
  ["vipIsIpv4", "vip-is-ipv4", "the VIP is an IPv4 address"],
  ["installerNotInTmp", "installer-not-in-tmp", "the installer directory is not under /tmp"],
];

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s;
}

/** The node names an issue talks about: indexed paths in its path or message, and names in its value or message. */
export function nodesOfIssue(d: Deployment, issue: ConfigIssue): string[] {
  const names = new Set<string>();
  const text = `${issue.path} ${issue.message}`;
  for (const m of text.matchAll(/(database\.nodes|emsNodes)\[(\d+)\]/g)) {
    const list = m[1] === "emsNodes" ? d.emsNodes : d.database.nodes;
    const n = list[Number(m[2])];
    if (n) names.add(n.name);
  }
  const all = [...d.database.nodes, ...d.emsNodes].map((n) => n.name);
  const words = new Set(`${issue.message} ${show(issue.value)}`.split(/[^a-z0-9-]+/));
  for (const n of all) if (words.has(n)) names.add(n);
  return [...names];
}

export function ruleFromCheck(check: SemanticCheck): TopologyRule {
  const known = IDS.find(([fn]) => fn === check.name);
  const id = known?.[1] ?? kebab(check.name || "config-check");
  return {
    id,
    level: "error",
    summary: known?.[2] ?? `config check ${id}`,
    check: (d): RuleHit[] =>
      check(d).map((issue) => ({
        nodes: nodesOfIssue(d, issue),
        message: `${issue.path}: ${issue.message} (got ${show(issue.value)})`,
        fix: issue.fix,
      })),
  };
}

export const CONFIG_RULES: ReadonlyArray<TopologyRule> = CONFIG_CHECKS.map(ruleFromCheck);
