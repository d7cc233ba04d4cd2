/**
 * Where things live on a native (Debian/Ubuntu) PostgreSQL host, and the cluster's members
 * as the native topology sees them. Pure values: no I/O.
 */
import { ConfigError, type ConfigIssue } from "../../config/errors";
import { failoverTiming, initialPrimary, locationOf, priorityOf } from "../../config/derive";
import { nativeSchema, type DbNodeConfig, type Deployment, type NativeSettings } from "../../config/schema";
import { conninfoValue, plainWord } from "../escape";

/** Debian's postgresql-common layout for cluster <version>/main. */
export interface NativeLayout {
  readonly pgVersion: number;
  /** Binaries (pg_ctl, pg_rewind, repmgr, repmgrd). Not /usr/bin, as the guide has it (docs/background.md#errors-in-the-guide). */
  readonly bindir: `/usr/lib/postgresql/${number}/bin`;
  readonly confDir: `/etc/postgresql/${number}/main`;
  readonly dataDir: `/var/lib/postgresql/${number}/main`;
  /** systemd unit of the cluster. */
  readonly service: `postgresql@${number}-main`;
  readonly dropIn: `/etc/postgresql/${number}/main/conf.d/ems-ha.conf`;
  readonly hbaFile: `/etc/postgresql/${number}/main/pg_hba.conf`;
  readonly repmgrConf: "/etc/repmgr.conf";
  readonly repmgrLogDir: "/var/log/repmgr";
  readonly repmgrdUnit: "/etc/systemd/system/repmgrd.service";
  readonly repmgrdDefaults: "/etc/default/repmgrd";
  readonly repmgrdPidFile: "/run/repmgrd/repmgrd.pid";
  /** logrotate's configuration for repmgrd's log file. */
  readonly repmgrdLogrotate: "/etc/logrotate.d/ems-ha-repmgrd";
  readonly symmetricKeyFile: `/var/lib/postgresql/${number}/symmetric_key.txt`;
  /** The toolkit's state on the host (markers, the setup script). */
  readonly stateDir: typeof STATE_DIR;
  /** Where the provisioners upload files; root-only. */
  readonly stageDir: `${typeof STATE_DIR}/stage`;
  /** Where the secrets are uploaded; deleted by the setup script when it exits. */
  readonly secretDir: `${typeof STATE_DIR}/stage/secrets`;
  readonly setupScript: `${typeof STATE_DIR}/native-setup.sh`;
  readonly reconcileScript: "/usr/local/sbin/ems-ha-reconcile";
  /** repmgrd's failover_validation_command (docs/reliability.md#two-standbys-promoted-at-once). */
  readonly validateFailoverScript: "/usr/local/sbin/ems-ha-validate-failover";
  /** Its one line of state, in repmgrd's runtime directory. */
  readonly validateFailoverState: "/run/repmgrd/ems-ha-validate-failover.state";
  readonly reconcileUnit: "/etc/systemd/system/ems-ha-reconcile.service";
  readonly sudoersFile: "/etc/sudoers.d/ems-ha-postgres";
  readonly extensionsUpload: `${typeof STATE_DIR}/stage/ems_pg_extensions.tar.gz`;
  readonly systemctl: "/usr/bin/systemctl";
}

export const STATE_DIR = "/var/lib/ems-ha";

export function nativeLayout(pgVersion = 15): NativeLayout {
  const stageDir = `${STATE_DIR}/stage` as const;
  return {
    pgVersion,
    bindir: `/usr/lib/postgresql/${pgVersion}/bin`,
    confDir: `/etc/postgresql/${pgVersion}/main`,
    dataDir: `/var/lib/postgresql/${pgVersion}/main`,
    service: `postgresql@${pgVersion}-main`,
    dropIn: `/etc/postgresql/${pgVersion}/main/conf.d/ems-ha.conf`,
    hbaFile: `/etc/postgresql/${pgVersion}/main/pg_hba.conf`,
    repmgrConf: "/etc/repmgr.conf",
    repmgrLogDir: "/var/log/repmgr",
    repmgrdUnit: "/etc/systemd/system/repmgrd.service",
    repmgrdDefaults: "/etc/default/repmgrd",
    repmgrdPidFile: "/run/repmgrd/repmgrd.pid",
    repmgrdLogrotate: "/etc/logrotate.d/ems-ha-repmgrd",
    symmetricKeyFile: `/var/lib/postgresql/${pgVersion}/symmetric_key.txt`,
    stateDir: STATE_DIR,
    stageDir,
    secretDir: `${stageDir}/secrets`,
    setupScript: `${STATE_DIR}/native-setup.sh` as const,
    reconcileScript: "/usr/local/sbin/ems-ha-reconcile",
    validateFailoverScript: "/usr/local/sbin/ems-ha-validate-failover",
    validateFailoverState: "/run/repmgrd/ems-ha-validate-failover.state",
    reconcileUnit: "/etc/systemd/system/ems-ha-reconcile.service",
    sudoersFile: "/etc/sudoers.d/ems-ha-postgres",
    extensionsUpload: `${stageDir}/ems_pg_extensions.tar.gz`,
    systemctl: "/usr/bin/systemctl",
  };
}

/** The native settings with every default filled in. */
export function nativeSettings(d: Deployment): NativeSettings {
  return d.native ?? nativeSchema.parse({});
}

/** One PostgreSQL host of the native cluster. */
export interface NativeMember {
  readonly name: string;
  readonly address: string;
  readonly role: "data" | "witness";
  /** repmgr node_id: the node's nodeId, else its position in database.nodes + 1 (the guide: 1, 2, witness 3). */
  readonly nodeId: number;
  readonly priority: number;
  readonly location: string;
  readonly port: number;
  /** The data node that bootstraps the cluster. */
  readonly initialPrimary: boolean;
  readonly config: DbNodeConfig;
}

/**
 * The members in setup order: the initial primary, the other data nodes, then the witnesses.
 * Throws ConfigError when two members end up with the same repmgr node id.
 */
export function nativeMembers(d: Deployment): NativeMember[] {
  const first = initialPrimary(d).name;
  // The scripts keep peers as "name address port" words and compare names in SQL text: both must be plain words.
  const fix = "use a host name or IP address and a node name of letters, digits, '.', '_' and '-'";
  plainWord(d.database.user, "database.user", "use a user name of letters, digits and '_'");
  const members = d.database.nodes.map((n, i): NativeMember => ({
    name: plainWord(n.name, `database.nodes[${i}].name`, fix),
    address: plainWord(n.address, `database.nodes[${i}].address`, fix),
    role: n.role,
    nodeId: n.nodeId ?? i + 1,
    priority: priorityOf(n),
    location: locationOf(n),
    port: d.database.port,
    initialPrimary: n.name === first,
    config: n,
  }));
  const issues: ConfigIssue[] = [];
  const seen = new Map<number, string>();
  members.forEach((m, i) => {
    const other = seen.get(m.nodeId);
    if (other !== undefined) {
      issues.push({
        path: `database.nodes[${i}].nodeId`,
        value: m.nodeId,
        message: `repmgr node id ${m.nodeId} is also the id of ${other} (natively, ids default to the position in database.nodes, starting at 1)`,
        fix: "give the node a nodeId no other node has, or remove the explicit nodeId values",
      });
    } else seen.set(m.nodeId, m.name);
  });
  if (issues.length > 0) throw new ConfigError(issues);
  const rank = (m: NativeMember) => (m.initialPrimary ? 0 : m.role === "data" ? 1 : 2);
  return members
    .map((m, i) => ({ m, i }))
    .sort((a, b) => rank(a.m) - rank(b.m) || a.i - b.i)
    .map(({ m }) => m);
}

export function memberByName(d: Deployment, name: string): NativeMember {
  const m = nativeMembers(d).find((x) => x.name === name);
  if (!m) throw new Error(`no DB node named ${name}`);
  return m;
}

/** libpq conninfo of a member for the repmgr user. */
export function repmgrConninfo(m: Pick<NativeMember, "address" | "port">, connectTimeoutSeconds: number): string {
  return ["host=" + conninfoValue(m.address), `port=${m.port}`, "user=repmgr dbname=repmgr", `connect_timeout=${connectTimeoutSeconds}`].join(" ");
}

export function connectTimeout(d: Deployment): number {
  return failoverTiming(d).connectTimeoutSeconds;
}
