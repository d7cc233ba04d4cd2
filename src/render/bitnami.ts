/**
 * The ems-postgres-ha (Bitnami postgresql-repmgr based) container of one DB node,
 * derived from the cluster description: the guide's `docker run` flags as data.
 */
import { failoverTiming, initialPrimary, locationOf, priorityOf } from "../config/derive";
import type { DbNodeConfig, Deployment } from "../config/schema";
import { pgtuneForNode } from "./pgtune";
import { renderSlotCapConf } from "./slot-cap";
import { raw, repmgrConfValue, sh } from "./escape";
import { failoverValidationCommand, failoverValidationTiming, renderFailoverValidationScript } from "./failover-validation";

/** Where the data volume and conf.d live inside the container (docs/background.md#the-bitnami-postgresql-repmgr-image). */
export const DATA_MOUNT = "/bitnami/postgresql";
export const CONF_D_MOUNT = "/bitnami/postgresql/conf/conf.d";
/**
 * The image's mounted repmgr configuration (Bitnami's REPMGR_MOUNTED_CONF_DIR default): a
 * repmgr.conf there is merged into the generated one at every container start, its keys winning
 * (docs/background.md#the-bitnami-postgresql-repmgr-image).
 */
export const REPMGR_CONF_MOUNT = "/bitnami/repmgr/conf";
/** The image's entrypoint, which prepares the environment of a command run with docker exec. */
export const BITNAMI_ENTRYPOINT = "/opt/bitnami/scripts/postgresql-repmgr/entrypoint.sh";
/**
 * The repmgr.conf the image generates at every container start (with what it merged from
 * REPMGR_CONF_MOUNT): what repmgr and repmgrd read inside the container.
 */
export const BITNAMI_REPMGR_CONF = "/opt/bitnami/repmgr/conf/repmgr.conf";
/** The failover validation script inside a data node's container. */
export const DOCKER_VALIDATE_FAILOVER = `${REPMGR_CONF_MOUNT}/ems-ha-validate-failover`;
/** The guide's --shm-size 1g, in MB as the docker provider wants it. */
export const SHM_SIZE_MB = 1024;

/**
 * Seconds PostgreSQL gets to shut down when its container is stopped or replaced (docker stop's
 * timeout and the provider's destroy grace period) before Docker kills it. SIGINT is PostgreSQL's
 * "fast" shutdown: sessions are ended, a checkpoint is written, the server exits cleanly.
 */
export const DB_STOP_GRACE_SECONDS = 120;
export const DB_STOP_SIGNAL = "SIGINT";

/**
 * Kernel settings of each DB container's own network namespace (docs/reliability.md#a-location-cut-and-tcp):
 * a TCP connection to a peer that stopped answering (a location cut drops packets, nothing resets
 * the connection) fails within about half a minute instead of the kernel's default ~15 minutes, so
 * a repmgrd waiting on such a connection gets an error and goes on to its failover decision.
 *   tcp_retries2 6: unacknowledged data gives up after ~25 s (with the 200 ms minimum RTO; the
 *     first retransmission timeout past that point on slower links);
 *   tcp_keepalive_time/intvl/probes 10/5/3: an idle connection is probed after 10 s of silence and
 *     declared dead after three unanswered probes 5 s apart (~25 s; libpq and PostgreSQL enable
 *     SO_KEEPALIVE and use these system values unless told otherwise).
 */
export const DB_CONTAINER_SYSCTLS: ReadonlyArray<readonly [string, string]> = [
  ["net.ipv4.tcp_retries2", "6"],
  ["net.ipv4.tcp_keepalive_time", "10"],
  ["net.ipv4.tcp_keepalive_intvl", "5"],
  ["net.ipv4.tcp_keepalive_probes", "3"],
];

/**
 * A DB container's log configuration: Docker's json-file driver with rotation (`--log-driver`,
 * `--log-opt max-size=`, `--log-opt max-file=`; the provider's `log_driver` and `log_opts`), or
 * undefined for the daemon's own configuration. Docker's default json-file log is never rotated.
 */
export interface ContainerLogs {
  readonly driver: "json-file";
  /** The log driver's options, in the order written: max-size ("50m"), max-file ("5"). */
  readonly options: ReadonlyArray<readonly [string, string]>;
}

export function containerLogs(d: Deployment): ContainerLogs | undefined {
  const l = d.database.docker.logs;
  if (l.driver === "daemon") return undefined;
  return {
    driver: l.driver,
    options: [
      ["max-size", `${l.maxSizeMb}m`],
      ["max-file", String(l.maxFiles)],
    ],
  };
}

/** Environment variables that carry secrets: set from sensitive values, never rendered. */
export interface SecretEnv {
  readonly name: string;
  readonly secret: "dbPassword" | "repmgrPassword";
}

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  /** Non-secret environment, in the guide's order. */
  readonly env: ReadonlyArray<readonly [string, string]>;
  readonly secretEnv: ReadonlyArray<SecretEnv>;
  readonly ports: ReadonlyArray<{ readonly internal: number; readonly external: number }>;
  readonly volumes: ReadonlyArray<{ readonly containerPath: string; readonly volumeName?: string; readonly hostPath?: string }>;
  /** --add-host entries. */
  readonly hosts: ReadonlyArray<{ readonly host: string; readonly ip: string }>;
  readonly shmSizeMb: number;
  /** Network-namespace kernel settings (--sysctl k=v; the provider's `sysctls` map): DB_CONTAINER_SYSCTLS. */
  readonly sysctls: ReadonlyArray<readonly [string, string]>;
  readonly restart: "always";
  /** The log driver and its rotation; undefined: the Docker daemon's own configuration. */
  readonly logs?: ContainerLogs;
  /** conf.d/extra.conf for data nodes (PGTune), undefined for witnesses. */
  readonly extraConf?: string;
  /**
   * Files of the data node's mounted repmgr configuration (database.repmgrConfDir): repmgr.conf's
   * additions and the failover validation script. Undefined for witnesses.
   */
  readonly repmgrFiles?: DockerRepmgrFiles;
}

export interface DockerRepmgrFiles {
  /** repmgr.conf merged into the image's: one line per key, no blank or comment line. */
  readonly repmgrConf: string;
  readonly validateScript: string;
}

/**
 * A data node's repmgr additions. The merge keeps the generated lines whose key the mounted file
 * does not set; a blank line there would match (and drop) every generated line, so the file has
 * only settings (docs/background.md#the-bitnami-postgresql-repmgr-image).
 */
export function dockerRepmgrFiles(d: Deployment): DockerRepmgrFiles {
  return {
    repmgrConf: [
      ["failover_validation_command=", repmgrConfValue(failoverValidationCommand(DOCKER_VALIDATE_FAILOVER, true)), "\n"].join(""),
      ["election_rerun_interval=", repmgrConfValue(failoverTiming(d).electionRerunIntervalSeconds), "\n"].join(""),
    ].join(""),
    validateScript: renderFailoverValidationScript({
      psql: "psql",
      localHost: "127.0.0.1",
      localPort: d.database.port,
      localUser: "repmgr",
      stateFile: "/tmp/ems-ha-validate-failover.state",
      ...failoverValidationTiming(d),
    }),
  };
}

/** Docker volume of a node: pg-1 -> pg_1_data (the guide's naming). */
export function volumeNameOf(nodeName: string): string {
  return `${nodeName.replace(/-/g, "_")}_data`;
}

export function imageRef(d: Deployment): string {
  const img = d.database.image;
  const prefix = img.source.kind === "registry" && img.source.registry ? `${img.source.registry.replace(/\/+$/, "")}/` : "";
  return `${prefix}${img.name}:${img.tag}`;
}

/** REPMGR_PARTNER_NODES in the guide's form: every member, port once at the end. */
export function partnerNodes(d: Deployment): string {
  return `${d.database.nodes.map((n) => n.name).join(",")}:${d.database.port}`;
}

export function containerSpec(d: Deployment, node: DbNodeConfig): ContainerSpec {
  const port = d.database.port;
  const primary = initialPrimary(d);
  const witness = node.role === "witness";
  const env: Array<[string, string]> = [];
  if (d.database.user !== "postgres") env.push(["POSTGRESQL_USERNAME", d.database.user]);
  if (port !== 5432) env.push(["POSTGRESQL_PORT_NUMBER", String(port)]);
  env.push(
    ["REPMGR_PRIMARY_HOST", primary.name],
    ["REPMGR_PRIMARY_PORT", String(port)],
    ["REPMGR_PARTNER_NODES", partnerNodes(d)],
    ["REPMGR_NODE_NAME", node.name],
    ["REPMGR_NODE_NETWORK_NAME", node.name],
    ["REPMGR_PORT_NUMBER", String(port)],
    ["REPMGR_DEGRADED_MONITORING_TIMEOUT", "-1"],
  );
  if (witness) {
    env.push(["REPMGR_NODE_TYPE", "witness"], ["REPMGR_NODE_ID_START_SEED", "2000"]);
  } else {
    env.push(["REPMGR_NODE_PRIORITY", String(priorityOf(node))]);
  }
  if (node.location !== undefined) env.push(["REPMGR_NODE_LOCATION", locationOf(node)]);
  if (node.nodeId !== undefined) env.push(["REPMGR_NODE_ID", String(node.nodeId)]);
  // Failover timing only when chosen: otherwise the image's own defaults apply, as in the guide.
  const t = failoverTiming(d);
  if (t.explicit.has("reconnectAttempts")) env.push(["REPMGR_RECONNECT_ATTEMPTS", String(t.reconnectAttempts)]);
  if (t.explicit.has("reconnectIntervalSeconds")) env.push(["REPMGR_RECONNECT_INTERVAL", String(t.reconnectIntervalSeconds)]);
  if (t.explicit.has("connectTimeoutSeconds")) env.push(["REPMGR_CONNECT_TIMEOUT", String(t.connectTimeoutSeconds)]);
  // Synchronous replication through the image's own variables (docs/reliability.md#synchronous-replication):
  // it builds synchronous_standby_names = 'ANY 1 ("<each REPMGR_PARTNER_NODES host>", ...)' on the
  // initial primary's first boot. Data nodes only: a witness never streams WAL.
  const sync = d.database.synchronousReplication;
  if (!witness && sync.mode !== "off") {
    env.push(
      ["POSTGRESQL_NUM_SYNCHRONOUS_REPLICAS", "1"],
      ["POSTGRESQL_SYNCHRONOUS_REPLICAS_MODE", "ANY"],
      ["POSTGRESQL_SYNCHRONOUS_COMMIT_MODE", sync.commit],
    );
  }

  const volumes: Array<{ containerPath: string; volumeName?: string; hostPath?: string }> = [
    { volumeName: volumeNameOf(node.name), containerPath: DATA_MOUNT },
  ];
  if (!witness) {
    volumes.push({ hostPath: d.database.confDir, containerPath: CONF_D_MOUNT });
    volumes.push({ hostPath: d.database.repmgrConfDir, containerPath: REPMGR_CONF_MOUNT });
  }

  const logs = containerLogs(d);
  return {
    name: node.name,
    image: imageRef(d),
    env,
    secretEnv: [
      { name: "POSTGRESQL_PASSWORD", secret: "dbPassword" },
      { name: "REPMGR_PASSWORD", secret: "repmgrPassword" },
    ],
    ports: [{ internal: port, external: port }],
    volumes,
    hosts: d.database.nodes.map((n) => ({ host: n.name, ip: n.address })),
    shmSizeMb: SHM_SIZE_MB,
    sysctls: DB_CONTAINER_SYSCTLS,
    ...(logs ? { logs } : {}),
    restart: "always",
    extraConf: witness ? undefined : pgtuneForNode(node, d.database.maxConnections) + renderSlotCapConf(d),
    repmgrFiles: witness ? undefined : dockerRepmgrFiles(d),
  };
}

/**
 * The equivalent `docker run` command (for docs, reviews and hand deployment).
 * Secret variables reference shell variables ($DB_PASSWORD, $REPMGR_PASSWORD), never values.
 */
export function dockerRunCommand(spec: ContainerSpec): string {
  const parts: string[] = [sh`docker run --restart ${spec.restart} --detach --name ${spec.name}`];
  for (const p of spec.ports) parts.push(sh`-p ${`${p.external}:${p.internal}`}`);
  // A reference to a shell variable of the person running the command, never a value.
  for (const s of spec.secretEnv) parts.push(sh`--env ${`${s.name}=`}${raw(s.secret === "dbPassword" ? '"$DB_PASSWORD"' : '"$REPMGR_PASSWORD"')}`);
  for (const [k, v] of spec.env) parts.push(sh`--env ${`${k}=${v}`}`);
  for (const v of spec.volumes) parts.push(sh`--volume ${`${v.volumeName ?? v.hostPath}:${v.containerPath}`}`);
  parts.push(sh`--shm-size ${spec.shmSizeMb === 1024 ? "1g" : `${spec.shmSizeMb}m`}`);
  for (const [k, v] of spec.sysctls) parts.push(sh`--sysctl ${`${k}=${v}`}`);
  if (spec.logs) {
    parts.push(sh`--log-driver ${spec.logs.driver}`);
    for (const [k, v] of spec.logs.options) parts.push(sh`--log-opt ${`${k}=${v}`}`);
  }
  for (const h of spec.hosts) parts.push(sh`--add-host ${`${h.host}:${h.ip}`}`);
  parts.push(sh`${spec.image}`);
  return parts.join(" \\\n  ");
}
