/** Parsing `docker run` commands (the guide's, or ours) into comparable flags, for tests. */

/**
 * What ems-ha adds to every DB container beyond the guide's commands: its network namespace's TCP
 * settings (docs/reliability.md#a-location-cut-and-tcp), as sorted `key=value`.
 */
export const TCP_SYSCTLS = ["net.ipv4.tcp_keepalive_intvl=5", "net.ipv4.tcp_keepalive_probes=3", "net.ipv4.tcp_keepalive_time=10", "net.ipv4.tcp_retries2=6"];

/** The default log rotation of every DB container (database.docker.logs), as sorted `--log-opt` values. */
export const LOG_OPTS = ["max-file=5", "max-size=50m"];

/**
 * Everything ems-ha adds to the guide's `docker run` of a DB container: the TCP settings, how
 * the container stops (SIGINT, PostgreSQL's fast shutdown, with 120 s of grace; src/render/bitnami.ts)
 * and its rotated log.
 */
export const OURS = { sysctls: TCP_SYSCTLS, stopSignal: "SIGINT", stopTimeout: "120", logDriver: "json-file", logOpts: LOG_OPTS } as const;

/**
 * A guide's docker run with what ems-ha adds: OURS, and on data nodes (those mounting conf.d) the
 * mounted repmgr configuration with the failover validation script (docs/reliability.md#two-standbys-promoted-at-once).
 */
export function withOurs<F extends Pick<DockerFlags, "volumes">>(f: F): F & typeof OURS {
  const data = f.volumes.some((v) => v.endsWith(":/bitnami/postgresql/conf/conf.d"));
  return {
    ...f,
    ...OURS,
    sysctls: [...OURS.sysctls],
    logOpts: [...OURS.logOpts],
    volumes: data ? [...f.volumes, "/opt/ems-ha/repmgr-conf:/bitnami/repmgr/conf"] : f.volumes,
  };
}

/** A docker_container's `sysctls` map as sorted `key=value`. */
export function sysctlsOf(c: Record<string, unknown>): string[] {
  return Object.entries((c.sysctls ?? {}) as Record<string, string>)
    .map(([k, v]) => `${k}=${v}`)
    .sort();
}

/** A docker_container's `log_driver` ("" when unset) and `log_opts` as sorted `key=value`. */
export function logsOf(c: Record<string, unknown>): { logDriver: string; logOpts: string[] } {
  return {
    logDriver: (c.log_driver as string | undefined) ?? "",
    logOpts: Object.entries((c.log_opts ?? {}) as Record<string, string>)
      .map(([k, v]) => `${k}=${v}`)
      .sort(),
  };
}

/** A docker run command reduced to comparable flags. */
export interface DockerFlags {
  name: string;
  restart: string;
  image: string;
  ports: string[];
  env: Record<string, string>;
  volumes: string[];
  shm: string;
  addHosts: string[];
  labels: string[];
  envFiles: string[];
  stopSignal: string;
  stopTimeout: string;
  /** --sysctl key=value (not in the guide's commands). */
  sysctls: string[];
  /** --log-driver, "" when absent (not in the guide's commands). */
  logDriver: string;
  /** --log-opt key=value, sorted. */
  logOpts: string[];
}

/** Parses `docker run ...` (guide text or ours); secrets become "<secret>". */
export function parseDockerRun(command: string): DockerFlags {
  const tokens = command.replace(/\\\n/g, " ").split(/\s+/).filter(Boolean);
  const start = tokens.indexOf("run");
  const f: DockerFlags = {
    name: "",
    restart: "",
    image: "",
    ports: [],
    env: {},
    volumes: [],
    shm: "",
    addHosts: [],
    labels: [],
    envFiles: [],
    stopSignal: "",
    stopTimeout: "",
    sysctls: [],
    logDriver: "",
    logOpts: [],
  };
  for (let i = start + 1; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = () => tokens[++i]!;
    if (t === "--restart") f.restart = next();
    else if (t === "--detach") continue;
    else if (t === "--name") f.name = next();
    else if (t === "-p" || t === "--publish") f.ports.push(next());
    else if (t === "--stop-signal") f.stopSignal = next();
    else if (t === "--stop-timeout") f.stopTimeout = next();
    else if (t === "--env") {
      const [k, ...v] = next().split("=");
      f.env[k!] = /PASSWORD$/.test(k!) ? "<secret>" : v.join("=").replace(/^'(.*)'$/, "$1");
    } else if (t === "--env-file") f.envFiles.push(next());
    else if (t === "--label") f.labels.push(next());
    else if (t === "--volume") f.volumes.push(next());
    else if (t === "--shm-size") f.shm = next() === "1024m" ? "1g" : tokens[i]!;
    else if (t === "--add-host") f.addHosts.push(next());
    else if (t === "--sysctl") f.sysctls.push(next());
    else if (t === "--log-driver") f.logDriver = next();
    else if (t === "--log-opt") f.logOpts = [...f.logOpts, next()].sort();
    else if (!t.startsWith("-")) f.image = t.includes(":") ? t : `${t}:latest`;
    else throw new Error(`unexpected flag ${t}`);
  }
  return f;
}
