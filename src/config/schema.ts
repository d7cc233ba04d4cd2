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
import {
  cidr,
  dockerImageName,
  dockerObjectName,
  dockerRegistry,
  dockerTag,
  fortiosInterface,
  fortiosVdom,
  hostOrIpv4,
  hostPath,
  ipv4,
  localPath,
  locationName,
  posixUser,
} from "./values";

/**
 * Most DB nodes a deployment may have. The guide's largest recommended cluster is 9 nodes
 * (7 data + 2 witnesses); 32 leaves room for more without letting the analysis (every pair of
 * nodes for every possible primary) or the synthesized plan grow without bound.
 */
export const MAX_DB_NODES = 32;
/**
 * Most EMS nodes a deployment may have. The guide's topologies have two or three; 16 bounds the
 * FortiGate's real-server lists and the install chain (each secondary waits for the previous one).
 */
export const MAX_EMS_NODES = 16;
/** Largest repmgr node id: PostgreSQL's int4 (repmgr.nodes.node_id). */
export const MAX_NODE_ID = 2 ** 31 - 1;
/** Least RAM PGTune is run with: 256 MB (maintenance_work_mem = RAM / 16 stays >= PostgreSQL's 1 MB). */
export const MIN_RAM_GB = 0.25;
import { stateSchema } from "./state";

/** Topologies of the guide; each one is a stack id. */
export const TOPOLOGIES = ["single-region", "geo-redundant", "standalone-db", "vm-appliances", "native-single-region", "upgrade-7-4-4"] as const;
export type Topology = (typeof TOPOLOGIES)[number];

const hostname = hostOrIpv4();

const nodeName = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be lowercase letters, digits and '-', like pg-1");

/** How the toolkit logs in to a host over SSH. */
export const sshSchema = z
  .object({
    /** Login user. @default "root" */
    user: posixUser.default("root"),
    /** SSH port. @default 22 */
    port: z.number().int().min(1).max(65535).default(22),
    /**
     * Path of the private key on the machine that runs Terraform. When absent, the
     * ssh agent (SSH_AUTH_SOCK) is used.
     */
    privateKeyPath: localPath().optional(),
    /**
     * The host's SSH public key, as `ssh-keyscan -t ed25519 HOST` prints it after the host name
     * (`ssh-ed25519 AAAA...`). Every connection then verifies it (Terraform's `host_key`, the docker
     * provider's known_hosts). When absent, the key comes from the deployment's `ssh.knownHostsFile`;
     * without either, Terraform's provisioners accept any key (docs/configuration.md, "Host keys").
     */
    hostKey: z
      .string()
      .regex(
        /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa|rsa-sha2-(256|512)) [A-Za-z0-9+/]+={0,3}$/,
        "must be a public key like 'ssh-ed25519 AAAAC3...' (key type and base64, no host name)",
      )
      .optional(),
  })
  .strict()
  .default({});
export type SshSettings = z.infer<typeof sshSchema>;

/** How every SSH connection of the deployment checks host keys (the deployment's top-level `ssh`). */
export const sshPolicySchema = z
  .object({
    /**
     * A known_hosts file (OpenSSH format, on the machine running Terraform) holding the hosts' keys;
     * a relative path is relative to the deployment file. Hosts without `ssh.hostKey` take their key from it.
     */
    knownHostsFile: localPath().optional(),
    /** Refuse (at synth and in `ems-ha check`) any host whose key is not pinned. @default false */
    strictHostKeys: z.boolean().default(false),
  })
  .strict()
  .default({});
export type SshPolicy = z.infer<typeof sshPolicySchema>;

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
    location: locationName.default("default"),
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
    location: locationName.optional(),
    /** Host RAM in GB (PGTune input). @default 4 */
    ramGb: z.number().min(MIN_RAM_GB, `PGTune needs at least ${MIN_RAM_GB} GB (256 MB) of RAM`).max(4096).default(4),
    /** Host CPUs (PGTune input). @default 4 */
    cpus: z.number().int().min(1).max(1024).default(4),
    /** Storage type (PGTune input). @default "ssd" */
    storage: z.enum(STORAGE).default("ssd"),
    ssh: sshSchema,
    /** Explicit repmgr node id (native topology). Default: from the name. */
    nodeId: z.number().int().min(1).max(MAX_NODE_ID, `repmgr node ids are PostgreSQL integers: at most ${MAX_NODE_ID}`).optional(),
  })
  .strict();
export type DbNodeInput = z.input<typeof dbNodeSchema>;
export type DbNodeConfig = z.infer<typeof dbNodeSchema>;

const sha256 = z.string().regex(/^[a-f0-9]{64}$/, "must be 64 lowercase hex characters (the output of sha256sum)");

export const imageSchema = z
  .object({
    /** Image name as `docker load` reports it. @default "ems-postgres-ha" */
    name: dockerImageName.default("ems-postgres-ha"),
    /** @default "latest" */
    tag: dockerTag.default("latest"),
    /**
     * Where the image comes from: the guide's tarball on each DB host, or a registry.
     * @default { kind: "registry", registry: "" } (a pull from Docker Hub; set kind "tarball" for the guide's file)
     */
    source: z
      .discriminatedUnion("kind", [
        z
          .object({
            kind: z.literal("tarball"),
            /** Path of the tarball on each DB host. */
            path: hostPath(),
            /** sha256 of the tarball; the load is keyed on it and verified before loading. */
            sha256,
          })
          .strict(),
        z
          .object({
            kind: z.literal("registry"),
            /** Registry prefix, e.g. registry.example.com/ems. Empty for Docker Hub. */
            registry: dockerRegistry.default(""),
          })
          .strict(),
      ])
      .default({ kind: "registry", registry: "" }),
  })
  .strict()
  .default({});

/**
 * Failover timing of repmgr (docs/background.md#repmgr-automatic-failover). Unset fields take the topology's defaults:
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
    /**
     * repmgrd election_rerun_interval: seconds before repmgrd elects again after the failover
     * validation refused a promotion (docs/reliability.md#two-standbys-promoted-at-once). @default 15
     */
    electionRerunIntervalSeconds: z.number().int().min(1).max(300).optional(),
  })
  .strict()
  .default({});

/**
 * Synchronous replication (docs/reliability.md#synchronous-replication): a commit returns only when
 * at least one other data node has it too (`synchronous_standby_names = 'ANY 1 (<the other data nodes>)'`
 * on every data node). Needs at least 3 data nodes (semantic check `synchronous-replication-data-nodes`).
 */
export const SYNCHRONOUS_MODES = ["off", "any-1"] as const;
export const SYNCHRONOUS_COMMIT_LEVELS = ["on", "remote_write", "remote_apply"] as const;
export const synchronousReplicationSchema = z
  .object({
    /** "off": asynchronous (the guide); "any-1": every commit waits for one of the other data nodes. @default "off" */
    mode: z.enum(SYNCHRONOUS_MODES).default("off"),
    /**
     * PostgreSQL synchronous_commit while mode is "any-1": "on" waits until the standby has flushed the
     * commit to disk, "remote_write" until it has written it (not flushed), "remote_apply" until it has
     * replayed it (visible on the standby). @default "on"
     */
    commit: z.enum(SYNCHRONOUS_COMMIT_LEVELS).default("on"),
  })
  .strict()
  .default({});
export type SynchronousReplication = z.infer<typeof synchronousReplicationSchema>;

export const databaseSchema = z
  .object({
    /** PostgreSQL port on every DB host. @default 5432 */
    port: z.number().int().min(1).max(65535).default(5432),
    /** PostgreSQL superuser EMS connects as. @default "postgres" */
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a PostgreSQL identifier such as postgres (at most 63 characters)")
      .default("postgres"),
    /** Name of the data node that starts as primary. @default the first data node */
    initialPrimary: nodeName.optional(),
    /** max_connections used by PGTune. @default 1092 (the guide) */
    maxConnections: z.number().int().min(10).max(100000).default(1092),
    /**
     * PostgreSQL's max_slot_wal_keep_size on the data nodes: the most WAL the primary keeps for the
     * replication slot of a standby that is away, after which that standby needs a new clone
     * (docs/operations.md#replication-slots). Unset: no cap, the primary keeps WAL for an absent
     * standby until its disk is full. @default unset (PostgreSQL's -1: no cap)
     */
    maxSlotWalKeepSize: z
      .string()
      .regex(/^[1-9]\d{0,8}(MB|GB|TB)$/, "must be a size like 50GB (MB, GB or TB)")
      .optional(),
    /** Directory on each data host holding conf.d/extra.conf. @default "/opt/ems-ha/conf.d" */
    confDir: hostPath().default("/opt/ems-ha/conf.d"),
    /**
     * Directory on each data host holding the repmgr.conf additions and the failover validation
     * script, mounted at /bitnami/repmgr/conf (the image's mounted repmgr configuration). Must not
     * be confDir: PostgreSQL includes every *.conf there. @default "/opt/ems-ha/repmgr-conf"
     */
    repmgrConfDir: hostPath().default("/opt/ems-ha/repmgr-conf"),
    image: imageSchema,
    /** Install Docker on DB hosts that lack it (apt-get install docker.io / dnf install docker). @default true */
    installDocker: z.boolean().default(true),
    failover: failoverTimingSchema,
    /** Synchronous replication between the data nodes. @default { mode: "off" } */
    synchronousReplication: synchronousReplicationSchema,
    /** How the Docker topologies create the DB containers, and their logs. @default { engine: "provider", logs: {} } */
    docker: z
      .object({
        /**
         * "provider": the docker Terraform provider over SSH (docker_volume, docker_image, docker_container).
         * "ssh": the same containers with the docker CLI in ordered terraform_data steps over SSH, no provider
         * download (air-gapped sites). docs/topologies/single-region.md "Container engines". @default "provider"
         */
        engine: z.enum(["provider", "ssh"]).default("provider"),
        /**
         * Each DB container's log (PostgreSQL's and repmgrd's output): kept by Docker's json-file
         * driver and rotated by the daemon, so that a cluster's second year does not fill the disk.
         * docs/topologies/single-region.md "Container logs". @default { driver: "json-file", maxSizeMb: 50, maxFiles: 5 }
         */
        logs: z
          .object({
            /**
             * "json-file": Docker's json-file driver with the bounds below (`docker logs` works).
             * "daemon": what the Docker daemon's own configuration says (daemon.json's log-driver and
             * log-opts); maxSizeMb and maxFiles are not used. @default "json-file"
             */
            driver: z.enum(["json-file", "daemon"]).default("json-file"),
            /** Size in MB at which a container's log file is rotated. @default 50 */
            maxSizeMb: z.number().int().min(1).max(10240).default(50),
            /** Log files kept per container, the current one included. @default 5 */
            maxFiles: z.number().int().min(1).max(100).default(5),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    nodes: z
      .array(dbNodeSchema)
      .min(1, "at least one DB node is needed")
      .max(MAX_DB_NODES, `at most ${MAX_DB_NODES} DB nodes: the guide's largest cluster has 9, and the failover analysis grows with every pair of nodes`),
  })
  .strict();
export type DatabaseConfig = z.infer<typeof databaseSchema>;

export const installerSchema = z
  .object({
    /** EMS build, e.g. 7.4.4.2034. */
    version: z.string().regex(/^\d{1,4}\.\d{1,4}\.\d{1,4}\.\d{1,6}$/, "must look like 7.4.4.2034"),
    source: z.discriminatedUnion("kind", [
      z
        .object({
          kind: z.literal("file"),
          /** Local path of forticlientems_<version>.F.bin on the machine running Terraform. */
          path: localPath(),
          sha256,
        })
        .strict(),
      z
        .object({
          kind: z.literal("url"),
          url: z
            .string()
            .max(2048)
            .url()
            .refine(
              (u) => /^https?:\/\/[A-Za-z0-9._~:/?#[\]@!&()*+,;=%-]+$/.test(u),
              "must be an http(s) URL without spaces, quotes or $ (percent-encode them)",
            ),
          sha256,
        })
        .strict(),
    ]),
    /** Directory on each EMS host the installer is placed in and run from. Never /tmp. @default "/opt/ems-ha/installer" */
    installDir: hostPath().default("/opt/ems-ha/installer"),
  })
  .strict();
export type InstallerConfig = z.infer<typeof installerSchema>;

export const emsSettingsSchema = z
  .object({
    /** FQDN EMS is reached by (EMS Settings > Use FQDN). */
    fqdn: hostname,
    /** VIP on the FortiGate, also EMS's custom hostname. */
    vip: ipv4("use the FortiGate virtual server's IPv4 address, e.g. 172.16.1.50 (a DNS name cannot be a FortiGate VIP extip)"),
    /** High Availability Keep Alive Interval in seconds, 5-30. @default 10 */
    keepaliveSeconds: z.number().int().default(10),
  })
  .strict();

export const fortigateSchema = z
  .object({
    /** Management address of the FortiGate. */
    address: hostname,
    /** @default "root" */
    vdom: fortiosVdom.default("root"),
    /** Interface that receives client traffic (extintf of the VIPs, srcintf of the policy). */
    incomingInterface: fortiosInterface,
    /** Interface towards the EMS nodes (dstintf of the policy). */
    outgoingInterface: fortiosInterface,
    /** Chromebook management enabled: adds port 8443. @default false */
    chromebook: z.boolean().default(false),
    /** ACME certificate import: adds port 80. @default false */
    acme: z.boolean().default(false),
    /** More EMS subnets behind other interfaces: one more policy each. @default [] */
    extraEmsSubnets: z
      .array(z.object({ outgoingInterface: fortiosInterface, incomingInterface: fortiosInterface.optional() }).strict())
      .max(16, "at most 16 extra EMS subnets")
      .default([]),
    /** First firewall policy id the toolkit uses. @default 1000 */
    policyIdBase: z.number().int().min(1).max(4294967000).default(1000),
    /** Prefix of every object name. @default "ems-ha" */
    namePrefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,20}$/, "must be 1-20 letters, digits, '_' or '-'")
      .default("ems-ha"),
    /**
     * Verify the FortiGate's TLS certificate against caBundleFile. Set false only by choice:
     * the token then goes to whoever answers at the address (`ems-ha check` warns). @default true
     */
    verifyTls: z.boolean().default(true),
    /** CA bundle (PEM) that signed the FortiGate's certificate, on the machine running Terraform; relative to the deployment file. */
    caBundleFile: localPath().optional(),
    /**
     * Move the toolkit's first policy before this existing policy id (a broader policy above would
     * shadow it: new policies land at the bottom of the list). @default none (left at the bottom)
     */
    placeBefore: z.number().int().min(1).optional(),
    /** Move the toolkit's first policy after this existing policy id. @default none */
    placeAfter: z.number().int().min(1).optional(),
  })
  .strict()
  .superRefine((fg, ctx) => {
    if (fg.verifyTls && !fg.caBundleFile) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["caBundleFile"],
        message:
          "verifyTls is true (the default) but no caBundleFile is given: add the CA bundle (PEM) that signed the FortiGate's certificate, or set verifyTls: false explicitly",
      });
    }
    if (fg.placeBefore !== undefined && fg.placeAfter !== undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["placeAfter"], message: "give placeBefore or placeAfter, not both" });
    }
  });
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
    extensions: z.object({ path: localPath(), sha256 }).strict().optional(),
    /** wal_keep_size, so a failed primary can still rewind and rejoin. @default "512MB" */
    walKeepSize: z
      .string()
      .regex(/^[1-9]\d{0,8}(kB|MB|GB|TB)$/, "must be a size like 512MB")
      .default("512MB"),
    /** Seconds between two checks of the reconciliation service. @default 10 */
    reconcileIntervalSeconds: z.number().int().min(2).max(3600).default(10),
    /** Networks allowed to connect to the data nodes as the EMS user (pg_hba). @default ["0.0.0.0/0"] (the guide) */
    clientNetworks: z.array(cidr).min(1).max(64).default(["0.0.0.0/0"]),
    /** Apply the PGTune settings (docs/background.md#pgtune) to the data nodes. @default true */
    tune: z.boolean().default(true),
    /** repmgr log_level. @default "INFO" */
    logLevel: z.enum(["DEBUG", "INFO", "NOTICE", "WARNING", "ERROR"]).default("INFO"),
  })
  .strict();
export type NativeSettings = z.infer<typeof nativeSchema>;

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
      extensions: z.object({ path: localPath(), sha256 }).strict().optional(),
      /** Networks allowed to log in as database.user besides the EMS nodes (pg_hba). @default [] (only the EMS nodes' addresses) */
      clientNetworks: z.array(cidr).max(64).default([]),
      /** Apply PGTune (docs/background.md#pgtune) for the node's ramGb/cpus/storage. @default true */
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
      .max(200)
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
    hostnames: z.record(nodeName, z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, "must be letters, digits and '-', like EMS-1")).default({}),
    /** How the appliance's SSH host key is checked. "known-hosts": must be in knownHostsPath. @default "known-hosts" */
    hostKeyCheck: z.enum(["known-hosts", "off"]).default("known-hosts"),
    /** known_hosts file on the machine running Terraform. @default "~/.ssh/known_hosts" */
    knownHostsPath: localPath().default("~/.ssh/known_hosts"),
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
            container: dockerObjectName("container"),
            volume: dockerObjectName("volume").optional(),
          })
          .strict(),
      )
      .max(MAX_DB_NODES)
      .default([]),
    /** shared_preload_libraries set with ALTER SYSTEM before the stop (the guide's step 1). @default "pg_stat_statements, repmgr" */
    sharedPreloadLibraries: z
      .string()
      .regex(/^[a-z_]+(, ?[a-z_]+)*$/, "must be a comma-separated list like pg_stat_statements, repmgr")
      .default("pg_stat_statements, repmgr"),
    /** Suffix of the old container's name when the new container keeps the name. @default "-pre-upgrade" */
    renameSuffix: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,32}$/, "must be 1-32 letters, digits, '_', '.' or '-'")
      .default("-pre-upgrade"),
  })
  .strict();
export type UpgradeSettings = z.infer<typeof upgradeSchema>;

export const acknowledgementSchema = z
  .object({
    rule: z.string().regex(/^[a-z0-9-]{1,64}$/, "must be a rule id like location-loss-no-majority"),
    reason: z.string().min(10, "explain why in at least 10 characters").max(1000, "keep the reason under 1000 characters"),
  })
  .strict();

export const deploymentSchema = z
  .object({
    /** Which topology of the guide this is; it names the stack. @default "single-region" */
    topology: z.enum(TOPOLOGIES).default("single-region"),
    /** Free name used in descriptions: 1-40 lowercase letters, digits or '-'. @default "ems" */
    name: z
      .string()
      .regex(/^[a-z0-9-]{1,40}$/, "must be lowercase letters, digits or '-'")
      .default("ems"),
    emsNodes: z
      .array(emsNodeSchema)
      .min(1, "at least one EMS node is needed")
      .max(MAX_EMS_NODES, `at most ${MAX_EMS_NODES} EMS nodes: the guide's topologies have two or three, and every node is a FortiGate real server`),
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
    /** Host key checking of every SSH connection. @default keys from each host's ssh.hostKey, not strict */
    ssh: sshPolicySchema,
    /**
     * Where Terraform keeps this deployment's state: local (default, outside the repository), s3, pg,
     * http or remote (HCP Terraform), with locking. Never credentials (docs/ci.md). @default { kind: "local" }
     */
    state: stateSchema.optional(),
    /** Topology rule findings acknowledged with a reason. @default [] */
    acknowledgements: z.array(acknowledgementSchema).max(64).default([]),
  })
  .strict();

/** What a user writes (defaults may be omitted). */
export type DeploymentInput = z.input<typeof deploymentSchema>;
/** A validated deployment with every default filled in. */
export type Deployment = z.infer<typeof deploymentSchema>;
