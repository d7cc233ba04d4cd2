/** The pure parts of status/promote: verdicts from probe results, systemctl parsing, command lines, masking. */
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { runCli } from "../../src/cli/main";
import { ConfigError } from "../../src/config/errors";
import { parseDeployment } from "../../src/config/parse";
import type { DeploymentInput } from "../../src/config/schema";
import { lsnToBigInt, maskSecrets, parseTimelineHistory, secretsFromEnv, type DbProbe } from "../../src/ops/pg";
import { repmgrCommand } from "../../src/ops/repmgr-cli";
import { listMarkersCommand, parseFence, parseMarkers } from "../../src/ops/rewind";
import { switchoverCommand, switchoverRefusal, switchoverTarget } from "../../src/ops/switchover";
import { promoteCommand, promotionTarget, refusal } from "../../src/ops/promote";
import {
  emsNodeStatus,
  evaluateDatabase,
  evaluateEms,
  fenceReason,
  forkVerdict,
  runningUnits,
  staleWitness,
  systemctlCommand,
  type ClusterStatus,
} from "../../src/ops/status";
import { electionRepair } from "../../src/render/election-repair";
import { expectedServices } from "../../src/render/ems-services";
import { tempDir } from "../helpers/tmp";

function deployment(topology: DeploymentInput["topology"], extra: Partial<DeploymentInput> = {}) {
  return parseDeployment({
    topology,
    emsNodes: [{ name: "ems-1", address: "10.0.0.21" }],
    database: {
      nodes: [
        { name: "pg-1", address: "10.0.0.11", role: "data" },
        { name: "pg-2", address: "10.0.0.12", role: "data" },
        { name: "pgw-1", address: "10.0.0.13", role: "witness" },
      ],
    },
    installer: { version: "7.4.4.2034", source: { kind: "url", url: "https://example.com/i.bin", sha256: "a".repeat(64) } },
    ems: { fqdn: "ems.example.com", vip: "10.0.0.50" },
    ...extra,
  });
}

const primary: DbProbe = {
  reachable: true,
  inRecovery: false,
  replicas: [{ applicationName: "pg-2", clientAddr: "10.0.0.12", state: "streaming", lagBytes: 4096, writeLagSeconds: 0.1, replayLagSeconds: 0.5 }],
};
const standby: DbProbe = { reachable: true, inRecovery: true, walReceiver: "streaming", upstreamHost: "10.0.0.11", lagBytes: 0, lagSeconds: 0 };
const witness: DbProbe = { reachable: true, inRecovery: false };
const down: DbProbe = { reachable: false, error: "connect ECONNREFUSED" };

describe("evaluateDatabase", () => {
  const d = deployment("single-region");

  it("healthy: one primary, a streaming standby whose lag the primary reports, a witness that is not a primary", () => {
    const v = evaluateDatabase(
      d,
      new Map([
        ["pg-1", primary],
        ["pg-2", standby],
        ["pgw-1", witness],
      ]),
    );
    expect(v.reasons).toEqual([]);
    expect(v.writablePrimaries).toEqual(["pg-1"]);
    expect(v.dbNodes.map((n) => n.role)).toEqual(["primary", "standby", "witness"]);
    expect(v.dbNodes[1]).toMatchObject({ streaming: true, lagBytes: 4096, lagSeconds: 0.5, upstream: "10.0.0.11" });
  });

  it("the standby's own numbers when the primary does not list it", () => {
    const v = evaluateDatabase(
      d,
      new Map([
        ["pg-1", { ...primary, replicas: [] }],
        ["pg-2", { ...standby, lagBytes: 100, lagSeconds: 2 }],
        ["pgw-1", witness],
      ]),
    );
    expect(v.dbNodes[1]).toMatchObject({ lagBytes: 100, lagSeconds: 2 });
  });

  it("two writable data nodes are a split brain", () => {
    const v = evaluateDatabase(
      d,
      new Map([
        ["pg-1", primary],
        ["pg-2", { reachable: true, inRecovery: false }],
        ["pgw-1", witness],
      ]),
    );
    expect(v.writablePrimaries).toEqual(["pg-1", "pg-2"]);
    expect(v.reasons).toEqual(["2 writable primaries (split brain): pg-1, pg-2"]);
  });

  it("an unreachable data node and a standby that does not stream are reasons; an unreachable witness a warning", () => {
    const v = evaluateDatabase(
      d,
      new Map([
        ["pg-1", down],
        ["pg-2", { ...standby, walReceiver: null }],
        ["pgw-1", down],
      ]),
    );
    expect(v.reasons).toEqual([
      "no writable primary answers",
      "data node pg-1 is unreachable: connect ECONNREFUSED",
      "standby pg-2 is not streaming from a primary",
    ]);
    expect(v.warnings[0]).toMatch(/^witness pgw-1 is unreachable/);
  });

  it("warns when repmgr.nodes names another primary than the writable one", () => {
    const view = [
      { nodeId: 1001, nodeName: "pg-1", type: "primary", active: true, upstreamNodeId: null, location: "default", priority: 100 },
      { nodeId: 1002, nodeName: "pg-2", type: "standby", active: true, upstreamNodeId: 1001, location: "default", priority: 100 },
    ];
    const v = evaluateDatabase(
      d,
      new Map([
        ["pg-1", down],
        ["pg-2", { reachable: true, inRecovery: false, repmgrView: view }],
        ["pgw-1", witness],
      ]),
    );
    expect(v.warnings).toContain("pgw-1 is not registered in repmgr.nodes (as read on pg-2)");
    expect(v.warnings).toContain("repmgr.nodes (as read on pg-2) names pg-1 as primary, but pg-2 is the writable one");
  });
});

describe("EMS services", () => {
  const primaryUnits = expectedServices("primary").map((a) => a[0]!);

  it("reads loaded, active units from systemctl --plain output (failed and inactive ones do not count)", () => {
    const out = [
      "apache2.service        loaded active   running The Apache HTTP Server",
      "● redis-server.service loaded failed   failed  Advanced key-value store",
      "fcems_monitor.service  loaded inactive dead    EMS monitor",
      "fcems_pgBouncer.service loaded active running pgbouncer",
      "",
    ].join("\n");
    expect(runningUnits(out)).toEqual(["apache2", "fcems_pgBouncer"]);
  });

  it("role from the running services; spellings match case-insensitively", () => {
    expect(
      emsNodeStatus(
        { name: "e", address: "a" },
        primaryUnits.map((u) => (u === "fcems_pgbouncer" ? "fcems_pgBouncer" : u)),
      ),
    ).toMatchObject({ role: "primary", missing: [] });
    expect(emsNodeStatus({ name: "e", address: "a" }, ["fcems_monitor", "fcems_pgbouncer", "fcems_wspgbouncer", "redis-server"])).toMatchObject({
      role: "secondary",
      missing: [],
    });
    expect(emsNodeStatus({ name: "e", address: "a" }, ["fcems_monitor"])).toMatchObject({
      role: "unknown",
      missing: ["fcems_pgbouncer", "fcems_wspgbouncer", "redis-server"],
    });
  });

  it("degraded without an EMS primary or with an unreachable node", () => {
    const sec = emsNodeStatus({ name: "e2", address: "a" }, ["fcems_monitor", "fcems_pgbouncer", "fcems_wspgbouncer", "redis-server"]);
    const gone = emsNodeStatus({ name: "e1", address: "a" }, { error: "timed out" });
    expect(evaluateEms([gone, sec]).reasons).toEqual([
      "EMS node e1 is unreachable: timed out",
      `no EMS node runs the primary's ${primaryUnits.length} services`,
    ]);
    expect(evaluateEms([emsNodeStatus({ name: "e1", address: "a" }, primaryUnits), sec]).reasons).toEqual([]);
  });

  it("systemctl can be replaced through EMS_HA_SYSTEMCTL", () => {
    expect(systemctlCommand({})).toBe("systemctl --all --type=service --no-legend --plain --no-pager");
    expect(systemctlCommand({ EMS_HA_SYSTEMCTL: "/x/fake dir" })).toBe("/x/fake dir --all --type=service --no-legend --plain --no-pager");
  });
});

describe("promote", () => {
  it("the guide's corrected commands per topology", () => {
    expect(promoteCommand(deployment("single-region"), { name: "pg-2" }, {})).toBe(
      "docker exec pg-2 /opt/bitnami/scripts/postgresql-repmgr/entrypoint.sh repmgr -f /opt/bitnami/repmgr/conf/repmgr.conf standby promote",
    );
    expect(promoteCommand(deployment("native-single-region"), { name: "pg-2" }, {})).toBe("sudo -n -u postgres repmgr -f /etc/repmgr.conf standby promote");
    expect(promoteCommand(deployment("native-single-region"), { name: "pg-2" }, { EMS_HA_REPMGR_CONF: "/srv/my repmgr.conf" })).toBe(
      "sudo -n -u postgres repmgr -f '/srv/my repmgr.conf' standby promote",
    );
  });

  it("bad targets are bad input (ConfigError, exit 2)", () => {
    const d = deployment("single-region");
    expect(() => promotionTarget(d, "pgw-1")).toThrow(ConfigError);
    expect(() => promotionTarget(d, "pg-9")).toThrow(/no DB node has this name.*pg-1, pg-2/s);
    const standalone = parseDeployment({
      topology: "standalone-db",
      standalone: { mode: "existing" },
      emsNodes: [{ name: "ems-1", address: "10.0.0.21" }],
      database: { nodes: [{ name: "db-1", address: "10.0.0.11", role: "data" }] },
      installer: { version: "7.4.4.2034", source: { kind: "url", url: "https://example.com/i.bin", sha256: "a".repeat(64) } },
      ems: { fqdn: "ems.example.com", vip: "10.0.0.50" },
    });
    expect(() => promotionTarget(standalone, "db-1")).toThrow(/single PostgreSQL server/);
  });

  it("refuses while another data node is writable, for a primary, and for a node that does not answer", () => {
    const d = deployment("single-region");
    const pg2 = promotionTarget(d, "pg-2");
    expect(
      refusal(
        d,
        pg2,
        new Map([
          ["pg-1", primary],
          ["pg-2", standby],
          ["pgw-1", witness],
        ]),
      ),
    ).toMatch(/^pg-1 \(10\.0\.0\.11\) answers as a writable primary/);
    expect(
      refusal(
        d,
        pg2,
        new Map([
          ["pg-1", down],
          ["pg-2", { reachable: true, inRecovery: false }],
        ]),
      ),
    ).toMatch(/already a writable primary/);
    expect(
      refusal(
        d,
        pg2,
        new Map([
          ["pg-1", down],
          ["pg-2", down],
        ]),
      ),
    ).toMatch(/pg-2's PostgreSQL does not answer/);
    // The witness is writable but is not a data node: no refusal.
    expect(
      refusal(
        d,
        pg2,
        new Map([
          ["pg-1", down],
          ["pg-2", standby],
          ["pgw-1", witness],
        ]),
      ),
    ).toBeUndefined();
  });
});

describe("secrets", () => {
  it("come from EMS_HA_DB_PASSWORD, else TF_VAR_db_password, and are masked", () => {
    expect(secretsFromEnv({ TF_VAR_db_password: "b", EMS_HA_DB_PASSWORD: "a" }).dbPassword).toBe("a");
    expect(secretsFromEnv({ TF_VAR_db_password: "b", EMS_HA_DB_PASSWORD: "" }).dbPassword).toBe("b");
    expect(secretsFromEnv({ TF_VAR_repmgr_password: "r" }).repmgrPassword).toBe("r");
    expect(maskSecrets("postgres://u:p@ss w@h/ p@ss w p%40ss%20w", { dbPassword: "p@ss w" })).toBe("postgres://u:***@h/ *** ***");
  });
});

describe("bad input exits 2 before anything is contacted", () => {
  it("missing config, bad --timeout, missing NODE", async () => {
    const cwd = tempDir("ems-ha-ops-cli-");
    onTestFinished(() => rmSync(cwd, { recursive: true, force: true }));
    let err = "";
    const io = { out: () => undefined, err: (t: string) => void (err += t), cwd, env: {} };
    expect(await runCli(["status"], io)).toBe(2);
    expect(err).toMatch(/--config: no deployment given/);
    const cfg = join(cwd, "d.json");
    writeFileSync(
      cfg,
      JSON.stringify({
        topology: "single-region",
        emsNodes: [{ name: "ems-1", address: "10.0.0.21" }],
        database: { nodes: [{ name: "pg-1", address: "10.0.0.11", role: "data" }] },
        installer: { version: "7.4.4.2034", source: { kind: "url", url: "https://example.com/i.bin", sha256: "a".repeat(64) } },
        ems: { fqdn: "ems.example.com", vip: "10.0.0.50" },
      }),
    );
    err = "";
    expect(await runCli(["wait-primary", "--config", cfg, "--timeout", "soon"], io)).toBe(2);
    expect(err).toMatch(/--timeout: is not a number in range/);
    err = "";
    expect(await runCli(["promote", "--config", cfg], io)).toBe(2);
    expect(err).toMatch(/NODE: is missing.*Fix: give NODE: the data node to promote/);
  });
});

describe("status tells the truth (pure parts)", () => {
  const d = deployment("native-single-region");
  const view = (witnessUpstream: number, primaryName = "pg-1") => [
    {
      nodeId: 1,
      nodeName: "pg-1",
      type: primaryName === "pg-1" ? "primary" : "standby",
      active: true,
      upstreamNodeId: null,
      location: "default",
      priority: 100,
    },
    { nodeId: 2, nodeName: "pg-2", type: primaryName === "pg-2" ? "primary" : "standby", active: true, upstreamNodeId: 1, location: "default", priority: 100 },
    { nodeId: 3, nodeName: "pgw-1", type: "witness", active: true, upstreamNodeId: witnessUpstream, location: "default", priority: 0 },
  ];

  it("parses timeline history files and LSNs", () => {
    expect(parseTimelineHistory("1\t0/3000148\tno recovery target specified\n\n2\t0/5A000060\tno recovery target specified\n")).toEqual([
      { tli: 1, switchpoint: "0/3000148" },
      { tli: 2, switchpoint: "0/5A000060" },
    ]);
    expect(lsnToBigInt("1/0")).toBe(4294967296n);
    expect(lsnToBigInt("0/3000148")).toBe(0x3000148n);
  });

  it("a standby on an older timeline past the primary's switchpoint has forked; one behind it can follow", () => {
    const p: DbProbe = { reachable: true, inRecovery: false, timeline: 2, history: [{ tli: 1, switchpoint: "0/3000148" }] };
    expect(forkVerdict("pg-2", { reachable: true, inRecovery: true, timeline: 1, lsn: "0/3000200" }, "pg-1", p)).toMatch(
      /^standby pg-2 has forked: it is on timeline 1 at 0\/3000200, past 0\/3000148/,
    );
    expect(forkVerdict("pg-2", { reachable: true, inRecovery: true, timeline: 1, lsn: "0/3000100" }, "pg-1", p)).toMatch(
      /behind the primary pg-1's switch .* can follow pg-1/,
    );
    expect(forkVerdict("pg-2", { reachable: true, inRecovery: true, timeline: 2, lsn: "0/3000200" }, "pg-1", p)).toBeUndefined();
    expect(forkVerdict("pg-2", { reachable: true, inRecovery: true, timeline: 1, lsn: "0/3000200" }, "pg-1", { ...p, history: undefined })).toMatch(
      /forked or behind/,
    );
  });

  it("a witness whose own metadata points at another node than the primary is stale", () => {
    expect(staleWitness("pgw-1", { reachable: true, inRecovery: false, repmgrView: view(1) }, "pg-1", undefined)).toBeUndefined();
    expect(staleWitness("pgw-1", { reachable: true, inRecovery: false, repmgrView: view(1) }, "pg-2", view(1, "pg-2"))).toMatch(
      /^witness pgw-1 is registered with pg-1, not with the primary pg-2/,
    );
    expect(staleWitness("pgw-1", { reachable: true, inRecovery: false, repmgrView: view(2) }, "pg-2", view(2, "pg-2"))).toMatch(
      /copy of repmgr.nodes names pg-1 as primary, not pg-2/,
    );
  });

  it("repmgrd stopped or paused, a standby streaming from another node, and nobody to promote next are reasons", () => {
    const running = { running: true, paused: false, pid: 10 };
    const v = evaluateDatabase(
      d,
      new Map<string, DbProbe>([
        ["pg-1", { ...primary, repmgrd: running }],
        ["pg-2", { ...standby, upstreamHost: "10.0.0.13", repmgrd: { running: false, paused: false, pid: null } }],
        ["pgw-1", { ...witness, repmgrd: { ...running, paused: true } }],
      ]),
    );
    expect(v.reasons).toContain("standby pg-2 streams from pgw-1, not from the primary pg-1 (repmgr standby follow --upstream-node-id of pg-1)");
    expect(v.reasons).toContain("repmgrd is not running on pg-2 (systemctl start repmgrd)");
    expect(v.reasons).toContain("repmgrd is paused on pgw-1: automatic failover is off until `ems-ha resume`");
    expect(v.nextFailover).toMatchObject({ primary: "pg-1", newPrimary: null });
    expect(v.reasons.some((r) => r.startsWith("if the primary pg-1 fails now, nobody is promoted"))).toBe(true);
  });

  it("with the witness down, the next failover is cancelled by repmgr's majority rule, and status says what the reconciliation service does once a majority answers", () => {
    const running = { running: true, paused: false, pid: 10 };
    const probes = new Map<string, DbProbe>([
      ["pg-1", { ...primary, repmgrd: running }],
      ["pg-2", { ...standby, repmgrd: running }],
      ["pgw-1", down],
    ]);
    const after = electionRepair(d).afterSeconds;
    expect(electionRepair(d).enabled).toBe(true);
    const v = evaluateDatabase(d, probes);
    expect(v.nextFailover).toMatchObject({ primary: "pg-1", newPrimary: null });
    expect(v.nextFailover!.reason).toContain(
      `once a majority of the DB nodes answers again and no data node has answered as primary for ${after} s, the reconciliation service promotes the standby repmgr would pick among those that answer (pg-2 of those up now`,
    );
    // nodes in two locations: repmgr's location rule is left alone, no repair, no such words
    const split = deployment("single-region", {});
    const twoPlaces = {
      ...split,
      database: { ...split.database, nodes: split.database.nodes.map((n) => (n.role === "witness" ? { ...n, location: "dc2" } : n)) },
    };
    expect(electionRepair(twoPlaces).enabled).toBe(false);
    expect(evaluateDatabase(twoPlaces, probes).nextFailover!.reason).not.toContain("reconciliation service");
  });

  it("a standby that names its upstream by node name (the Docker topologies' conninfo) streams from the primary", () => {
    const running = { running: true, paused: false, pid: 10 };
    const v = evaluateDatabase(
      d,
      new Map<string, DbProbe>([
        ["pg-1", { ...primary, repmgrd: running }],
        ["pg-2", { ...standby, upstreamHost: "pg-1", repmgrd: running }],
        ["pgw-1", { ...witness, repmgrd: running }],
      ]),
    );
    expect(v.reasons.filter((r) => r.includes("streams from"))).toEqual([]);
    const other = evaluateDatabase(
      d,
      new Map<string, DbProbe>([
        ["pg-1", { ...primary, repmgrd: running }],
        ["pg-2", { ...standby, upstreamHost: "pgw-1", repmgrd: running }],
        ["pgw-1", { ...witness, repmgrd: running }],
      ]),
    );
    expect(other.reasons).toContain("standby pg-2 streams from pgw-1, not from the primary pg-1 (repmgr standby follow --upstream-node-id of pg-1)");
  });

  it("a fenced node's listing says, on a Docker host, whether its container still runs (real bash, a fake docker)", () => {
    const dir = tempDir("ems-ha-fence-listing-");
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "fenced"), "2026-11-26 18:00:00 UTC pg-1\n");
    const docker = join(dir, "docker");
    const run = (cmd: string, running: string) => {
      writeFileSync(docker, `#!/bin/bash\n[ "$*" = "inspect -f {{.State.Running}} pg-1" ] && echo ${running}\n`, { mode: 0o755 });
      return spawnSync("bash", ["-c", cmd], { env: { PATH: `${dir}:${process.env.PATH}` }, encoding: "utf8", timeout: 10_000 }).stdout;
    };
    expect(parseFence("pg-1", run(listMarkersCommand(dir, "pg-1", "pg-1"), "false"))).toEqual({
      node: "pg-1",
      since: "2026-11-26 18:00:00 UTC",
      containerStopped: true,
    });
    expect(parseFence("pg-1", run(listMarkersCommand(dir, "pg-1", "pg-1"), "true"))).toEqual({ node: "pg-1", since: "2026-11-26 18:00:00 UTC" });
    expect(fenceReason(parseFence("pg-1", run(listMarkersCommand(dir, "pg-1", "pg-1"), "false"))!)).toMatch(
      /^pg-1 fenced itself at 2026-11-26 18:00:00 UTC .* its container has stopped since .*: the reconciliation service looks at it from a probe container and starts it once the others answer \(docs\/reliability.md, "A fenced container that stopped"\)$/,
    );
    expect(fenceReason({ node: "pg-1", since: "t" })).toMatch(/the reconciliation service rejoins or restarts it once the others answer$/);
    // natively there is no container to ask
    expect(listMarkersCommand(dir, "pg-1")).not.toContain("docker");
    expect(parseFence("pg-1", run(listMarkersCommand(dir, "pg-1"), "false"))).toEqual({ node: "pg-1", since: "2026-11-26 18:00:00 UTC" });
  });

  it("rewind records are listed per node from the listing command's output", () => {
    // the node quoted, the time matched digit by digit (pg-2's pattern takes no file of pg-2-b)
    expect(listMarkersCommand("/var/lib/ems-ha", "pg 2")).toContain(
      "/var/lib/ems-ha/rewind-'pg 2'-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.txt",
    );
    expect(parseFence("pg-2", "==> /s/rewind-pg-2-1.txt\nx\n==F 2026-01-02 03:04:05 UTC pg-2\n")).toEqual({ node: "pg-2", since: "2026-01-02 03:04:05 UTC" });
    expect(parseFence("pg-1", "==F 2026-01-02 03:04:05 UTC pg-2\n")).toBeUndefined();
    expect(parseMarkers("pg-2", "==> /s/rewind-pg-2-1.txt\nnode: pg-2\nfork: 0/3\n==F t pg-2\n==> /s/rewind-pg-2-2.txt\nx\n")).toEqual([
      { node: "pg-2", file: "/s/rewind-pg-2-1.txt", summary: ["node: pg-2", "fork: 0/3"] },
      { node: "pg-2", file: "/s/rewind-pg-2-2.txt", summary: ["x"] },
    ]);
  });
});

describe("switchover and repmgr command lines (pure parts)", () => {
  const healthy = {
    name: "x",
    topology: "native-single-region",
    dbNodes: [
      { name: "pg-1", address: "10.0.0.11", kind: "data", reachable: true, role: "primary" },
      { name: "pg-2", address: "10.0.0.12", kind: "data", reachable: true, role: "standby", streaming: true, lagBytes: 100, lagSeconds: 0.2 },
    ],
    writablePrimaries: ["pg-1"],
    emsNodes: [],
    rewinds: [],
    degraded: false,
    reasons: [],
    warnings: [],
  } as unknown as ClusterStatus;

  it("refuses a degraded cluster (with its reasons), the primary itself, a lagging or non-streaming target", () => {
    expect(switchoverRefusal(healthy, "pg-2")).toBeUndefined();
    expect(switchoverRefusal(healthy, "pg-1")).toBe("pg-1 is already the primary");
    expect(switchoverRefusal({ ...healthy, degraded: true, reasons: ["a", "b"] }, "pg-2")).toBe("the cluster is not healthy (ems-ha status): a; b");
    expect(switchoverRefusal(healthy, "pg-2", { maxLagBytes: 50 })).toMatch(/^pg-2 lags 100 bytes behind the primary \(limit 50\)/);
    expect(switchoverRefusal(healthy, "pg-2", { maxLagSeconds: 0.1 })).toMatch(/^pg-2 lags 0\.2 s behind the primary \(limit 0\.1 s\)/);
    const notStreaming = { ...healthy, dbNodes: [healthy.dbNodes[0]!, { ...healthy.dbNodes[1]!, streaming: false }] } as ClusterStatus;
    expect(switchoverRefusal(notStreaming, "pg-2")).toBe("pg-2 is not a streaming standby");
  });

  it("targets: native and the Docker single-region / geo-redundant topologies, a data node", () => {
    expect(switchoverTarget(deployment("single-region"), "pg-2").name).toBe("pg-2");
    expect(() => switchoverTarget(deployment("single-region"), "pgw-1")).toThrow(/a witness holds no data/);
    expect(() => switchoverTarget({ ...deployment("single-region"), topology: "upgrade-7-4-4" }, "pg-2")).toThrow(
      /replaces its DB containers by its own procedure/,
    );
    expect(() => switchoverTarget(deployment("native-single-region"), "pgw-1")).toThrow(ConfigError);
    expect(switchoverTarget(deployment("native-single-region"), "pg-2").name).toBe("pg-2");
  });

  it("command lines: --siblings-follow, --dry-run, the repmgr.conf template and quoting", () => {
    const d = deployment("native-single-region");
    expect(switchoverCommand(d, { name: "pg-2" }, {}, true)).toBe(
      "sudo -n -u postgres repmgr -f /etc/repmgr.conf standby switchover --siblings-follow --dry-run",
    );
    expect(switchoverCommand(d, { name: "pg-2" }, {}, false, false)).toBe("sudo -n -u postgres repmgr -f /etc/repmgr.conf standby switchover");
    expect(repmgrCommand(d, { name: "pg 2" }, { EMS_HA_REPMGR_CONF: "/srv/{node}/repmgr.conf" }, ["service", "pause"])).toBe(
      "sudo -n -u postgres repmgr -f '/srv/pg 2/repmgr.conf' service pause",
    );
    expect(repmgrCommand(deployment("single-region"), { name: "pg-1" }, {}, ["service", "unpause"])).toBe(
      "docker exec pg-1 /opt/bitnami/scripts/postgresql-repmgr/entrypoint.sh repmgr -f /opt/bitnami/repmgr/conf/repmgr.conf service unpause",
    );
  });
});
