/**
 * Cross-field checks of a deployment that a schema cannot express.
 * Each check is a small pure function returning the issues it finds.
 */
import type { ConfigIssue } from "./errors";
import { nameNumber, repmgrNodeId } from "./derive";
import type { Deployment } from "./schema";

export type SemanticCheck = (d: Deployment) => ConfigIssue[];

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export function isIpv4(s: string): boolean {
  return IPV4.test(s);
}

/** Topologies that run the Bitnami-based ems-postgres-ha image. */
export const DOCKER_TOPOLOGIES = new Set(["single-region", "geo-redundant", "upgrade-7-4-4"]);

export const uniqueNames: SemanticCheck = (d) => {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, string>();
  const all = [
    ...d.database.nodes.map((n, i) => ({ name: n.name, path: `database.nodes[${i}].name` })),
    ...d.emsNodes.map((n, i) => ({ name: n.name, path: `emsNodes[${i}].name` })),
  ];
  for (const { name, path } of all) {
    const first = seen.get(name);
    if (first) issues.push({ path, value: name, message: `duplicate node name, already used by ${first}`, fix: "give every host a unique name (the geo guide's second witness must be pgw-2, not pgw-1)" });
    else seen.set(name, path);
  }
  return issues;
};

export const uniqueAddresses: SemanticCheck = (d) => {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, string>();
  const all = [
    ...d.database.nodes.map((n, i) => ({ a: n.address, path: `database.nodes[${i}].address` })),
    ...d.emsNodes.map((n, i) => ({ a: n.address, path: `emsNodes[${i}].address` })),
  ];
  for (const { a, path } of all) {
    const first = seen.get(a.toLowerCase());
    if (first) issues.push({ path, value: a, message: `duplicate address, already used by ${first}`, fix: "each node runs on its own host with its own address" });
    else seen.set(a.toLowerCase(), path);
  }
  return issues;
};

export const uniqueNodeIds: SemanticCheck = (d) => {
  const issues: ConfigIssue[] = [];
  const seen = new Map<number, string>();
  d.database.nodes.forEach((n, i) => {
    const id = repmgrNodeId(n);
    if (id === undefined) return;
    const first = seen.get(id);
    if (first) issues.push({ path: `database.nodes[${i}]`, value: n.name, message: `repmgr node id ${id} is also the id of ${first}`, fix: "rename the node (the id comes from the number after the last '-') or set a distinct nodeId" });
    else seen.set(id, n.name);
  });
  return issues;
};

export const bitnamiNames: SemanticCheck = (d) => {
  if (!DOCKER_TOPOLOGIES.has(d.topology)) return [];
  return d.database.nodes.flatMap((n, i) =>
    nameNumber(n.name) === undefined && n.nodeId === undefined
      ? [{ path: `database.nodes[${i}].name`, value: n.name, message: "the ems-postgres-ha image derives the repmgr node id from a trailing -<number>", fix: `name it like ${n.role === "witness" ? "pgw-1" : "pg-1"}` }]
      : [],
  );
};

export const dockerAddressesAreIps: SemanticCheck = (d) => {
  if (!DOCKER_TOPOLOGIES.has(d.topology)) return [];
  return d.database.nodes.flatMap((n, i) =>
    isIpv4(n.address) ? [] : [{ path: `database.nodes[${i}].address`, value: n.address, message: "docker --add-host needs an IP address", fix: "use the node's IPv4 address" }],
  );
};

export const promotableDataNode: SemanticCheck = (d) => {
  const data = d.database.nodes.filter((n) => n.role === "data");
  if (data.length === 0) return [{ path: "database.nodes", value: d.database.nodes.map((n) => n.name), message: "no data node", fix: "add at least one node with role \"data\"" }];
  if (!data.some((n) => (n.priority ?? 100) > 0)) return [{ path: "database.nodes", value: data.map((n) => `${n.name}:${n.priority}`), message: "no data node can be promoted (every priority is 0)", fix: "give at least one data node a priority above 0" }];
  return [];
};

export const witnessPriority: SemanticCheck = (d) =>
  d.database.nodes.flatMap((n, i) =>
    n.role === "witness" && n.priority !== undefined && n.priority !== 0
      ? [{ path: `database.nodes[${i}].priority`, value: n.priority, message: "a witness never holds data and is never promoted", fix: "remove priority from the witness (it is always 0)" }]
      : [],
  );

export const initialPrimaryIsData: SemanticCheck = (d) => {
  const want = d.database.initialPrimary;
  if (want === undefined) return [];
  const n = d.database.nodes.find((x) => x.name === want);
  if (!n) return [{ path: "database.initialPrimary", value: want, message: "no DB node has this name", fix: `use one of ${d.database.nodes.filter((x) => x.role === "data").map((x) => x.name).join(", ")}` }];
  if (n.role !== "data") return [{ path: "database.initialPrimary", value: want, message: "a witness cannot be the primary", fix: "name a data node" }];
  return [];
};

export const keepaliveRange: SemanticCheck = (d) =>
  d.ems.keepaliveSeconds < 5 || d.ems.keepaliveSeconds > 30
    ? [{ path: "ems.keepaliveSeconds", value: d.ems.keepaliveSeconds, message: "EMS accepts a keep-alive interval of 5 to 30 seconds", fix: "use a value from 5 to 30 (the default is 10)" }]
    : [];

export const vipIsIpv4: SemanticCheck = (d) =>
  isIpv4(d.ems.vip) ? [] : [{ path: "ems.vip", value: d.ems.vip, message: "the VIP must be an IPv4 address", fix: "use the FortiGate virtual server address, e.g. 172.16.1.50" }];

export const installerNotInTmp: SemanticCheck = (d) => {
  const dir = d.installer.installDir.replace(/\/+$/, "");
  return dir === "/tmp" || dir.startsWith("/tmp/") || dir === "/var/tmp" || dir.startsWith("/var/tmp/")
    ? [{ path: "installer.installDir", value: d.installer.installDir, message: "the guide says running the installer to or from /tmp causes issues", fix: "use a directory such as /opt/ems-ha/installer" }]
    : [];
};

/** Topologies whose EMS nodes use one remote PostgreSQL server (database.nodes[0]). */
export const STANDALONE_TOPOLOGIES = new Set(["standalone-db", "vm-appliances"]);

export const standaloneServer: SemanticCheck = (d) => {
  if (!STANDALONE_TOPOLOGIES.has(d.topology)) return [];
  const issues: ConfigIssue[] = [];
  if (!d.standalone) {
    issues.push({ path: "standalone", value: undefined, message: `topology ${d.topology} needs the remote PostgreSQL server's mode`, fix: 'add standalone: { mode: "existing" } (a prepared server) or { mode: "managed" } (the stack installs it)' });
  }
  if (d.database.nodes.length !== 1 || d.database.nodes[0]!.role !== "data") {
    issues.push({ path: "database.nodes", value: d.database.nodes.map((n) => `${n.name}:${n.role}`), message: `topology ${d.topology} uses exactly one remote PostgreSQL server`, fix: 'list only the server, e.g. [{ name: "emsdb-1", address: "10.0.0.5", role: "data" }]' });
  }
  return issues;
};

export const applianceLogin: SemanticCheck = (d) => {
  if (d.topology !== "vm-appliances") return [];
  return d.emsNodes.flatMap((n, i) =>
    n.ssh.user === "root"
      ? [{ path: `emsNodes[${i}].ssh.user`, value: n.ssh.user, message: "an EMS VM appliance is logged in to as its CLI user, not root", fix: 'set ssh: { user: "ems" } (the guide\'s appliance login)' }]
      : [],
  );
};

export const applianceHostnames: SemanticCheck = (d) => {
  const hostnames = d.appliances?.hostnames ?? {};
  const names = new Set(d.emsNodes.map((n) => n.name));
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, string>();
  for (const [node, host] of Object.entries(hostnames)) {
    if (!names.has(node)) issues.push({ path: `appliances.hostnames.${node}`, value: node, message: "no EMS node has this name", fix: `use one of ${[...names].join(", ")}` });
  }
  for (const n of d.emsNodes) {
    const host = (hostnames[n.name] ?? n.name).toLowerCase();
    const first = seen.get(host);
    if (first) issues.push({ path: `appliances.hostnames.${n.name}`, value: hostnames[n.name] ?? n.name, message: `hostname already used by ${first}`, fix: "give every appliance its own hostname" });
    else seen.set(host, n.name);
  }
  return issues;
};

export const upgradePrevious: SemanticCheck = (d) => {
  const prev = d.upgrade?.previous ?? [];
  const issues: ConfigIssue[] = [];
  const nodes = new Set(d.database.nodes.map((n) => n.name));
  const byNode = new Set<string>();
  prev.forEach((p, i) => {
    if (!nodes.has(p.node)) issues.push({ path: `upgrade.previous[${i}].node`, value: p.node, message: "no DB node has this name", fix: `use one of ${[...nodes].join(", ")}` });
    if (byNode.has(p.node)) issues.push({ path: `upgrade.previous[${i}].node`, value: p.node, message: "this node is listed twice", fix: "list each node once" });
    byNode.add(p.node);
  });
  if (d.topology !== "upgrade-7-4-4") return issues;
  // Every node keeps its own volume: two nodes naming the same volume is the guide's step-7 error (docs/background.md#errors-in-the-guide).
  const seenVolume = new Map<string, string>();
  const seenContainer = new Map<string, string>();
  d.database.nodes.forEach((n) => {
    const p = prev.find((x) => x.node === n.name);
    const container = p?.container ?? n.name;
    const volume = p?.volume ?? `${container.replace(/-/g, "_")}_data`;
    const path = p ? `upgrade.previous[${prev.indexOf(p)}]` : `database.nodes[${d.database.nodes.indexOf(n)}]`;
    const vFirst = seenVolume.get(volume);
    if (vFirst) issues.push({ path, value: volume, message: `volume ${volume} is also the volume of ${vFirst}: a node must start on its own existing volume`, fix: "give each node the volume its old container mounts (e.g. pg_2_data for pg-2)" });
    else seenVolume.set(volume, n.name);
    const cFirst = seenContainer.get(container);
    if (cFirst) issues.push({ path, value: container, message: `old container ${container} is also named for ${cFirst}`, fix: "name each node's own old container" });
    else seenContainer.set(container, n.name);
  });
  return issues;
};

export const geoLocations: SemanticCheck = (d) => {
  if (d.topology !== "geo-redundant") return [];
  const issues: ConfigIssue[] = d.database.nodes.flatMap((n, i) =>
    n.location === undefined
      ? [{ path: `database.nodes[${i}].location`, value: undefined, message: "in a geo-redundant cluster every node, witnesses included, needs its data centre as repmgr location", fix: 'add location: "dc1" (or the node\'s data centre)' }]
      : [],
  );
  const locations = new Set(d.database.nodes.map((n) => n.location).filter((l) => l !== undefined));
  if (issues.length === 0 && locations.size < 2) issues.push({ path: "database.nodes", value: [...locations], message: "a geo-redundant cluster spans at least two locations", fix: "put the nodes of the second data centre in their own location, or use topology single-region" });
  return issues;
};

export const CONFIG_CHECKS: ReadonlyArray<SemanticCheck> = [
  uniqueNames,
  uniqueAddresses,
  uniqueNodeIds,
  bitnamiNames,
  dockerAddressesAreIps,
  promotableDataNode,
  witnessPriority,
  initialPrimaryIsData,
  keepaliveRange,
  vipIsIpv4,
  installerNotInTmp,
  standaloneServer,
  applianceLogin,
  applianceHostnames,
  upgradePrevious,
  geoLocations,
];

export function semanticIssues(d: Deployment): ConfigIssue[] {
  return CONFIG_CHECKS.flatMap((check) => check(d));
}
