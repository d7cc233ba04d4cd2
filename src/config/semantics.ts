/**
 * Cross-field checks of a deployment that a schema cannot express. Each check carries its rule id
 * and summary (what `ems-ha check` and the analysis print) next to the pure function that finds
 * the issues; every issue names the nodes it is about. `ems-ha check`, parseDeployment and the
 * stacks at synth all run this one list, so a check added here is enforced everywhere.
 */
import type { ConfigIssue } from "./errors";
import { nameNumber, nodeIdOf } from "./derive";
import type { Deployment } from "./schema";
import { isIpv4 } from "./values";

export { isIpv4 } from "./values";

export interface ConfigCheck {
  /** Stable rule id, e.g. "unique-names". */
  readonly id: string;
  /** One line for docs and `ems-ha check`. */
  readonly summary: string;
  readonly check: (d: Deployment) => ConfigIssue[];
}

/** The function of a check. */
export type SemanticCheck = ConfigCheck["check"];

/** Topologies that run the Bitnami-based ems-postgres-ha image. */
export const DOCKER_TOPOLOGIES: ReadonlySet<string> = new Set(["single-region", "geo-redundant", "upgrade-7-4-4"]);
/** Topologies whose EMS nodes use one remote PostgreSQL server (database.nodes[0]). */
export const STANDALONE_TOPOLOGIES: ReadonlySet<string> = new Set(["standalone-db", "vm-appliances"]);

function check(id: string, summary: string, fn: SemanticCheck): ConfigCheck {
  return { id, summary, check: (d) => fn(d).map((i) => ({ ...i, rule: id })) };
}

export const uniqueNames = check("unique-names", "every host has its own name", (d) => {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, string>();
  const all = [
    ...d.database.nodes.map((n, i) => ({ name: n.name, path: `database.nodes[${i}].name` })),
    ...d.emsNodes.map((n, i) => ({ name: n.name, path: `emsNodes[${i}].name` })),
  ];
  for (const { name, path } of all) {
    const first = seen.get(name);
    if (first)
      issues.push({
        path,
        value: name,
        nodes: [name],
        message: `duplicate node name, already used by ${first}`,
        fix: "give every host a unique name (the geo guide's second witness must be pgw-2, not pgw-1)",
      });
    else seen.set(name, path);
  }
  return issues;
});

export const uniqueAddresses = check("unique-addresses", "every host has its own address", (d) => {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, { path: string; name: string }>();
  const all = [
    ...d.database.nodes.map((n, i) => ({ a: n.address, name: n.name, path: `database.nodes[${i}].address` })),
    ...d.emsNodes.map((n, i) => ({ a: n.address, name: n.name, path: `emsNodes[${i}].address` })),
  ];
  for (const { a, name, path } of all) {
    const first = seen.get(a.toLowerCase());
    if (first)
      issues.push({
        path,
        value: a,
        nodes: [first.name, name],
        message: `duplicate address, already used by ${first.path}`,
        fix: "each node runs on its own host with its own address",
      });
    else seen.set(a.toLowerCase(), { path, name });
  }
  return issues;
});

export const uniqueNodeIds = check("unique-node-ids", "every DB node has its own repmgr node id", (d) => {
  const issues: ConfigIssue[] = [];
  const seen = new Map<number, string>();
  const native = d.topology === "native-single-region";
  d.database.nodes.forEach((n, i) => {
    const id = nodeIdOf(d, n, i);
    if (id === undefined) return;
    const first = seen.get(id);
    if (first === undefined) {
      seen.set(id, n.name);
      return;
    }
    issues.push({
      path: native || n.nodeId !== undefined ? `database.nodes[${i}].nodeId` : `database.nodes[${i}]`,
      value: n.nodeId ?? n.name,
      nodes: [first, n.name],
      message: native
        ? `repmgr node id ${id} is also the id of ${first} (natively, ids default to the position in database.nodes, starting at 1)`
        : `repmgr node id ${id} is also the id of ${first}`,
      fix: native
        ? "give the node a nodeId no other node has, or remove the explicit nodeId values"
        : "rename the node (the id comes from the number after the last '-') or set a distinct nodeId",
    });
  });
  return issues;
});

export const bitnamiNames = check("bitnami-node-names", "with the Docker image, DB node names end in -<number>", (d) => {
  if (!DOCKER_TOPOLOGIES.has(d.topology)) return [];
  return d.database.nodes.flatMap((n, i) =>
    nameNumber(n.name) === undefined && n.nodeId === undefined
      ? [
          {
            path: `database.nodes[${i}].name`,
            value: n.name,
            nodes: [n.name],
            message: "the ems-postgres-ha image derives the repmgr node id from a trailing -<number>",
            fix: `name it like ${n.role === "witness" ? "pgw-1" : "pg-1"}`,
          },
        ]
      : [],
  );
});

export const dockerAddressesAreIps = check("docker-addresses-are-ips", "with the Docker image, DB node addresses are IPv4 addresses", (d) => {
  if (!DOCKER_TOPOLOGIES.has(d.topology)) return [];
  return d.database.nodes.flatMap((n, i) =>
    isIpv4(n.address)
      ? []
      : [
          {
            path: `database.nodes[${i}].address`,
            value: n.address,
            nodes: [n.name],
            message: "docker --add-host needs an IPv4 address, not a DNS name",
            fix: "use the node's IPv4 address, e.g. 192.168.1.21",
          },
        ],
  );
});

export const emsAddressesAreIps = check("ems-real-servers-are-ips", "behind a FortiGate, EMS node addresses are IPv4 addresses (VIP real servers)", (d) => {
  if (!d.fortigate) return [];
  return d.emsNodes.flatMap((n, i) =>
    isIpv4(n.address)
      ? []
      : [
          {
            path: `emsNodes[${i}].address`,
            value: n.address,
            nodes: [n.name],
            message: "the FortiGate load-balances to real servers by IPv4 address, and this EMS node is one",
            fix: "use the EMS node's IPv4 address, e.g. 192.168.1.10 (a DNS name works only without a fortigate section)",
          },
        ],
  );
});

export const promotableDataNode = check("promotable-data-node", "at least one data node can be promoted (priority > 0)", (d) => {
  const data = d.database.nodes.filter((n) => n.role === "data");
  if (data.length === 0)
    return [
      {
        path: "database.nodes",
        value: d.database.nodes.map((n) => n.name),
        nodes: d.database.nodes.map((n) => n.name),
        message: "no data node",
        fix: 'add at least one node with role "data"',
      },
    ];
  if (!data.some((n) => (n.priority ?? 100) > 0))
    return [
      {
        path: "database.nodes",
        value: data.map((n) => `${n.name}:${n.priority}`),
        nodes: data.map((n) => n.name),
        message: "no data node can be promoted (every priority is 0)",
        fix: "give at least one data node a priority above 0",
      },
    ];
  return [];
});

export const witnessPriority = check("witness-priority", "witnesses have no priority (always 0)", (d) =>
  d.database.nodes.flatMap((n, i) =>
    n.role === "witness" && n.priority !== undefined && n.priority !== 0
      ? [
          {
            path: `database.nodes[${i}].priority`,
            value: n.priority,
            nodes: [n.name],
            message: "a witness never holds data and is never promoted",
            fix: "remove priority from the witness (it is always 0)",
          },
        ]
      : [],
  ),
);

export const initialPrimaryIsData = check("initial-primary-is-data", "the initial primary is a data node of the cluster", (d) => {
  const want = d.database.initialPrimary;
  if (want === undefined) return [];
  const byName = new Map(d.database.nodes.map((n) => [n.name, n]));
  const data = d.database.nodes.filter((x) => x.role === "data").map((x) => x.name);
  const n = byName.get(want);
  if (!n)
    return [
      {
        path: "database.initialPrimary",
        value: want,
        message: "no DB node has this name",
        fix: data.length > 0 ? `use one of ${data.join(", ")}` : "add the data node it names",
      },
    ];
  if (n.role !== "data")
    return [
      {
        path: "database.initialPrimary",
        value: want,
        nodes: [want],
        message: "a witness cannot be the primary",
        fix: `name a data node${data.length > 0 ? `: ${data.join(", ")}` : ""}`,
      },
    ];
  return [];
});

export const keepaliveRange = check("keepalive-range", "the EMS keep-alive interval is 5-30 s", (d) =>
  d.ems.keepaliveSeconds < 5 || d.ems.keepaliveSeconds > 30
    ? [
        {
          path: "ems.keepaliveSeconds",
          value: d.ems.keepaliveSeconds,
          message: "EMS accepts a keep-alive interval of 5 to 30 seconds",
          fix: "use a value from 5 to 30 (the default is 10)",
        },
      ]
    : [],
);

export const installerNotInTmp = check("installer-not-in-tmp", "the installer directory is not under /tmp", (d) => {
  const dir = d.installer.installDir.replace(/\/+$/, "");
  return dir === "/tmp" || dir.startsWith("/tmp/") || dir === "/var/tmp" || dir.startsWith("/var/tmp/")
    ? [
        {
          path: "installer.installDir",
          value: d.installer.installDir,
          message: "the guide says running the installer to or from /tmp causes issues",
          fix: "use a directory such as /opt/ems-ha/installer",
        },
      ]
    : [];
});

export const repmgrConfDirApart = check("repmgr-conf-dir-apart", "the Docker data nodes' repmgr configuration directory is apart from conf.d", (d) => {
  if (!DOCKER_TOPOLOGIES.has(d.topology)) return [];
  const conf = d.database.confDir.replace(/\/+$/, "");
  const rep = d.database.repmgrConfDir.replace(/\/+$/, "");
  const within = (a: string, b: string) => a === b || a.startsWith(`${b}/`);
  return within(rep, conf) || within(conf, rep)
    ? [
        {
          path: "database.repmgrConfDir",
          value: d.database.repmgrConfDir,
          message: `is database.confDir (${d.database.confDir}) or nested with it: PostgreSQL includes every *.conf of conf.d, and would read repmgr.conf as its own settings and refuse to start`,
          fix: "use a directory of its own, such as /opt/ems-ha/repmgr-conf (the default)",
        },
      ]
    : [];
});

export const standaloneServer = check("standalone-server", "standalone-db and vm-appliances have one remote PostgreSQL server and its mode", (d) => {
  if (!STANDALONE_TOPOLOGIES.has(d.topology)) return [];
  const issues: ConfigIssue[] = [];
  if (!d.standalone) {
    issues.push({
      path: "standalone",
      value: undefined,
      message: `topology ${d.topology} needs the remote PostgreSQL server's mode`,
      fix: 'add standalone: { mode: "existing" } (a prepared server) or { mode: "managed" } (the stack installs it)',
    });
  }
  if (d.database.nodes.length !== 1 || d.database.nodes[0]!.role !== "data") {
    issues.push({
      path: "database.nodes",
      value: d.database.nodes.map((n) => `${n.name}:${n.role}`),
      nodes: d.database.nodes.map((n) => n.name),
      message: `topology ${d.topology} uses exactly one remote PostgreSQL server`,
      fix: 'list only the server, e.g. [{ name: "emsdb-1", address: "10.0.0.5", role: "data" }]',
    });
  }
  return issues;
});

export const applianceLogin = check("appliance-login", "EMS VM appliances are logged in to as their CLI user, not root", (d) => {
  if (d.topology !== "vm-appliances") return [];
  return d.emsNodes.flatMap((n, i) =>
    n.ssh.user === "root"
      ? [
          {
            path: `emsNodes[${i}].ssh.user`,
            value: n.ssh.user,
            nodes: [n.name],
            message: "an EMS VM appliance is logged in to as its CLI user, not root",
            fix: 'set ssh: { user: "ems" } (the guide\'s appliance login)',
          },
        ]
      : [],
  );
});

export const applianceHostnames = check("appliance-hostnames", "appliance hostnames name EMS nodes and are unique", (d) => {
  // A Map, not the plain object: a node named "constructor" must not find Object.prototype's.
  const hostnames = new Map(Object.entries(d.appliances?.hostnames ?? {}));
  const names = new Set(d.emsNodes.map((n) => n.name));
  const issues: ConfigIssue[] = [];
  for (const node of hostnames.keys()) {
    if (!names.has(node))
      issues.push({ path: `appliances.hostnames.${node}`, value: node, message: "no EMS node has this name", fix: `use one of ${[...names].join(", ")}` });
  }
  const seen = new Map<string, string>();
  for (const n of d.emsNodes) {
    const host = hostnames.get(n.name) ?? n.name;
    const first = seen.get(host.toLowerCase());
    if (first !== undefined)
      issues.push({
        path: `appliances.hostnames.${n.name}`,
        value: host,
        nodes: [first, n.name],
        message: `hostname already used by ${first}`,
        fix: "give every appliance its own hostname",
      });
    else seen.set(host.toLowerCase(), n.name);
  }
  return issues;
});

export const upgradePrevious = check("upgrade-previous", "each upgraded node starts on its own old container and volume", (d) => {
  const prev = d.upgrade?.previous ?? [];
  const issues: ConfigIssue[] = [];
  const nodes = new Set(d.database.nodes.map((n) => n.name));
  const byNode = new Map<string, number>();
  prev.forEach((p, i) => {
    if (!nodes.has(p.node))
      issues.push({ path: `upgrade.previous[${i}].node`, value: p.node, message: "no DB node has this name", fix: `use one of ${[...nodes].join(", ")}` });
    if (byNode.has(p.node))
      issues.push({ path: `upgrade.previous[${i}].node`, value: p.node, nodes: [p.node], message: "this node is listed twice", fix: "list each node once" });
    else byNode.set(p.node, i);
  });
  if (d.topology !== "upgrade-7-4-4") return issues;
  // Every node keeps its own volume: two nodes naming the same volume is the guide's step-7 error (docs/background.md#errors-in-the-guide).
  const seenVolume = new Map<string, string>();
  const seenContainer = new Map<string, string>();
  d.database.nodes.forEach((n, ni) => {
    const pi = byNode.get(n.name);
    const p = pi === undefined ? undefined : prev[pi];
    const container = p?.container ?? n.name;
    const volume = p?.volume ?? `${container.replace(/-/g, "_")}_data`;
    const path = pi !== undefined ? `upgrade.previous[${pi}]` : `database.nodes[${ni}]`;
    const vFirst = seenVolume.get(volume);
    if (vFirst !== undefined)
      issues.push({
        path,
        value: volume,
        nodes: [vFirst, n.name],
        message: `volume ${volume} is also the volume of ${vFirst}: a node must start on its own existing volume`,
        fix: "give each node the volume its old container mounts (e.g. pg_2_data for pg-2)",
      });
    else seenVolume.set(volume, n.name);
    const cFirst = seenContainer.get(container);
    if (cFirst !== undefined)
      issues.push({
        path,
        value: container,
        nodes: [cFirst, n.name],
        message: `old container ${container} is also named for ${cFirst}`,
        fix: "name each node's own old container",
      });
    else seenContainer.set(container, n.name);
  });
  return issues;
});

export const geoLocations = check("geo-locations", "a geo-redundant cluster gives every node its data centre and spans two or more", (d) => {
  if (d.topology !== "geo-redundant") return [];
  const issues: ConfigIssue[] = d.database.nodes.flatMap((n, i) =>
    n.location === undefined
      ? [
          {
            path: `database.nodes[${i}].location`,
            value: undefined,
            nodes: [n.name],
            message: "in a geo-redundant cluster every node, witnesses included, needs its data centre as repmgr location",
            fix: 'add location: "dc1" (or the node\'s data centre)',
          },
        ]
      : [],
  );
  const locations = new Set(d.database.nodes.map((n) => n.location).filter((l) => l !== undefined));
  if (issues.length === 0 && locations.size < 2)
    issues.push({
      path: "database.nodes",
      value: [...locations],
      nodes: d.database.nodes.map((n) => n.name),
      message: "a geo-redundant cluster spans at least two locations",
      fix: "put the nodes of the second data centre in their own location, or use topology single-region",
    });
  return issues;
});

export const synchronousReplicationDataNodes = check(
  "synchronous-replication-data-nodes",
  "synchronous replication (database.synchronousReplication) needs at least 3 data nodes",
  (d) => {
    const sync = d.database.synchronousReplication;
    if (sync.mode === "off") return [];
    const data = d.database.nodes.filter((n) => n.role === "data").map((n) => n.name);
    if (data.length >= 3) return [];
    return [
      {
        path: "database.synchronousReplication.mode",
        value: sync.mode,
        nodes: data,
        message: `synchronous replication "${sync.mode}" needs at least 3 data nodes; this cluster has ${data.length} (${data.join(", ") || "none"})`,
        fix:
          data.length === 2
            ? 'add a third data node, or set mode "off": with 2 data nodes, after a failover the new primary has no standby left to confirm a commit, so every write blocks until the old primary is rebuilt'
            : 'set mode "off" (a single server has no standby to confirm a commit: every write would block), or add data nodes until there are at least 3',
      },
    ];
  },
);

/**
 * Node names become construct ids next to the stacks' own parts, and the constructs library keeps
 * a scope's children in a plain object: "constructor" is found on Object.prototype (synth fails
 * with "There is already a Construct with name 'constructor'"), and the stacks' own ids would
 * collide the same way.
 */
export const RESERVED_NODE_NAMES: ReadonlySet<string> = new Set([
  "constructor",
  "database",
  "db-reachable",
  "fortigate",
  "locations",
  "primary-ready",
  "secrets",
  "ssh-keys",
]);

/** Steps of the upgrade-7-4-4 stack; each DB node's step is the construct `<node>-<step>`. */
const UPGRADE_STEPS = ["prepare", "stop", "load", "start"];

export const reservedNodeNames = check("reserved-node-names", "no node is named like a part of the stack (or constructor)", (d) => {
  const upgradeIds = new Map<string, string>();
  if (d.topology === "upgrade-7-4-4") for (const n of d.database.nodes) for (const step of UPGRADE_STEPS) upgradeIds.set(`${n.name}-${step}`, n.name);
  return [
    ...d.emsNodes.map((n, i) => ({ n, path: `emsNodes[${i}].name` })),
    ...d.database.nodes.map((n, i) => ({ n, path: `database.nodes[${i}].name` })),
  ].flatMap(({ n, path }) => {
    if (RESERVED_NODE_NAMES.has(n.name)) {
      return [
        {
          path,
          value: n.name,
          nodes: [n.name],
          message: `the stacks use "${n.name}" for a part of their own (node names become construct ids)`,
          fix: `rename the node, e.g. ${n.name}-1; reserved: ${[...RESERVED_NODE_NAMES].join(", ")}`,
        },
      ];
    }
    const owner = upgradeIds.get(n.name);
    if (owner !== undefined) {
      return [
        {
          path,
          value: n.name,
          nodes: [owner, n.name],
          message: `the upgrade stack names a step of ${owner} "${n.name}" (node names become construct ids)`,
          fix: "rename the node so it is not <another node>-prepare/-stop/-load/-start",
        },
      ];
    }
    return [];
  });
});

export const CONFIG_CHECKS: ReadonlyArray<ConfigCheck> = [
  uniqueNames,
  reservedNodeNames,
  uniqueAddresses,
  uniqueNodeIds,
  bitnamiNames,
  dockerAddressesAreIps,
  emsAddressesAreIps,
  promotableDataNode,
  witnessPriority,
  initialPrimaryIsData,
  keepaliveRange,
  installerNotInTmp,
  repmgrConfDirApart,
  standaloneServer,
  applianceLogin,
  applianceHostnames,
  upgradePrevious,
  geoLocations,
  synchronousReplicationDataNodes,
];

/** Every cross-field issue of a (schema-valid) deployment, each tagged with its check's id. */
export function semanticIssues(d: Deployment): ConfigIssue[] {
  return CONFIG_CHECKS.flatMap((c) => c.check(d));
}
