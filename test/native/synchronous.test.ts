/**
 * database.synchronousReplication: the cross-field rule, the native drop-in (every data node names
 * the other data nodes, witnesses never), how the setup script applies it (reload, not restart;
 * its own sessions never wait for a standby), and the Docker image's variables.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { runRules } from "../../src/analysis/rules";
import { synchronousReplicationDocker } from "../../src/analysis/rules/synchronous-replication-docker";
import { ConfigError } from "../../src/config/errors";
import { synchronousReplicationDataNodes } from "../../src/config/semantics";
import { containerSpec } from "../../src/render/bitnami";
import { pgConfValue, pgStandbyQuorum } from "../../src/render/escape";
import { nativeMembers } from "../../src/render/native/layout";
import { renderSetupScript } from "../../src/render/native/setup-script";
import { renderSynchronousDropIn, synchronousDropInPath, synchronousStandbyNames } from "../../src/render/native/synchronous";
import { parseDeployment, type DeploymentInput } from "../../src/config";
import { bashFunction } from "../helpers/bash-function";
import { tempDir } from "../helpers/tmp";
import { exampleDeployment } from "./helpers";

/** The native example with a third data node and synchronous replication set to `sync`. */
function threeDataNodes(sync?: Record<string, unknown>) {
  return exampleDeployment((i) => ({
    ...i,
    database: {
      ...i.database,
      ...(sync ? { synchronousReplication: sync } : {}),
      nodes: [
        ...i.database.nodes.filter((n) => n.role === "data"),
        { name: "dbnode-3", address: "172.16.1.16", role: "data" as const },
        ...i.database.nodes.filter((n) => n.role === "witness"),
      ],
    },
  }));
}

function confLines(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const x = /^([a-z_]+) = (.*)$/.exec(line);
    if (x) m.set(x[1]!, x[2]!);
  }
  return m;
}

describe("synchronous-replication-data-nodes", () => {
  it("is off by default, and off needs nothing", () => {
    const d = exampleDeployment();
    expect(d.database.synchronousReplication).toEqual({ mode: "off", commit: "on" });
    expect(synchronousReplicationDataNodes.check(d)).toEqual([]);
  });

  it("refuses any-1 with 2 data nodes, naming the field, the value and why a failover would block writes", () => {
    let err: unknown;
    try {
      exampleDeployment((i) => ({ ...i, database: { ...i.database, synchronousReplication: { mode: "any-1" } } }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issue = (err as ConfigError).issues.find((x) => x.rule === "synchronous-replication-data-nodes");
    expect(issue).toMatchObject({ path: "database.synchronousReplication.mode", value: "any-1", nodes: ["dbnode-1", "dbnode-2"] });
    expect(issue!.message).toContain("this cluster has 2");
    expect(issue!.fix).toMatch(/third data node/);
    expect(issue!.fix).toMatch(/after a failover the new primary has no standby left to confirm a commit, so every write blocks/);
  });

  it("refuses it for a single server too, and accepts 3 data nodes (witnesses do not count)", () => {
    const input = {
      topology: "standalone-db",
      emsNodes: [{ name: "ems-1", address: "10.0.0.21" }],
      database: { synchronousReplication: { mode: "any-1" }, nodes: [{ name: "db-1", address: "10.0.0.5", role: "data" }] },
      standalone: { mode: "existing" },
      installer: { version: "7.4.4.2034", source: { kind: "url", url: "https://example.com/i.bin", sha256: "a".repeat(64) } },
      ems: { fqdn: "ems.example.com", vip: "10.0.0.50" },
    } as DeploymentInput;
    expect(() => parseDeployment(input)).toThrow(/database\.synchronousReplication\.mode[\s\S]*set mode "off"/);
    expect(() => threeDataNodes({ mode: "any-1" })).not.toThrow();
  });

  it("refuses an unknown mode or commit level at the schema", () => {
    expect(() => threeDataNodes({ mode: "any-2" })).toThrow(/database\.synchronousReplication\.mode/);
    expect(() => threeDataNodes({ mode: "any-1", commit: "local" })).toThrow(/database\.synchronousReplication\.commit/);
  });
});

describe("native drop-in", () => {
  const d = threeDataNodes({ mode: "any-1" });
  const members = nativeMembers(d);

  it("names, on every data node, the other data nodes as ANY 1 (never itself, never the witness)", () => {
    const byNode = new Map(members.map((m) => [m.name, confLines(renderSynchronousDropIn(d, m))]));
    expect(byNode.get("dbnode-1")!.get("synchronous_standby_names")).toBe(`'ANY 1 ("dbnode-2", "dbnode-3")'`);
    expect(byNode.get("dbnode-2")!.get("synchronous_standby_names")).toBe(`'ANY 1 ("dbnode-1", "dbnode-3")'`);
    expect(byNode.get("dbnode-3")!.get("synchronous_standby_names")).toBe(`'ANY 1 ("dbnode-1", "dbnode-2")'`);
    for (const m of members.filter((x) => x.role === "data")) expect(byNode.get(m.name)!.get("synchronous_commit")).toBe("on");
    expect(byNode.get("witness-1")!.size).toBe(0);
  });

  it("follows database.synchronousReplication.commit", () => {
    const d2 = threeDataNodes({ mode: "any-1", commit: "remote_apply" });
    expect(confLines(renderSynchronousDropIn(d2, nativeMembers(d2)[0]!)).get("synchronous_commit")).toBe("remote_apply");
  });

  it("resets to asynchronous when off (a cluster that had it on gets it off again)", () => {
    const off = threeDataNodes();
    const conf = confLines(renderSynchronousDropIn(off, nativeMembers(off)[0]!));
    expect(conf.get("synchronous_standby_names")).toBe("''");
    expect(conf.get("synchronous_commit")).toBe("on");
  });

  it("quotes each name as an identifier inside the single-quoted postgresql.conf value", () => {
    expect(pgStandbyQuorum(1, ["pg-2", 'we"ird', "a, b"])).toBe('ANY 1 ("pg-2", "we""ird", "a, b")');
    // A name with a single quote survives both layers: "" inside the list, '' in postgresql.conf.
    expect(pgConfValue(pgStandbyQuorum(1, ["o'x"]))).toBe(`'ANY 1 ("o''x")'`);
    expect(() => pgStandbyQuorum(0, ["pg-2"])).toThrow(/not a count/);
    expect(synchronousStandbyNames(d, { name: "dbnode-1" })).toBe('ANY 1 ("dbnode-2", "dbnode-3")');
  });
});

describe("setup script", () => {
  const d = threeDataNodes({ mode: "any-1" });
  const members = nativeMembers(d);
  const path = synchronousDropInPath();

  it("writes the drop-in on data nodes and reloads (never restarts) when it changed; the witness gets none", () => {
    for (const m of members) {
      const s = renderSetupScript(d, m);
      const files = bashFunction(s, "configure_files");
      if (m.role === "data") {
        expect(files).toContain(`install_text ${path} 0644 postgres:postgres`);
        const after = files.slice(files.indexOf(path));
        expect(after.slice(after.indexOf("EMS_HA_EOF\n", after.indexOf("EMS_HA_EOF") + 1))).toMatch(
          /^EMS_HA_EOF\n {2}if \[ "\$WROTE" = 1 \]; then PG_RELOAD=1; fi/,
        );
      } else {
        expect(files).not.toContain(path);
      }
      expect(spawnSync("bash", ["-n"], { input: s, encoding: "utf8", timeout: 10_000 }).status).toBe(0);
    }
  });

  it("turning it on, then re-applying unchanged: a reload, never a restart; then nothing (real bash, files under a temp root)", () => {
    const off = threeDataNodes();
    const scriptOf = (dep: typeof d) => renderSetupScript(dep, nativeMembers(dep)[0]!);
    const part = (script: string, from: string, to: string) => script.slice(script.indexOf(from), script.indexOf(to, script.indexOf(from)));
    const lib = part(scriptOf(off), "log() {", "install_packages() {");
    const files = (dep: typeof d) => {
      const sc = scriptOf(dep);
      return bashFunction(sc, "configure_files");
    };
    const root = tempDir("ems-ha-sync-");
    const run = (fn: string) =>
      ["PG_RESTART=0 PG_RELOAD=0 REPMGR_CONF_CHANGED=0", fn, "configure_files >/dev/null", 'echo "restart=$PG_RESTART reload=$PG_RELOAD"'].join("\n");
    const bash = [
      "set -euo pipefail",
      "NODE_NAME=t",
      lib,
      // the files go under $ROOT, owned by whoever runs the test; pg_hba.conf and the include checks are not what this test is about
      `eval "$(declare -f install_text | sed '1s/install_text/real_install_text/')"`,
      'install_text() { real_install_text "$ROOT$1" "$2" "$(id -un):$(id -gn)"; }',
      "merge_block() { cat >/dev/null; WROTE=0; }",
      "ensure_include_dir() { :; }",
      "ensure_datadir_include() { :; }",
      'REPMGR_LOG_DIR="$ROOT/log" HBA_FILE="$ROOT/hba" STATE_DIR="$ROOT/state"',
      run(files(off)),
      run(files(d)),
      run(files(d)),
      `cat "$ROOT${path}"`,
    ].join("\n");
    const r = spawnSync("bash", ["-c", bash], { encoding: "utf8", timeout: 20_000, env: { PATH: process.env.PATH, ROOT: root, HOME: root } });
    expect(r.stderr).toBe("");
    const lines = r.stdout.trim().split("\n");
    // first deployment (off): every file new; turning it on: only the synchronous drop-in changed -> reload; again: nothing
    expect(lines.slice(0, 3)).toEqual(["restart=1 reload=1", "restart=0 reload=1", "restart=0 reload=0"]);
    expect(lines).toContain(`synchronous_standby_names = 'ANY 1 ("dbnode-2", "dbnode-3")'`);
  });

  it("keeps its own sessions from waiting for a standby, and makes repmgr's sessions commit locally", () => {
    const s = renderSetupScript(d, members[0]!);
    expect(s).toMatch(/^export PGOPTIONS='-c synchronous_commit=local'$/m);
    expect(s.indexOf("export PGOPTIONS")).toBeLessThan(s.indexOf("main() {"));
    expect(bashFunction(s, "ensure_repmgr_role_and_db")).toContain("ALTER ROLE repmgr SET synchronous_commit = local");
  });
});

/** A single-region (Docker) deployment of 3 data nodes and `witnesses` witnesses, synchronous replication `sync`. */
function dockerDeployment(sync?: Record<string, unknown>, witnesses = 1) {
  return parseDeployment({
    topology: "single-region",
    emsNodes: [{ name: "ems-1", address: "10.0.0.21" }],
    database: {
      ...(sync ? { synchronousReplication: sync } : {}),
      nodes: [
        { name: "pg-1", address: "10.0.0.11", role: "data" },
        { name: "pg-2", address: "10.0.0.12", role: "data" },
        { name: "pg-3", address: "10.0.0.13", role: "data" },
        ...Array.from({ length: witnesses }, (_, i) => ({ name: `pgw-${i + 1}`, address: `10.0.0.${14 + i}`, role: "witness" })),
      ],
    },
    installer: { version: "7.4.4.2034", source: { kind: "url", url: "https://example.com/i.bin", sha256: "a".repeat(64) } },
    ems: { fqdn: "ems.example.com", vip: "10.0.0.50" },
  } as DeploymentInput);
}

describe("Docker image variables", () => {
  const dockerInput = (sync?: Record<string, unknown>) => dockerDeployment(sync);
  const syncEnv = (env: ReadonlyArray<readonly [string, string]>) => env.filter(([k]) => /SYNCHRONOUS/.test(k));

  it("sets the image's synchronous variables on data nodes only, when on", () => {
    const d = dockerInput({ mode: "any-1", commit: "remote_write" });
    for (const n of d.database.nodes) {
      const env = syncEnv(containerSpec(d, n).env);
      if (n.role === "data")
        expect(env).toEqual([
          ["POSTGRESQL_NUM_SYNCHRONOUS_REPLICAS", "1"],
          ["POSTGRESQL_SYNCHRONOUS_REPLICAS_MODE", "ANY"],
          ["POSTGRESQL_SYNCHRONOUS_COMMIT_MODE", "remote_write"],
        ]);
      else expect(env).toEqual([]);
    }
  });

  it("sets none when off (the guide's containers are unchanged)", () => {
    const d = dockerInput();
    for (const n of d.database.nodes) expect(syncEnv(containerSpec(d, n).env)).toEqual([]);
  });
});

describe("ems-ha check with the Docker image", () => {
  it("warns (synchronous-replication-docker) that the image keeps it only until a restart or failover; nothing natively or when off", () => {
    const docker = (sync?: Record<string, unknown>) => dockerDeployment(sync, 2);
    const hits = synchronousReplicationDocker.check(docker({ mode: "any-1" }));
    expect(hits).toHaveLength(1);
    expect(hits[0]!.nodes).toEqual(["pg-1", "pg-2", "pg-3"]);
    expect(hits[0]!.message).toMatch(/first boot only/);
    expect(synchronousReplicationDocker.check(docker())).toEqual([]);
    expect(synchronousReplicationDocker.check(threeDataNodes({ mode: "any-1" }))).toEqual([]);
    expect(runRules(docker({ mode: "any-1" })).map((f) => f.ruleId)).toContain("synchronous-replication-docker");
  });
});
