/**
 * The typed description of an EMS HA deployment.
 *
 * One object describes every host, the database cluster, the EMS installer,
 * the EMS settings and the FortiGate load balancer. Secrets are deliberately
 * not fields: the DB password, the repmgr password, the FortiGate token and
 * the symmetric key enter as sensitive Terraform variables.
 *
 * Defaults come from the vendor guide (FortiClient EMS 7.4.4 HA deployment guide).
 */
import { z } from "zod";
import { stateSchema } from "./state";

/** Topologies of the guide; each one is a stack id. */
export const TOPOLOGIES = [
  "single-region",
  "geo-redundant",
  "standalone-db",
  "vm-appliances",
  "native-single-region",
  "upgrade-7-4-4",
] as const;
export type Topology = (typeof TOPOLOGIES)[number];

const hostname = z
  .string()
  .min(1, "must not be empty")
  .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, "must be an IPv4 address or a DNS name (letters, digits, '.', '-')");

const nodeName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be lowercase letters, digits and '-', like pg-1");

/** How the toolkit logs in to a host over SSH. */
export const sshSchema = z
  .object({
    /** Login user. @default "root" */
    user: z.string().min(1).default("root"),
    /** SSH port. @default 22 */
    port: z.number().int().min(1).max(65535).default(22),
    /**
     * Path of the private key on the machine that runs Terraform. When absent, the
     * ssh agent (SSH_AUTH_SOCK) is used.
     */
    privateKeyPath: z.string().min(1).optional(),
  })
  .strict()
  .default({});
export type SshSettings = z.infer<typeof sshSchema>;

export const EMS_OS = ["ubuntu", "rhel9-azure", "rhel9-aws"] as const;

export const emsNodeSchema = z
  .object({
    name: nodeName,
    address: hostname,
    ssh: sshSchema,
    /** Operating system of the EMS host. @default "ubuntu" */
    os: z.enum(EMS_OS).default("ubuntu"),
    /** The host is a cloned VM: reset its machine-id before installing. @default false */
    clonedVm: z.boolean().default(false),
    /** Data centre / location of the node (used by the analysis). @default "default" */
    location: z.string().min(1).default("default"),
  })
  .strict();
export type EmsNodeConfig = z.infer<typeof emsNodeSchema>;

export const STORAGE = ["ssd", "hdd", "san"] as const;

export const dbNodeSchema = z
  .object({
    /** repmgr node name; with the Docker image it must end in -<number> (pg-1, pgw-1). */
    name: nodeName,
    /** Address the other nodes and EMS use. With Docker it must be an IP (it becomes --add-host). */
    address: hostname,
    /** data: holds a copy of the database; witness: votes only. */
    role: z.enum(["data", "witness"]),
    /** repmgr priority. @default 100 for data nodes, 0 for witnesses */
    priority: z.number().int().min(0).max(1000).optional(),
    /** repmgr location (data centre). When absent, repmgr's "default" is used. */
    location: z.string().regex(/^[A-Za-z0-9_-]+$/, "must be letters, digits, '_' or '-'").optional(),
    /** Host RAM in GB (PGTune input). @default 4 */
    ramGb: z.number().positive().max(4096).default(4),
    /** Host CPUs (PGTune input). @default 4 */
    cpus: z.number().int().min(1).max(1024).default(4),
    /** Storage type (PGTune input). @default "ssd" */
    storage: z.enum(STORAGE).default("ssd"),
    ssh: sshSchema,
    /** Explicit repmgr node id (native topology). Default: from the name. */
    nodeId: z.number().int().min(1).optional(),
  })
  .strict();
export type DbNodeInput = z.input<typeof dbNodeSchema>;
export type DbNodeConfig = z.infer<typeof dbNodeSchema>;

const sha256 = z.string().regex(/^[a-f0-9]{64}$/, "must be 64 lowercase hex characters (the output of sha256sum)");

export const imageSchema = z
  .object({
    /** Image name as `docker load` reports it. @default "ems-postgres-ha" */
    name: z.string().min(1).default("ems-postgres-ha"),
    /** @default "latest" */
    tag: z.string().min(1).default("latest"),
    /** Where the image comes from. @default a tarball at /root/forticlientems_postgres-ha.tar.gz */
    source: z
      .discriminatedUnion("kind", [
        z
          .object({
            kind: z.literal("tarball"),
            /** Path of the tarball on each DB host. */
            path: z.string().startsWith("/", "must be an absolute path on the DB host"),
            /** sha256 of the tarball; the load is keyed on it and verified before loading. */
            sha256,
          })
          .strict(),
        z
          .object({
            kind: z.literal("registry"),
            /** Registry prefix, e.g. registry.example.com/ems. Empty for Docker Hub. */
            registry: z.string().default(""),
          })
          .strict(),
      ])
      .default({ kind: "registry", registry: "" }),
  })
  .strict()
  .default({});

/**
 * Failover timing of repmgr (FACTS §2). Unset fields take the topology's defaults:
 * repmgr's 6 x 10 s natively (what the guide describes), the image's 3 x 5 s with Docker.
 * `profile: "tuned"` selects 3 attempts x 2 s (measured 5-6 s failover on the lab).
 * Use `failoverTiming(deployment)` from derive.ts for the effective values.
 */
export const failoverTimingSchema = z
  .object({
    /** "default": the topology's defaults; "tuned": fast failover. @default "default" */
    profile: z.enum(["default", "tuned"]).default("default"),
    /** repmgr reconnect_attempts. */
    reconnectAttempts: z.number().int().min(1).max(60).optional(),
    /** repmgr reconnect_interval in seconds. */
    reconnectIntervalSeconds: z.number().int().min(1).max(600).optional(),
    /** libpq connect_timeout in seconds used in conninfo. @default 2 */
    connectTimeoutSeconds: z.number().int().min(1).max(60).optional(),
    /** repmgrd monitor_interval_secs. @default 2 */
    monitorIntervalSeconds: z.number().int().min(1).max(60).optional(),
  })
  .strict()
  .default({});

export const databaseSchema = z
  .object({
    /** PostgreSQL port on every DB host. @default 5432 */
    port: z.number().int().min(1).max(65535).default(5432),
    /** PostgreSQL superuser EMS connects as. @default "postgres" */
    user: z.string().regex(/^[a-z_][a-z0-9_]*$/, "must be a PostgreSQL identifier such as postgres").default("postgres"),
    /** Name of the data node that starts as primary. @default the first data node */
    initialPrimary: z.string().optional(),
    /** max_connections used by PGTune. @default 1092 (the guide) */
    maxConnections: z.number().int().min(10).max(100000).default(1092),
    /** Directory on each data host holding conf.d/extra.conf. @default "/opt/ems-ha/conf.d" */
    confDir: z.string().startsWith("/", "must be an absolute path").default("/opt/ems-ha/conf.d"),
    image: imageSchema,
    /** Install Docker on DB hosts that lack it (apt-get install docker.io / dnf install docker). @default true */
    installDocker: z.boolean().default(true),
    failover: failoverTimingSchema,
    nodes: z.array(dbNodeSchema).min(1, "at least one DB node is needed"),
  })
  .strict();
export type DatabaseConfig = z.infer<typeof databaseSchema>;

export const installerSchema = z
  .object({
    /** EMS build, e.g. 7.4.4.2034. */
    version: z.string().regex(/^\d+\.\d+\.\d+\.\d+$/, "must look like 7.4.4.2034"),
    source: z.discriminatedUnion("kind", [
      z
        .object({
          kind: z.literal("file"),
          /** Local path of forticlientems_<version>.F.bin on the machine running Terraform. */
          path: z.string().min(1),
          sha256,
        })
        .strict(),
      z
        .object({
          kind: z.literal("url"),
          url: z.string().url().refine((u) => /^https?:\/\//.test(u), "must be an http(s) URL"),
          sha256,
        })
        .strict(),
    ]),
    /** Directory on each EMS host the installer is placed in and run from. Never /tmp. @default "/opt/ems-ha/installer" */
    installDir: z.string().startsWith("/", "must be an absolute path").default("/opt/ems-ha/installer"),
  })
  .strict();
export type InstallerConfig = z.infer<typeof installerSchema>;

export const emsSettingsSchema = z
  .object({
    /** FQDN EMS is reached by (EMS Settings > Use FQDN). */
    fqdn: hostname,
    /** VIP on the FortiGate, also EMS's custom hostname. */
    vip: z.string(),
    /** High Availability Keep Alive Interval in seconds, 5-30. @default 10 */
    keepaliveSeconds: z.number().int().default(10),
  })
  .strict();

export const fortigateSchema = z
  .object({
    /** Management address of the FortiGate. */
    address: hostname,
    /** @default "root" */
    vdom: z.string().min(1).default("root"),
    /** Interface that receives client traffic (extintf of the VIPs, srcintf of the policy). */
    incomingInterface: z.string().min(1),
    /** Interface towards the EMS nodes (dstintf of the policy). */
    outgoingInterface: z.string().min(1),
    /** Chromebook management enabled: adds port 8443. @default false */
    chromebook: z.boolean().default(false),
    /** ACME certificate import: adds port 80. @default false */
    acme: z.boolean().default(false),
    /** More EMS subnets behind other interfaces: one more policy each. @default [] */
    extraEmsSubnets: z
      .array(z.object({ outgoingInterface: z.string().min(1), incomingInterface: z.string().min(1).optional() }).strict())
      .default([]),
    /** First firewall policy id the toolkit uses. @default 1000 */
    policyIdBase: z.number().int().min(1).max(4294967000).default(1000),
    /** Prefix of every object name. @default "ems-ha" */
    namePrefix: z.string().regex(/^[A-Za-z0-9_-]{1,20}$/, "must be 1-20 letters, digits, '_' or '-'").default("ems-ha"),
    /** Verify the FortiGate's TLS certificate; needs caBundleFile. @default false */
    verifyTls: z.boolean().default(false),
    caBundleFile: z.string().optional(),
  })
  .strict();
export type FortiGateConfig = z.infer<typeof fortigateSchema>;

/** Settings of the native PostgreSQL topology (native-single-region): PostgreSQL + repmgr without Docker. */
export const nativeSchema = z
  .object({
    /**
     * Where postgresql-15 and postgresql-15-repmgr come from: "pgdg" (the guide: apt.postgresql.org),
     * "distribution" (the distribution's own repository) or "preinstalled" (checked, never installed).
     * @default "pgdg"
     */
    packages: z.enum(["pgdg", "distribution", "preinstalled"]).default("pgdg"),
    /** PostgreSQL major version. Only 15 is supported by EMS 7.4.4. @default 15 */
    pgVersion: z.literal(15).default(15),
    /**
     * The EMS extensions tarball (ems_pg_extensions.tar.gz) on the machine running Terraform,
     * extracted to / on the data nodes. When absent the step is skipped.
     */
    extensions: z.object({ path: z.string().min(1), sha256 }).strict().optional(),
    /** wal_keep_size, so a failed primary can still rewind and rejoin. @default "512MB" */
    walKeepSize: z.string().regex(/^\d+(kB|MB|GB|TB)$/, "must be a size like 512MB").default("512MB"),
    /** Seconds between two checks of the reconciliation service. @default 10 */
    reconcileIntervalSeconds: z.number().int().min(2).max(3600).default(10),
    /** Networks allowed to connect to the data nodes as the EMS user (pg_hba). @default ["0.0.0.0/0"] (the guide) */
    clientNetworks: z.array(z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, "must be a CIDR like 192.168.1.0/24")).min(1).default(["0.0.0.0/0"]),
    /** Apply the PGTune settings (FACTS §8) to the data nodes. @default true */
    tune: z.boolean().default(true),
    /** repmgr log_level. @default "INFO" */
    logLevel: z.enum(["DEBUG", "INFO", "NOTICE", "WARNING", "ERROR"]).default("INFO"),
  })
  .strict();
export type NativeSettings = z.infer<typeof nativeSchema>;

const cidr = z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, "must be a CIDR like 192.168.1.0/24");

/**
 * The one remote PostgreSQL server of the standalone-db and vm-appliances topologies.
 * The server itself is `database.nodes[0]` (one node, role "data": its address, and its ssh
 * settings when managed); port and user are `database.port` / `database.user`.
 */
export const standaloneSchema = z.discriminatedUnion("mode", [
  z
    .object({
      /** The server exists and is prepared (EMS extensions, listen_addresses, pg_hba): the stack only points EMS at it. */
      mode: z.literal("existing"),
    })
    .strict(),
  z
    .object({
      /** The stack installs PostgreSQL natively on the node's host over SSH (the guide's "standalone remote DB"). */
      mode: z.literal("managed"),
      /**
       * Where postgresql-15 comes from: "pgdg" (apt.postgresql.org, as the guide), "distribution", or
       * "preinstalled" (checked, never installed). @default "pgdg"
       */
      packages: z.enum(["pgdg", "distribution", "preinstalled"]).default("pgdg"),
      /** ems_pg_extensions.tar.gz on the machine running Terraform, extracted to / on the server. When absent the step is skipped. */
      extensions: z.object({ path: z.string().min(1), sha256 }).strict().optional(),
      /** Networks allowed to log in as database.user besides the EMS nodes (pg_hba). @default [] (only the EMS nodes' addresses) */
      clientNetworks: z.array(cidr).default([]),
      /** Apply PGTune (FACTS §8) for the node's ramGb/cpus/storage. @default true */
      tune: z.boolean().default(true),
    })
    .strict(),
]);
export type StandaloneSettings = z.infer<typeof standaloneSchema>;

/** How the toolkit drives EMS VM appliances (topology vm-appliances) through their SSH CLI. */
export const appliancesSchema = z
  .object({
    /** Regular expression matching the CLI prompt at the end of the output. @default "[>#$] ?$" */
    promptPattern: z
      .string()
      .min(1)
      .refine((s) => {
        try {
          new RegExp(s);
          return true;
        } catch {
          return false;
        }
      }, "must be a valid regular expression")
      .default("[>#$] ?$"),
    /** Seconds to log in and see the first prompt. @default 30 */
    loginTimeoutSeconds: z.number().int().min(1).max(600).default(30),
    /** Seconds for ping, hostname and `ha get nodes`. @default 60 */
    commandTimeoutSeconds: z.number().int().min(1).max(3600).default(60),
    /** Seconds for `redirect` (it deploys the EMS database on the primary). @default 900 */
    redirectTimeoutSeconds: z.number().int().min(10).max(7200).default(900),
    /** `system set hostname` per EMS node name. @default the node name */
    hostnames: z.record(z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, "must be letters, digits and '-', like EMS-1")).default({}),
    /** How the appliance's SSH host key is checked. "known-hosts": must be in knownHostsPath. @default "known-hosts" */
    hostKeyCheck: z.enum(["known-hosts", "off"]).default("known-hosts"),
    /** known_hosts file on the machine running Terraform. @default "~/.ssh/known_hosts" */
    knownHostsPath: z.string().min(1).default("~/.ssh/known_hosts"),
  })
  .strict();
export type ApplianceSettings = z.infer<typeof appliancesSchema>;

/**
 * The move of a Docker PG HA cluster to the new image (topology upgrade-7-4-4). database.nodes
 * describe the cluster after the upgrade; database.image is the new image (its tarball is loaded).
 */
export const upgradeSchema = z
  .object({
    /**
     * What each node ran before: its old container and the volume that container mounts at
     * /bitnami/postgresql. @default per node: container = the node's name, volume = <container>_data with '-' as '_'
     */
    previous: z
      .array(
        z
          .object({
            node: nodeName,
            container: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must be a docker container name"),
            volume: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must be a docker volume name").optional(),
          })
          .strict(),
      )
      .default([]),
    /** shared_preload_libraries set with ALTER SYSTEM before the stop (the guide's step 1). @default "pg_stat_statements, repmgr" */
    sharedPreloadLibraries: z.string().regex(/^[a-z_]+(, ?[a-z_]+)*$/, "must be a comma-separated list like pg_stat_statements, repmgr").default("pg_stat_statements, repmgr"),
    /** Suffix of the old container's name when the new container keeps the name. @default "-pre-upgrade" */
    renameSuffix: z.string().regex(/^[A-Za-z0-9_.-]+$/).default("-pre-upgrade"),
  })
  .strict();
export type UpgradeSettings = z.infer<typeof upgradeSchema>;

export const acknowledgementSchema = z
  .object({ rule: z.string().min(1), reason: z.string().min(10, "explain why in at least 10 characters") })
  .strict();

export const deploymentSchema = z
  .object({
    /** Which topology of the guide this is; it names the stack. @default "single-region" */
    topology: z.enum(TOPOLOGIES).default("single-region"),
    /** Free name used in descriptions. @default "ems" */
    name: z.string().regex(/^[a-z0-9-]{1,40}$/, "must be lowercase letters, digits or '-'").default("ems"),
    emsNodes: z.array(emsNodeSchema).min(1, "at least one EMS node is needed"),
    database: databaseSchema,
    installer: installerSchema,
    ems: emsSettingsSchema,
    fortigate: fortigateSchema.optional(),
    /** Native PostgreSQL settings (topology native-single-region). @default all defaults */
    native: nativeSchema.optional(),
    /** The remote PostgreSQL server (topologies standalone-db and vm-appliances). */
    standalone: standaloneSchema.optional(),
    /** EMS VM appliance CLI settings (topology vm-appliances). @default all defaults */
    appliances: appliancesSchema.optional(),
    /** The move to the new ems-postgres-ha image (topology upgrade-7-4-4). @default all defaults */
    upgrade: upgradeSchema.optional(),
    /**
     * Where Terraform keeps this deployment's state: local (default, outside the repository), s3, pg,
     * http or remote (HCP Terraform), with locking. Never credentials (docs/ci.md). @default { kind: "local" }
     */
    state: stateSchema.optional(),
    /** Topology rule findings acknowledged with a reason. @default [] */
    acknowledgements: z.array(acknowledgementSchema).default([]),
  })
  .strict();

/** What a user writes (defaults may be omitted). */
export type DeploymentInput = z.input<typeof deploymentSchema>;
/** A validated deployment with every default filled in. */
export type Deployment = z.infer<typeof deploymentSchema>;
