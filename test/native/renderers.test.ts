/** The native topology's pure renderers: pg_hba.conf, postgresql.conf, repmgr.conf, units, scripts. */
import { spawnSync } from "node:child_process";
import { chmodSync, statSync } from "node:fs";
import { tempDir } from "../helpers/tmp";
import { describe, expect, it } from "vitest";
import { nativeMembers } from "../../src/render/native/layout";
import { HBA_BEGIN, HBA_END, renderHbaBlock } from "../../src/render/native/pg-hba";
import { renderDataDirInclude, renderPostgresqlDropIn } from "../../src/render/native/postgresql-conf";
import { peerEntries, renderReconcileScript, renderReconcileUnit } from "../../src/render/native/reconcile";
import { renderRepmgrConf } from "../../src/render/native/repmgr-conf";
import { failoverValidationTiming } from "../../src/render/failover-validation";
import { renderRepmgrdDefaults, renderRepmgrdUnit } from "../../src/render/native/repmgrd";
import { renderSetupScript } from "../../src/render/native/setup-script";
import { ConfigError } from "../../src/config/errors";
import { deploymentSchema, type DeploymentInput } from "../../src/config/schema";
import nativeExample from "../../examples/native-single-region";
import { exampleDeployment } from "./helpers";

const d = exampleDeployment();
const [node1, node2, witness] = nativeMembers(d);

function confMap(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const x = /^([a-z_]+)=(.*)$/.exec(line);
    if (x) {
      if (m.has(x[1]!)) throw new Error(`${x[1]} set twice`);
      m.set(x[1]!, x[2]!);
    }
  }
  return m;
}

/** Each section's directives, one per line, as [key, value] pairs. */
function unitDirectives(text: string): Array<[string, string]> {
  return text
    .split("\n")
    .filter((l) => l && !l.startsWith("#") && !l.startsWith("["))
    .map((l) => {
      const i = l.indexOf("=");
      return [l.slice(0, i), l.slice(i + 1)];
    });
}

describe("cluster members", () => {
  it("numbers the nodes 1, 2, 3 in the guide's order and starts with the initial primary", () => {
    expect(nativeMembers(d).map((m) => [m.name, m.nodeId, m.role, m.priority])).toEqual([
      ["dbnode-1", 1, "data", 100],
      ["dbnode-2", 2, "data", 100],
      ["witness-1", 3, "witness", 0],
    ]);
    expect(node1!.initialPrimary).toBe(true);
  });

  it("puts a later initial primary first and rejects duplicate ids", () => {
    const d2 = exampleDeployment((i) => ({ ...i, database: { ...i.database, initialPrimary: "dbnode-2" } }));
    expect(nativeMembers(d2).map((m) => m.name)).toEqual(["dbnode-2", "dbnode-1", "witness-1"]);
    const dup = (i: DeploymentInput) => ({ ...i, database: { ...i.database, nodes: i.database.nodes.map((n, k) => (k === 0 ? { ...n, nodeId: 2 } : n)) } });
    // parseDeployment (and so `ems-ha check`) rejects the collision already; nativeMembers still refuses it on its own.
    expect(() => exampleDeployment(dup)).toThrow(/database\.nodes\[1\]\.nodeId: repmgr node id 2 is also the id of dbnode-1/);
    const d3 = deploymentSchema.parse(dup(structuredClone(nativeExample) as DeploymentInput));
    expect(() => nativeMembers(d3)).toThrow(ConfigError);
    expect(() => nativeMembers(d3)).toThrow(/database\.nodes\[1\]\.nodeId.*repmgr node id 2 is also the id of dbnode-1/);
  });
});

describe("pg_hba.conf block", () => {
  const block = renderHbaBlock(d, node1!);
  const lines = block.trim().split("\n");

  it("is delimited by the markers the setup script replaces", () => {
    expect(lines[0]).toBe(HBA_BEGIN);
    expect(lines.at(-1)).toBe(HBA_END);
  });

  it("lets repmgr in over the socket, 127.0.0.1, ::1 and every member, with a password", () => {
    for (const db of ["replication", "repmgr"]) {
      expect(block).toMatch(new RegExp(`^local +${db} +repmgr +scram-sha-256$`, "m"));
      for (const a of ["127.0.0.1/32", "::1/128", "172.16.1.12/32", "172.16.1.15/32", "172.16.1.22/32"]) {
        expect(block).toMatch(new RegExp(`^host +${db} +repmgr +${a.replace(/[.]/g, "\\.")} +scram-sha-256$`, "m"));
      }
    }
    expect(block).not.toMatch(/trust/);
  });

  it("admits password logins from the client networks on every node, the witness included (as the guide's last line)", () => {
    expect(block).toMatch(/^host +all +all +0\.0\.0\.0\/0 +scram-sha-256$/m);
    expect(renderHbaBlock(d, witness!)).toMatch(/^host +all +all +0\.0\.0\.0\/0 +scram-sha-256$/m);
    expect(renderHbaBlock(d, witness!)).not.toMatch(/trust/);
  });
});

describe("merge_block in the setup script (real bash)", () => {
  const debianDefaults = [
    "# Database administrative login by Unix domain socket",
    "local   all             postgres                                peer",
    "local   all             all                                     peer",
    "host    all             all             127.0.0.1/32            scram-sha-256",
    "host    replication     all             127.0.0.1/32            scram-sha-256",
    "",
  ].join("\n");

  function merge(existing: string, block: string): string {
    const script = renderSetupScript(d, node1!);
    const lib = script.slice(script.indexOf("log() {"), script.indexOf("install_packages() {"));
    // The file lives in a shared directory (mode 1777, like /tmp): writing it must not change that directory's mode.
    const shared = tempDir("ems-ha-merge-");
    chmodSync(shared, 0o1777);
    const r = spawnSync(
      "bash",
      [
        "-c",
        `set -euo pipefail; NODE_NAME=t; ${lib}\nf=$(mktemp); printf '%s' "$EXISTING" >"$f"; merge_block "$f" 0600 "$(id -un):$(id -gn)" <<<"$BLOCK" >/dev/null; cat "$f"; rm -f "$f"`,
      ],
      { encoding: "utf8", timeout: 30_000, env: { PATH: process.env.PATH, TMPDIR: shared, EXISTING: existing, BLOCK: block.trimEnd() } },
    );
    if (r.status !== 0) throw new Error(`bash failed (status ${r.status}, signal ${r.signal}): ${r.stderr}`);
    expect(statSync(shared).mode & 0o7777, "merge_block changed the mode of the file's directory").toBe(0o1777);
    return r.stdout;
  }

  it("puts the cluster's lines before Debian's defaults, once, however often it runs", () => {
    const block = renderHbaBlock(d, node1!);
    const once = merge(debianDefaults, block);
    const firstRepmgr = once.split("\n").findIndex((l) => /repmgr/.test(l));
    const firstDefault = once.split("\n").findIndex((l) => /^local +all +all +peer/.test(l));
    expect(firstRepmgr).toBeGreaterThan(0);
    expect(firstRepmgr).toBeLessThan(firstDefault);
    expect(merge(once, block)).toBe(once);
    expect(once).toContain(debianDefaults.trim());
  });

  it("replaces an older block instead of adding a second one", () => {
    const old = merge(debianDefaults, `${HBA_BEGIN}\nhost repmgr repmgr 10.9.9.9/32 trust\n${HBA_END}\n`);
    const now = merge(old, renderHbaBlock(d, node1!));
    expect(now).not.toContain("10.9.9.9");
    expect(now.split(HBA_BEGIN).length).toBe(2);
  });
});

describe("postgresql.conf drop-in", () => {
  const conf = renderPostgresqlDropIn(d, node1!);

  it("has the guide's replication settings plus wal_log_hints and wal_keep_size", () => {
    for (const line of [
      "wal_level = replica",
      "max_wal_senders = 10",
      "max_replication_slots = 10",
      "hot_standby = on",
      "archive_mode = on",
      "archive_command = '/bin/true'",
      "shared_preload_libraries = repmgr",
      "wal_log_hints = on",
      "wal_keep_size = 512MB",
    ]) {
      expect(conf.split("\n")).toContain(line);
    }
  });

  it("tunes data nodes with PGTune (the guide's 4 GB / 4 CPU values) but not the witness", () => {
    expect(conf).toMatch(/^shared_buffers = 1GB$/m);
    expect(conf).toMatch(/^max_connections = 1092$/m);
    expect(conf).toMatch(/^work_mem = 480kB$/m);
    const w = renderPostgresqlDropIn(d, witness!);
    expect(w).toMatch(/^shared_preload_libraries = repmgr$/m);
    expect(w).not.toMatch(/shared_buffers|wal_level/);
  });

  it("follows native.walKeepSize and native.tune", () => {
    const d2 = exampleDeployment((i) => ({ ...i, native: { ...i.native, walKeepSize: "2GB", tune: false } }));
    const c = renderPostgresqlDropIn(d2, nativeMembers(d2)[0]!);
    expect(c).toMatch(/^wal_keep_size = 2GB$/m);
    expect(c).not.toMatch(/shared_buffers/);
  });

  it("caps the WAL kept for replication slots on the data nodes only when database.maxSlotWalKeepSize sets it", () => {
    expect(conf).not.toMatch(/max_slot_wal_keep_size/);
    const d2 = exampleDeployment((i) => ({ ...i, database: { ...i.database, maxSlotWalKeepSize: "50GB" } }));
    const [data, , w] = nativeMembers(d2);
    expect(renderPostgresqlDropIn(d2, data!)).toMatch(/^max_slot_wal_keep_size = 50GB$/m);
    expect(renderPostgresqlDropIn(d2, w!)).not.toMatch(/max_slot_wal_keep_size/);
  });

  it("gives the data directory a one-line postgresql.conf including /etc's (pg_rewind, docs/background.md#native-postgresql-and-repmgr)", () => {
    expect(renderDataDirInclude()).toBe("include '/etc/postgresql/15/main/postgresql.conf'\n");
  });
});

describe("repmgr.conf", () => {
  const c = confMap(renderRepmgrConf(d, node2!));

  it("names the node as repmgr knows it and uses Debian's real bindir", () => {
    expect(c.get("node_id")).toBe("2");
    expect(c.get("node_name")).toBe("'dbnode-2'");
    expect(c.get("pg_bindir")).toBe("'/usr/lib/postgresql/15/bin'");
    expect(c.get("data_directory")).toBe("'/var/lib/postgresql/15/main'");
    expect(c.get("conninfo")).toBe("'host=172.16.1.15 port=5432 user=repmgr dbname=repmgr connect_timeout=2'");
  });

  it("controls PostgreSQL through systemd, for every service command", () => {
    for (const a of ["start", "stop", "restart", "reload"]) {
      expect(c.get(`service_${a}_command`)).toBe(`'sudo -n /usr/bin/systemctl ${a} postgresql@15-main'`);
    }
  });

  it("has failover, promote/follow, location, priority, timing, pid and log settings, and no cluster=", () => {
    expect(c.get("failover")).toBe("automatic");
    expect(c.get("promote_command")).toBe("'/usr/lib/postgresql/15/bin/repmgr standby promote -f /etc/repmgr.conf --log-to-file'");
    expect(c.get("follow_command")).toContain("--upstream-node-id=%n");
    expect(c.get("location")).toBe("default");
    expect(c.get("priority")).toBe("100");
    expect(c.get("reconnect_attempts")).toBe("6");
    expect(c.get("reconnect_interval")).toBe("10");
    expect(c.get("monitor_interval_secs")).toBe("2");
    expect(c.get("repmgrd_pid_file")).toBe("'/run/repmgrd/repmgrd.pid'");
    expect(c.get("log_file")).toBe("'/var/log/repmgr/repmgr.log'");
    expect(c.has("cluster")).toBe(false);
  });

  it("takes reconnect settings from database.failover", () => {
    const d2 = exampleDeployment((i) => ({ ...i, database: { ...i.database, failover: { profile: "tuned", connectTimeoutSeconds: 3 } } }));
    const c2 = confMap(renderRepmgrConf(d2, nativeMembers(d2)[0]!));
    expect([c2.get("reconnect_attempts"), c2.get("reconnect_interval")]).toEqual(["3", "2"]);
    expect(c2.get("conninfo")).toContain("connect_timeout=3");
  });

  it("gives the witness priority 0", () => {
    const w = confMap(renderRepmgrConf(d, witness!));
    expect(w.get("priority")).toBe("0");
    expect(w.get("node_id")).toBe("3");
  });

  it("has data nodes check the election's result before promoting (failover_validation_command), not the witness", () => {
    expect(confMap(renderRepmgrConf(d, node1!)).get("failover_validation_command")).toBe("'/usr/local/sbin/ems-ha-validate-failover %n'");
    expect(confMap(renderRepmgrConf(d, witness!)).has("failover_validation_command")).toBe(false);
    // the setup script writes the script before the repmgr.conf that names it, on data nodes only
    const data = renderSetupScript(d, node1!);
    const main = data.slice(data.indexOf("\nmain() {"));
    expect(main.indexOf("install_failover_validation")).toBeGreaterThan(0);
    expect(main.indexOf("install_failover_validation")).toBeLessThan(main.indexOf("configure_files"));
    expect(data).toContain("install_text /usr/local/sbin/ems-ha-validate-failover 0755 root:root");
    expect(renderSetupScript(d, witness!)).not.toContain("install_text /usr/local/sbin/ems-ha-validate-failover");
    const r = spawnSync("bash", ["-n"], { input: data, encoding: "utf8", timeout: 10_000 });
    expect(r.status, r.stderr).toBe(0);
  });

  it("sets repmgrd's rerun after a refused promotion on data nodes: repmgr's 15 s, or the deployment's", () => {
    expect(confMap(renderRepmgrConf(d, node1!)).get("election_rerun_interval")).toBe("15");
    expect(confMap(renderRepmgrConf(d, witness!)).has("election_rerun_interval")).toBe(false);
    const d2 = exampleDeployment((i) => ({ ...i, database: { ...i.database, failover: { profile: "default", electionRerunIntervalSeconds: 7 } } }));
    const [n1] = nativeMembers(d2);
    expect(confMap(renderRepmgrConf(d2, n1!)).get("election_rerun_interval")).toBe("7");
    // the validation's memory of a refusal must outlast the rerun: 8 s shorter with the shorter rerun
    expect(failoverValidationTiming(d).stateMaxAgeSeconds - failoverValidationTiming(d2).stateMaxAgeSeconds).toBe(8);
  });

  it("refuses an election rerun interval out of range, naming the field", () => {
    expect(() => exampleDeployment((i) => ({ ...i, database: { ...i.database, failover: { profile: "default", electionRerunIntervalSeconds: 0 } } }))).toThrow(
      /database\.failover\.electionRerunIntervalSeconds/,
    );
  });
});

describe("repmgrd unit and /etc/default/repmgrd", () => {
  it("has one directive per line and runs repmgrd in the foreground as postgres", () => {
    const unit = renderRepmgrdUnit();
    const dirs = unitDirectives(unit);
    for (const [k, v] of dirs) {
      expect(k).toMatch(/^[A-Za-z]+$/);
      expect(v).not.toMatch(/\s[A-Z][A-Za-z]+=/);
    }
    const get = (k: string) => dirs.filter(([x]) => x === k).map(([, v]) => v);
    expect(get("Restart")).toEqual(["on-failure"]);
    expect(get("LimitNOFILE")).toEqual(["16384"]);
    // a repmgrd waiting on a cut-off peer ignores SIGTERM: systemd kills it after 15 s, not 90
    expect(get("TimeoutStopSec")).toEqual(["15s"]);
    expect(get("User")).toEqual(["postgres"]);
    expect(get("Type")).toEqual(["simple"]);
    expect(get("ExecStart")[0]).toMatch(/^\/usr\/lib\/postgresql\/15\/bin\/repmgrd -f \$\{REPMGRD_CONF\} --daemonize=false/);
    expect(unit).toMatch(/^\[Unit\]$[\s\S]*^\[Service\]$[\s\S]*^\[Install\]$/m);
  });

  it("names /etc/repmgr.conf, not the guide's /etc/repmgrd.conf", () => {
    const def = renderRepmgrdDefaults();
    expect(def).toMatch(/^REPMGRD_ENABLED=yes$/m);
    expect(def).toMatch(/^REPMGRD_CONF="\/etc\/repmgr\.conf"$/m);
    expect(def).not.toContain("repmgrd.conf");
  });
});

describe("reconciliation service", () => {
  const script = renderReconcileScript(d, node1!);

  it("knows the real node name, watches the other data nodes, and counts the witness only for the fencing majority", () => {
    expect(script).toMatch(/^NODE_NAME=dbnode-1$/m);
    expect(peerEntries(d, node1!)).toEqual(["dbnode-2 2 172.16.1.15 5432"]);
    expect(script).toMatch(/^PEERS=\('dbnode-2 2 172\.16\.1\.15 5432'\)$/m);
    expect(script).toMatch(/^WITNESSES=\('\S+ 3 172\.16\.1\.22 5432'\)$/m);
    expect(script).toMatch(/^FENCING=1$/m);
    expect(script).not.toContain("CLUSTER_STATUS");
  });

  it("checkpoints before comparing timelines, rewinds first, keeps data on the clone fallback, and is bounded", () => {
    for (const fn of ["reconcile_primary() {", "reconcile_standby() {"]) {
      const body = script.slice(script.indexOf(fn));
      expect(body.indexOf('"CHECKPOINT"')).toBeGreaterThan(-1);
      expect(body.indexOf('"CHECKPOINT"')).toBeLessThan(body.indexOf("pg_control_checkpoint()"));
      // what a rewind discards is recorded before the rejoin runs
      expect(body.indexOf("save_discarded")).toBeLessThan(body.indexOf('rejoin "$name"'));
    }
    expect(script).toMatch(/node rejoin[\s\S]*--force-rewind/);
    expect(script).toMatch(/mv "\$DATA_DIR" "\$keep"/);
    expect(script).toMatch(/^MAX_ATTEMPTS=3$/m);
    expect(script).toContain("ensure_datadir_include");
  });

  it("is valid bash, with a valid unit", () => {
    const r = spawnSync("bash", ["-n"], { input: script, encoding: "utf8", timeout: 10_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(unitDirectives(renderReconcileUnit())).toContainEqual(["ExecStart", "/usr/local/sbin/ems-ha-reconcile"]);
  });
});

describe("setup scripts", () => {
  it.each(nativeMembers(d).map((m) => [m.name, m] as const))("%s: valid bash, strict mode, no unexpanded escapes", (_name, m) => {
    const s = renderSetupScript(d, m);
    const r = spawnSync("bash", ["-n"], { input: s, encoding: "utf8", timeout: 10_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(s).toMatch(/^set -euo pipefail$/m);
    expect(s).not.toContain("\\${");
    expect(s).not.toMatch(/set -x/);
  });

  it("never clones a standby, and clones a fresh node only after checking it holds no data", () => {
    const s = renderSetupScript(d, node2!);
    const main = s.slice(s.indexOf("main() {"));
    expect(main.indexOf('if [ "$rec" = t ]; then\n    standby_checks')).toBeGreaterThan(-1);
    const clone = s.slice(s.indexOf("clone_from() {"), s.indexOf("bootstrap_primary() {"));
    expect(clone.indexOf("fresh_cluster ||")).toBeLessThan(clone.indexOf("standby clone"));
    expect(clone.indexOf("system_identifier")).toBeLessThan(clone.indexOf("standby clone"));
  });

  it("skips registering a registered primary or witness", () => {
    expect(renderSetupScript(d, node1!)).toContain("elif local_registered primary; then");
    const w = renderSetupScript(d, witness!);
    expect(w).toMatch(/if \[ "\$n" = 1 \] && local_registered witness; then\n\s+log "witness already registered/);
    expect(w).toContain("witness register --force");
    const witnessMain = w.slice(w.lastIndexOf("main() {"));
    expect(witnessMain).not.toContain("install_symmetric_key");
    expect(witnessMain).not.toContain("install_extensions");
  });

  it("skips the extensions step without native.extensions", () => {
    const d2 = exampleDeployment((i) => ({ ...i, native: { packages: "preinstalled" } }));
    const s = renderSetupScript(d2, nativeMembers(d2)[0]!);
    expect(s).toMatch(/^EXT_SHA256=''$/m);
    expect(s).toMatch(/^PACKAGES=preinstalled$/m);
  });
});

describe("hostile values (schema bypassed: the renderers refuse what they cannot write safely)", () => {
  const bypass = (change: (x: any) => void) => {
    const x = structuredClone(d) as any;
    change(x);
    return x;
  };

  it("refuses a node name or address that is not one plain word (the peer list splits on spaces, SQL compares names)", () => {
    expect(() => nativeMembers(bypass((x) => (x.database.nodes[1].name = "db 2")))).toThrow(/database\.nodes\[1\]\.name.*one plain word/);
    expect(() => nativeMembers(bypass((x) => (x.database.nodes[0].address = "10.0.0.1';drop")))).toThrow(/database\.nodes\[0\]\.address/);
    expect(() => nativeMembers(bypass((x) => (x.database.user = 'pg"x')))).toThrow(/database\.user/);
  });

  it("refuses a line break in a value of pg_hba.conf, postgresql.conf or repmgr.conf", () => {
    const hba = bypass((x) => (x.native.clientNetworks = ["10.0.0.0/8\nhost all all 0.0.0.0/0 trust"]));
    expect(() => renderHbaBlock(hba, nativeMembers(hba)[0]!)).toThrow(/pg_hba\.conf.*control character/);
    const conf = bypass((x) => (x.native.walKeepSize = "1GB\nlisten_addresses = '*'"));
    expect(() => renderPostgresqlDropIn(conf, nativeMembers(conf)[0]!)).toThrow(/postgresql\.conf.*control character/);
    const loc = bypass((x) => (x.database.nodes[0].location = "dc1\nfailover=manual"));
    expect(() => renderRepmgrConf(loc, nativeMembers(loc)[0]!)).toThrow(/repmgr\.conf.*control character/);
  });

  it("quotes a pg_hba.conf field with a space instead of splitting it", () => {
    const x = bypass((y) => (y.native.clientNetworks = ["my net"]));
    expect(renderHbaBlock(x, nativeMembers(x)[0]!)).toMatch(/^host +all +all +"my net" +scram-sha-256$/m);
  });
});
