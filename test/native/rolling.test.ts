/**
 * The rolling restart (issue 14 item 5): the Terraform order of its steps, and what the
 * generated script decides on each node, run in bash with the commands that touch PostgreSQL,
 * systemd and SSH replaced by functions (EMS_HA_ROLLING_OVERRIDES) that read a simulated cluster
 * from files and record what would run. The real thing runs in test/drills/rolling-restart.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CliIo } from "../../src/cli/command";
import { runCli } from "../../src/cli/main";
import { rollingCommand, rollingSteps } from "../../src/ops/rolling";
import { memberByName } from "../../src/render/native/layout";
import { renderRollingScript, ROLLING_SCRIPT } from "../../src/render/native/rolling";
import { SETUP_LIB } from "../../src/render/native/setup-lib";
import { unescapeBash } from "../../src/render/native/shell";
import { exampleDeployment, synthJson } from "./helpers";

const d = exampleDeployment();
const DB1 = "172.16.1.12";
const DB2 = "172.16.1.15";

type Res = Record<string, any>;

function steps(j: ReturnType<typeof synthJson>): Array<[string, Res]> {
  return Object.entries(j.resource.terraform_data as Record<string, Res>).filter(([k]) => k.startsWith("rolling-restart_"));
}

describe("the rolling restart steps in Terraform", () => {
  const j = synthJson(d);

  it("run one after the other: every node's round 1, then every data node's round 2, after the joins and the key exchange", () => {
    const all = steps(j);
    const order = ["others-dbnode-1", "others-dbnode-2", "others-witness-1", "primary-dbnode-1", "primary-dbnode-2"];
    const ids = order.map((o) => all.find(([k]) => k.startsWith(`rolling-restart_${o}_`))![0]);
    expect(all).toHaveLength(5);
    const first = j.resource.terraform_data[ids[0]!];
    expect(first.depends_on.some((x: string) => x.includes("witness-1_setup"))).toBe(true);
    expect(first.depends_on.filter((x: string) => x.includes("ssh-keys"))).toHaveLength(2);
    // A chain: each step depends on the previous one only, so Terraform never runs two at once.
    for (let i = 1; i < ids.length; i++) expect(j.resource.terraform_data[ids[i]!].depends_on).toEqual([`terraform_data.${ids[i - 1]}`]);
    const run = (id: string) => JSON.stringify(j.resource.terraform_data[id].provisioner);
    expect(run(ids[0]!)).toContain('bash \\"$here/script.sh\\" --others');
    expect(run(ids[4]!)).toContain('bash \\"$here/script.sh\\" --primary');
    expect(run(ids[0]!)).toContain(ROLLING_SCRIPT);
  });

  it("re-run on any node's setup change, and only then", () => {
    const gen = (x: ReturnType<typeof synthJson>) => steps(x).map(([, r]) => r.triggers_replace.generation as string);
    const before = gen(j);
    expect(new Set(before).size).toBe(1);
    expect(gen(synthJson(d))).toEqual(before);
    const bigger = exampleDeployment((i) => ({
      ...i,
      database: { ...i.database, nodes: i.database.nodes.map((n) => (n.name === "dbnode-2" ? { ...n, ramGb: 8 } : n)) },
    }));
    const after = gen(synthJson(bigger));
    for (const g of after) expect(before).not.toContain(g);
  });
});

/** A simulated node: its files in dir; the overrides read and write them. */
interface Sim {
  readonly dir: string;
  run(node: string, args: string[]): { code: number; out: string; calls: string[] };
  set(name: string, value: string): void;
}

const OVERRIDES = String.raw`
S=$SIM_DIR
f() { cat "$S/$1" 2>/dev/null || true; }
call() { printf '%s\n' "$*" >>"$S/calls"; }
pg_ready() { [ "$(f down)" != 1 ]; }
in_recovery() { f recovery; }
local_streaming() { [ "$(f streaming)" = 1 ]; }
pending_settings() { f pending; }
binary_replaced() { [ "$(f replaced)" = 1 ]; }
sleep() { :; }
q_peer() {
  local v
  case "$3" in
    *pg_is_in_recovery*) v=$(f "peer-$1-recovery") ;;
    *pending_restart*) v=$(f "peer-$1-pending") ;;
    *) return 2 ;;
  esac
  [ "$v" = down ] && return 2
  printf '%s\n' "$v"
}
q_local() {
  case "$2" in
    *pg_stat_replication*) f lag ;;
    *) return 3 ;;
  esac
}
svc_restart() {
  call restart
  : >"$S/pending"
  echo 0 >"$S/replaced"
}
remote_repmgr() {
  call "repmgr on $*"
  case "$*" in
    *--siblings-follow*--dry-run*) if [ "$(f siblings)" = unreachable ]; then echo "ERROR: 1 of 2 sibling nodes unreachable via SSH"; return 1; fi ;;
    *--dry-run*) ;;
    *)
      # the switchover: this node is shut down, rejoined as a standby, started with the new settings
      echo t >"$S/recovery"
      echo 1 >"$S/streaming"
      : >"$S/pending"
      ;;
  esac
}
`;

function simulation(): Sim {
  const dir = mkdtempSync(join(tmpdir(), "ems-ha-rolling-"));
  writeFileSync(join(dir, "overrides.sh"), OVERRIDES);
  return {
    dir,
    set: (name, value) => writeFileSync(join(dir, name), `${value}\n`),
    run(node, args) {
      writeFileSync(join(dir, "calls"), "");
      const script = join(dir, `${node}.sh`);
      writeFileSync(script, renderRollingScript(d, memberByName(d, node)));
      const r = spawnSync("bash", [script, ...args], {
        encoding: "utf8",
        timeout: 30_000,
        env: { PATH: process.env.PATH, EMS_HA_ROLLING_OVERRIDES: join(dir, "overrides.sh"), SIM_DIR: dir },
      });
      const calls = readFileSync(join(dir, "calls"), "utf8").split("\n").filter(Boolean);
      return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, calls };
    },
  };
}

describe("the rolling restart script", () => {
  let sim: Sim;
  beforeEach(() => {
    sim = simulation();
    // Healthy: dbnode-1 primary, dbnode-2 a streaming standby, nothing pending anywhere.
    sim.set(`peer-${DB1}-recovery`, "f");
    sim.set(`peer-${DB2}-recovery`, "t");
    sim.set(`peer-${DB1}-pending`, "");
    sim.set(`peer-${DB2}-pending`, "");
    sim.set("lag", "0");
  });
  afterEach(() => rmSync(sim.dir, { recursive: true, force: true }));

  const asStandby = () => {
    sim.set("recovery", "t");
    sim.set("streaming", "1");
  };
  const asPrimary = () => {
    sim.set("recovery", "f");
    sim.set(`peer-${DB2}-recovery`, "t");
  };

  it("changes nothing when nothing waits for a restart, in either round", () => {
    asStandby();
    expect(sim.run("dbnode-2", ["--others"])).toMatchObject({ code: 0, calls: [] });
    asPrimary();
    const r = sim.run("dbnode-1", ["--primary"]);
    expect(r).toMatchObject({ code: 0, calls: [] });
    expect(r.out).toContain("no restart pending: stays primary");
  });

  it("round 1 restarts a standby with settings pending once the other data nodes answer, and says why", () => {
    asStandby();
    sim.set("pending", "max_connections, shared_buffers");
    const r = sim.run("dbnode-2", ["--others"]);
    expect(r.code, r.out).toBe(0);
    expect(r.calls).toEqual(["restart"]);
    expect(r.out).toContain("restarting postgresql@15-main (settings waiting for a restart: max_connections, shared_buffers)");
    expect(r.out).toContain("streaming from the primary again");
  });

  it("round 1 refuses (exit 1, nothing restarted) when another data node does not answer: two would be down", () => {
    asStandby();
    sim.set("pending", "shared_buffers");
    sim.set(`peer-${DB1}-recovery`, "down");
    const r = sim.run("dbnode-2", ["--others"]);
    expect(r.code).toBe(1);
    expect(r.calls).toEqual([]);
    expect(r.out).toContain("refused: dbnode-1 does not answer");
  });

  it("round 1 leaves the primary alone; the witness restarts in round 1 and has nothing to do in round 2", () => {
    asPrimary();
    sim.set("pending", "shared_buffers");
    const p = sim.run("dbnode-1", ["--others"]);
    expect(p).toMatchObject({ code: 0, calls: [] });
    expect(p.out).toContain("restarted in the second round, after a switchover");
    sim.set("recovery", "f");
    sim.set("pending", "port");
    const w = sim.run("witness-1", ["--others"]);
    expect(w.code, w.out).toBe(0);
    expect(w.calls).toEqual(["restart"]);
    expect(sim.run("witness-1", ["--primary"]).calls).toEqual([]);
  });

  it("round 2 switches the pending primary over to the restarted standby (repmgr's checks first), without restarting it itself", () => {
    asPrimary();
    sim.set("pending", "shared_buffers");
    const r = sim.run("dbnode-1", ["--primary"]);
    expect(r.code, r.out).toBe(0);
    expect(r.calls).toEqual([`repmgr on ${DB2} standby switchover --siblings-follow --dry-run`, `repmgr on ${DB2} standby switchover --siblings-follow`]);
    expect(r.out).toContain("switched over: dbnode-2 is the primary, dbnode-1 streams from it with the new settings");
  });

  it("round 2 switches over without --siblings-follow when a sibling (the witness) takes no SSH", () => {
    asPrimary();
    sim.set("pending", "shared_buffers");
    sim.set("siblings", "unreachable");
    const r = sim.run("dbnode-1", ["--primary"]);
    expect(r.code, r.out).toBe(0);
    expect(r.calls.at(-1)).toBe(`repmgr on ${DB2} standby switchover`);
  });

  it("round 2 refuses when no standby is fit to take over: still pending, or lagging", () => {
    asPrimary();
    sim.set("pending", "shared_buffers");
    sim.set(`peer-${DB2}-pending`, "shared_buffers");
    const pending = sim.run("dbnode-1", ["--primary"]);
    expect(pending.code).toBe(1);
    expect(pending.calls).toEqual([]);
    expect(pending.out).toContain("no standby streams from it with nothing pending");
    sim.set(`peer-${DB2}-pending`, "");
    sim.set("lag", String(64 * 1024 * 1024));
    expect(sim.run("dbnode-1", ["--primary"])).toMatchObject({ code: 1, calls: [] });
  });

  it("round 2 restarts a standby that is still pending (a failover between the rounds) like round 1", () => {
    asStandby();
    sim.set("pending", "shared_buffers");
    expect(sim.run("dbnode-2", ["--primary"]).calls).toEqual(["restart"]);
  });

  it("treats binaries replaced under the running server (a package update) as a pending restart", () => {
    asStandby();
    sim.set("pending", "");
    sim.set("replaced", "1");
    const r = sim.run("dbnode-2", ["--others"]);
    expect(r.calls).toEqual(["restart"]);
    expect(r.out).toContain("the PostgreSQL binaries were replaced (package update)");
  });

  it("--dry-run restarts and switches nothing, and --pending reports the node's role and reason", () => {
    asStandby();
    sim.set("pending", "shared_buffers");
    const s = sim.run("dbnode-2", ["--others", "--dry-run"]);
    expect(s.calls).toEqual([]);
    expect(s.out).toContain("dry run: would restart");
    asPrimary();
    const p = sim.run("dbnode-1", ["--primary", "--dry-run"]);
    expect(p.calls).toEqual([`repmgr on ${DB2} standby switchover --siblings-follow --dry-run`]);
    expect(p.out).toContain("dry run: would switch over to dbnode-2");
    expect(sim.run("dbnode-1", ["--pending"]).out.trim()).toBe("dbnode-1 primary settings waiting for a restart: shared_buffers");
  });

  it("stops on a node whose PostgreSQL does not answer", () => {
    sim.set("down", "1");
    const r = sim.run("dbnode-2", ["--others"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("PostgreSQL on dbnode-2 does not answer");
  });
});

describe("the setup steps (run on several nodes at once)", () => {
  /** Runs apply_pg_changes of the setup library with systemctl and the cluster membership simulated. */
  function applyChanges(opts: { restart: boolean; member: boolean }): string[] {
    const dir = mkdtempSync(join(tmpdir(), "ems-ha-apply-"));
    try {
      const script = [
        "set -euo pipefail",
        "NODE_NAME=dbnode-2 NODE_ID=2 SERVICE=postgresql@15-main PG_RESTART=1 PG_RELOAD=0 BINDIR=/nonexistent PG_PORT=5432",
        unescapeBash(SETUP_LIB),
        `systemctl() { printf 'systemctl %s\\n' "$*" >>${dir}/calls; }`,
        `q_local() { echo ${opts.member ? 1 : 0}; }`,
        "wait_ready() { :; }",
        `PG_RESTART=${opts.restart ? 1 : 0}`,
        "apply_pg_changes",
      ].join("\n");
      writeFileSync(join(dir, "calls"), "");
      const r = spawnSync("bash", ["-c", script], { encoding: "utf8", timeout: 30_000 });
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(join(dir, "calls"), "utf8").split("\n").filter(Boolean);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("never restart a running cluster member when postgresql.conf changed: they reload, the restart waits for the rolling restart", () => {
    const calls = applyChanges({ restart: true, member: true });
    expect(calls).toContain("systemctl reload postgresql@15-main");
    expect(calls.filter((c) => c.includes("restart"))).toEqual([]);
  });

  it("restart a node that is not a member yet (its first configuration)", () => {
    expect(applyChanges({ restart: true, member: false })).toContain("systemctl restart postgresql@15-main");
  });
});

describe("ems-ha rolling-restart", () => {
  it("runs the deploy's order over SSH: round 1 on every node, then round 2 on the data nodes, with sudo for a non-root login", () => {
    expect(rollingSteps(d).map((s) => `${s.member.name} ${s.round}`)).toEqual([
      "dbnode-1 --others",
      "dbnode-2 --others",
      "witness-1 --others",
      "dbnode-1 --primary",
      "dbnode-2 --primary",
    ]);
    const m = memberByName(d, "dbnode-2");
    expect(rollingCommand(m, "--others", false)).toBe(`bash ${ROLLING_SCRIPT} --others`);
    const admin = { ...m, config: { ...m.config, ssh: { ...m.config.ssh, user: "admin" } } };
    expect(rollingCommand(admin, "--primary", true)).toBe(`sudo -n bash ${ROLLING_SCRIPT} --primary --dry-run`);
  });

  it("is bad input (exit 2, nothing run) for a topology other than the native one", async () => {
    let err = "";
    const io: CliIo = { out: () => undefined, err: (t) => (err += t), cwd: process.cwd(), env: {} };
    const code = await runCli(["rolling-restart", "--config", join(__dirname, "../../examples/single-region.ts")], io);
    expect(code).toBe(2);
    expect(err).toContain("rolling-restart is implemented for the native topology");
  });
});
