/**
 * The table the review reads a plan with: Terraform address pattern -> what the resource is in
 * the HA deployment, and which deployment fields feed each of its attributes.
 *
 * cdktf names a resource `<construct path joined by "_">_<8 hex digits>`, so
 * `terraform_data.pg-1_prepare_FD49CED1` is the construct `pg-1/prepare`
 * (test/constructs/construct-ids.test.ts pins these). Node names never contain "_" (schema), so
 * the path splits back unambiguously. Patterns are tried in order; the first match wins.
 *
 * Every ssh step is a RemoteScript (constructs/remote-script.ts): its triggers are the step's own
 * keys plus `content_sha256`, the hash of the script, its runner and its uploads. That hash
 * changes with every script change, so the review names it only when no more specific trigger
 * (such as `script_sha256`) explains the replacement (analyze.ts).
 */

import { DB_STOP_GRACE_SECONDS, DB_STOP_SIGNAL } from "../render/bitnami";

/** What a resource is, in HA terms. */
export type ResourceClass =
  | "db-volume"
  | "db-container"
  | "db-image"
  | "db-prepare"
  | "native-db-prepare"
  | "native-db-setup"
  | "native-rolling-step"
  | "standalone-db-setup"
  | "upgrade-step"
  | "ems-install"
  | "appliance-redirect"
  | "fortigate-vip"
  | "fortigate-health-check"
  | "fortigate-policy"
  | "ssh-key-sync"
  | "primary-wait"
  | "db-check";

export interface ClassRow {
  readonly cls: ResourceClass;
  readonly type: string;
  /** Matches the construct path (inside the stack); named groups `node`, `step`, `port`. */
  readonly path: RegExp;
  /** Extra condition on the change's trigger keys (two classes share a path shape). */
  readonly triggerKey?: string;
  /** What a replacement does to the running deployment. */
  readonly meaning: string;
  /**
   * Attribute path (dotted, first segments; `*` = any) -> the deployment field(s) it comes from.
   * `{node}` is replaced by the node's name.
   */
  readonly fields: Readonly<Record<string, string>>;
}

const DB_NODE = "database.nodes[name={node}]";
const EMS_NODE = "emsNodes[name={node}]";

/** The triggers of a native node's two steps, prepare and setup (constructs/native-node.ts). */
const NATIVE_FIELDS: Readonly<Record<string, string>> = {
  "triggers_replace.node": `${DB_NODE}.name`,
  "triggers_replace.address": `${DB_NODE}.address`,
  "triggers_replace.node_id": `${DB_NODE}.nodeId (or the node's position in database.nodes)`,
  "triggers_replace.role": `${DB_NODE}.role`,
  "triggers_replace.script_sha256": `${DB_NODE}.ramGb / cpus / storage (PGTune inputs), priority, location; or a cluster-wide field: database.port / user / maxConnections / failover, native.*, other nodes' addresses`,
  "triggers_replace.extensions_sha256": "native.extensions.sha256",
  "triggers_replace.content_sha256": "the step's runner or uploads (a new ems-ha version, native.extensions)",
};

export const RESOURCE_CLASSES: ReadonlyArray<ClassRow> = [
  {
    cls: "db-volume",
    type: "docker_volume",
    path: /^(?<node>[a-z0-9-]+)\/data$/,
    meaning: "the node's PostgreSQL data volume (/bitnami/postgresql): destroying it deletes that copy of the database",
    fields: { name: `${DB_NODE}.name (the volume is named after the node)` },
  },
  {
    cls: "db-container",
    type: "docker_container",
    path: /^(?<node>[a-z0-9-]+)\/container$/,
    meaning: `the node's ems-postgres-ha container: replacing it stops PostgreSQL on that node (${DB_STOP_SIGNAL}, up to ${DB_STOP_GRACE_SECONDS} s grace) and starts a new container on the same volume`,
    fields: {
      "env.REPMGR_PARTNER_NODES": "database.nodes (names and addresses of every node: the partner list)",
      "env.REPMGR_PRIMARY_HOST": "database.initialPrimary",
      "env.REPMGR_NODE_LOCATION": `${DB_NODE}.location`,
      "env.REPMGR_NODE_PRIORITY": `${DB_NODE}.priority`,
      "env.REPMGR_NODE_ID": `${DB_NODE}.nodeId`,
      "env.REPMGR_RECONNECT_ATTEMPTS": "database.failover",
      "env.REPMGR_RECONNECT_INTERVAL": "database.failover",
      "env.REPMGR_CONNECT_TIMEOUT": "database.failover",
      "env.POSTGRESQL_PORT_NUMBER": "database.port",
      "env.REPMGR_PORT_NUMBER": "database.port",
      "env.REPMGR_PRIMARY_PORT": "database.port",
      "env.POSTGRESQL_USERNAME": "database.user",
      "env.POSTGRESQL_PASSWORD": "secret TF_VAR_db_password",
      "env.REPMGR_PASSWORD": "secret TF_VAR_repmgr_password",
      "env.*": "database (container environment)",
      ports: "database.port",
      host: "database.nodes[].address (the --add-host entries of every node)",
      image: "database.image (name, tag, source)",
      volumes: `${DB_NODE}.name / database.confDir / database.repmgrConfDir`,
      shm_size: "database (shared memory size)",
      name: `${DB_NODE}.name`,
      "*": "database",
    },
  },
  {
    cls: "db-container",
    type: "terraform_data",
    path: /^(?<node>[a-z0-9-]+)\/container$/,
    meaning: `the node's ems-postgres-ha container, run by the ssh engine: the step re-runs and, when the container's spec or image changed, stops PostgreSQL on that node (${DB_STOP_SIGNAL}, up to ${DB_STOP_GRACE_SECONDS} s grace) and starts a new container on the same volume`,
    fields: {
      "triggers_replace.host": `${DB_NODE}.address`,
      "triggers_replace.name": `${DB_NODE}.name`,
      "triggers_replace.spec":
        "database (the container's spec: image, partner list database.nodes, initialPrimary, port, user, failover, the node's location / priority / nodeId)",
      "triggers_replace.content_sha256": "the container script (database.*) or the step's runner (a new ems-ha version)",
    },
  },
  {
    cls: "db-image",
    type: "docker_image",
    path: /^(?<node>[a-z0-9-]+)\/image$/,
    meaning: "the ems-postgres-ha image on the node's host (kept locally; a new image id replaces the container)",
    fields: { name: "database.image.name / database.image.tag / database.image.source.registry", "*": "database.image" },
  },
  {
    // before db-prepare: the Docker host preparation has the same path but no script_sha256 trigger
    cls: "native-db-prepare",
    type: "terraform_data",
    path: /^(?<node>[a-z0-9-]+)\/prepare$/,
    triggerKey: "script_sha256",
    meaning:
      "the node's preparation re-runs (native-setup.sh --prepare: packages, configuration files), on every node at once; a running member reloads its configuration and a setting that needs a restart is left pending for the rolling restart (one node at a time, the primary last after a switchover)",
    fields: NATIVE_FIELDS,
  },
  {
    cls: "db-prepare",
    type: "terraform_data",
    path: /^(?<node>[a-z0-9-]+)\/prepare$/,
    meaning:
      "the host preparation re-runs: conf.d/extra.conf (PGTune) is rewritten and PostgreSQL is sent a reload; settings such as shared_buffers take effect at the container's next restart; the failover validation script is rewritten (used from the next election on); the image is loaded again when its tarball changed",
    fields: {
      "triggers_replace.host": `${DB_NODE}.address`,
      "triggers_replace.script": `${DB_NODE}.ramGb / cpus / storage (PGTune inputs), database.maxConnections, database.confDir, database.repmgrConfDir, database.failover (the failover validation script's timeouts), database.port, database.installDocker, database.image.source`,
      "triggers_replace.image": "database.image.source.sha256 (tarball) or database.image.name/tag",
      "triggers_replace.content_sha256": `${DB_NODE}.ramGb / cpus / storage (PGTune inputs), database.maxConnections, database.confDir, database.repmgrConfDir, database.failover, database.port, database.installDocker, database.image.source (the preparation script)`,
    },
  },
  {
    cls: "standalone-db-setup",
    type: "terraform_data",
    path: /^database\/setup$/,
    triggerKey: "server",
    meaning:
      "the setup of the one remote PostgreSQL server re-runs; a changed postgresql.conf (PGTune) restarts PostgreSQL: every EMS node loses its database for the restart",
    fields: {
      "triggers_replace.server": "database.nodes[0].name",
      "triggers_replace.address": "database.nodes[0].address",
      "triggers_replace.script":
        "database.nodes[0].ramGb / cpus / storage (PGTune), database.port, database.user, standalone.packages / clientNetworks / tune, emsNodes[].address (pg_hba)",
      "triggers_replace.extensions": "standalone.extensions.sha256",
      "triggers_replace.content_sha256":
        "database.nodes[0].ramGb / cpus / storage (PGTune), database.port, database.user, standalone.packages / clientNetworks / tune, emsNodes[].address (pg_hba), or the step's runner",
    },
  },
  {
    cls: "native-db-setup",
    type: "terraform_data",
    path: /^(?<node>[a-z0-9-]+)\/setup$/,
    meaning:
      "the node's setup script re-runs (idempotent: it never re-clones a node that holds data); a running member is reloaded, never restarted: what needs a restart waits for the rolling restart",
    fields: NATIVE_FIELDS,
  },
  {
    cls: "native-rolling-step",
    type: "terraform_data",
    path: /^rolling-restart\/(?<step>others|primary)-(?<node>[a-z0-9-]+)$/,
    meaning:
      "a step of the rolling restart looks at the node again (constructs/native-rolling-restart.ts): it restarts PostgreSQL only when a setting is pending a restart, one node at a time, standbys and witnesses first, the primary last after a switchover; nothing pending, nothing happens",
    fields: {
      "triggers_replace.generation": "any DB node's setup script (database.*, the node's PGTune inputs)",
      "triggers_replace.node": `${DB_NODE}.name`,
      "triggers_replace.round": "the round (others, then primary)",
      "triggers_replace.content_sha256": "the rolling restart script or the step's runner",
    },
  },
  {
    cls: "upgrade-step",
    type: "terraform_data",
    path: /^(?<node>[a-z0-9-]+)-(?<step>prepare|stop|load|start)\/run$/,
    meaning: "a step of the 7.4.4 upgrade runs again on the node (each step skips itself when the new container already runs)",
    fields: {
      "triggers_replace.node": `${DB_NODE}.name`,
      "triggers_replace.address": `${DB_NODE}.address`,
      "triggers_replace.target": "database.image (the upgrade target)",
      "triggers_replace.script": "upgrade.* / database.*",
      "triggers_replace.step": "the upgrade's step (prepare, stop, load, start)",
      "triggers_replace.content_sha256": "the step's script (upgrade.* / database.*) or its runner",
    },
  },
  {
    cls: "ems-install",
    type: "terraform_data",
    path: /^(?<node>[a-z0-9-]+)\/install$/,
    meaning: "the EMS installer runs again on the node: EMS services stop and restart during the install",
    fields: {
      "triggers_replace.node": `${EMS_NODE}.name`,
      "triggers_replace.address": `${EMS_NODE}.address`,
      "triggers_replace.version": "installer.version",
      "triggers_replace.installerSha256": "installer.source.sha256",
      "triggers_replace.role": "the order of emsNodes (the first is the EMS primary)",
      "triggers_replace.dbHosts": "database.nodes[].address of the data nodes (the --db_host list)",
      "triggers_replace.script": "installer.*, ems.*, database.port / user",
      "triggers_replace.content_sha256":
        "the install script (installer.*, ems.*, database.port / user), the installer file (installer.source) or the step's runner",
    },
  },
  {
    cls: "appliance-redirect",
    type: "terraform_data",
    path: /^(?<node>[a-z0-9-]+)\/redirect$/,
    meaning: "the appliance's `redirect` to the database runs again (on the primary appliance it deploys the EMS database)",
    fields: {
      "triggers_replace.node": `${EMS_NODE}.name`,
      "triggers_replace.address": `${EMS_NODE}.address`,
      "triggers_replace.role": "the order of emsNodes (the first is the primary appliance)",
      "triggers_replace.hostname": "appliances.hostnames",
      "triggers_replace.db": "database.user / database.nodes[0].address / database.port",
    },
  },
  {
    cls: "fortigate-vip",
    type: "fortios_firewall_vip",
    path: /^fortigate\/vip-(?<port>\d+)$/,
    meaning: "a load-balancing VIP on the FortiGate: client connections on this port are cut or sent elsewhere",
    fields: {
      extip: "ems.vip",
      extintf: "fortigate.incomingInterface",
      realservers: "emsNodes[].address (the real servers)",
      monitor: "fortigate.namePrefix (health check name)",
      name: "fortigate.namePrefix",
      "*": "fortigate",
    },
  },
  {
    cls: "fortigate-health-check",
    type: "fortios_firewall_ldbmonitor",
    path: /^fortigate\/health-check$/,
    meaning: "the TCP health check that decides which EMS node receives client traffic",
    fields: { name: "fortigate.namePrefix", "*": "the health check (interval, timeout, retry, port)" },
  },
  {
    cls: "fortigate-policy",
    type: "fortios_firewall_policy",
    path: /^fortigate\/policy(-\d+)?$/,
    meaning: "the firewall policy that lets client traffic reach the VIPs",
    fields: {
      policyid: "fortigate.policyIdBase",
      srcintf: "fortigate.incomingInterface",
      dstintf: "fortigate.outgoingInterface / fortigate.extraEmsSubnets",
      "*": "fortigate",
    },
  },
  {
    cls: "ssh-key-sync",
    type: "terraform_data",
    path: /^ssh-keys\/(?<node>[a-z0-9-]+)$/,
    meaning: "postgres's SSH keys between the data nodes are refreshed (no restart)",
    fields: { "triggers_replace.roster": "database.nodes (data nodes' names, addresses or setup scripts)", "*": "the key exchange script" },
  },
  {
    cls: "primary-wait",
    type: "terraform_data",
    path: /^primary-ready\/wait$/,
    meaning: "a bounded wait for the primary to accept writes (read-only check)",
    fields: { "triggers_replace.primary": "database.initialPrimary", "triggers_replace.address": "the initial primary's address", "*": "the wait script" },
  },
  {
    cls: "db-check",
    type: "terraform_data",
    path: /^db-reachable$/,
    meaning: "a check, from the first EMS node, that the database server answers (read-only)",
    fields: { "*": "emsNodes[0].address / database.nodes[0].address / database.port" },
  },
];

/** The construct path of a cdktf resource name: `pg-1_prepare_FD49CED1` -> `pg-1/prepare`. */
export function constructPath(name: string): string {
  return name
    .replace(/_[0-9A-F]{8}$/, "")
    .split("_")
    .join("/");
}

export interface Classified {
  readonly row: ClassRow;
  readonly node?: string;
  readonly step?: string;
  readonly port?: string;
}

export function classify(type: string, name: string, triggerKeys: ReadonlyArray<string>): Classified | undefined {
  const path = constructPath(name);
  for (const row of RESOURCE_CLASSES) {
    if (row.type !== type) continue;
    const m = row.path.exec(path);
    if (!m) continue;
    if (row.triggerKey && !triggerKeys.includes(row.triggerKey)) continue;
    return { row, node: m.groups?.node, step: m.groups?.step, port: m.groups?.port };
  }
  return undefined;
}

/** The deployment field an attribute path comes from, by the longest matching table key. */
export function fieldOf(row: ClassRow, attrPath: ReadonlyArray<string | number>, node?: string): string | undefined {
  const segs = attrPath.filter((p): p is string => typeof p === "string");
  for (let n = segs.length; n >= 1; n--) {
    const key = segs.slice(0, n).join(".");
    const exact = row.fields[key];
    if (exact) return exact.replace(/\{node\}/g, node ?? "?");
    const star = row.fields[`${segs.slice(0, n - 1).join(".")}${n > 1 ? "." : ""}*`];
    if (star && n === segs.length) return star.replace(/\{node\}/g, node ?? "?");
  }
  const any = row.fields["*"];
  return any?.replace(/\{node\}/g, node ?? "?");
}
