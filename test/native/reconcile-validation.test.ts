/**
 * The reconciliation service's election repair asks the failover validation before it promotes
 * (src/render/native/reconcile.ts, reconcile_leaderless and validate_promotion), in real bash: the
 * rendered script runs once with what it asks PostgreSQL replaced by stubs, and the validation
 * replaced by a script that answers as told. The real validation against real servers is
 * test/ops/failover-validation.test.ts; the repair with it on a loopback cluster, test/ops/heal.test.ts.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { labDeployment } from "../../examples/lab";
import { repmgrNodeId } from "../../src/config/derive";
import { parseDeployment } from "../../src/config/parse";
import single from "../../examples/single-region";
import { BITNAMI_ENTRYPOINT, DOCKER_VALIDATE_FAILOVER } from "../../src/render/bitnami";
import { renderDockerReconcileScript } from "../../src/render/docker-reconcile";
import { failoverValidationBoundSeconds } from "../../src/render/failover-validation";
import { memberByName, nativeLayout } from "../../src/render/native/layout";
import { electionRepairEnabled, renderReconcileScript } from "../../src/render/native/reconcile";
import { tempDir } from "../helpers/tmp";
import { reconcileStateOverrides } from "../helpers/reconcile";

const d = parseDeployment(labDeployment("10.235.39"));

/**
 * dbnode-2, a standby, with no primary in sight for long enough, a majority answering and no
 * other standby ranking above it; the validation prints `line` and exits `code`.
 */
function leaderless(line: string, code: number): { out: string; steps: string[]; validateArgs: string } {
  const dir = tempDir("ems-ha-reconcile-validation-");
  const text = renderReconcileScript(d, memberByName(d, "dbnode-2"));
  const script = join(dir, "ems-ha-reconcile");
  writeFileSync(script, text, { mode: 0o755 });
  const validate = join(dir, "validate");
  writeFileSync(validate, `#!/bin/bash\necho "$*" >${dir}/validate-args\necho ${JSON.stringify(line)}\nexit ${code}\n`);
  chmodSync(validate, 0o755);
  const overrides = join(dir, "overrides.sh");
  writeFileSync(
    overrides,
    [
      ...reconcileStateOverrides(text, dir),
      `VALIDATE=${validate}`,
      // the script runs as whoever runs the test here (natively: as postgres, like repmgrd)
      'as_pg() { "$@"; }',
      "persisting() { return 0; }",
      'peer_counts() { echo "2 3"; }',
      // repmgrd runs unpaused; this node: LSN 0/5000000, priority 100
      'q_local() { case "$1" in *repmgrd_is_running*) echo t ;; *pg_last_wal_receive_lsn*) echo 0/5000000 ;; *priority*"node_id = 1"*) echo 90 ;; *priority*) echo 100 ;; *) echo ;; esac; }',
      // the other standby answers, behind this one
      'q_peer() { case "$3" in "select pg_is_in_recovery()") echo t ;; *pg_last_wal_receive_lsn*) echo 0/4000000 ;; *) echo ;; esac; }',
      'promote_self() { echo "step: promote"; }',
      'hold_repmgrd() { echo "step: repmgrd stopped"; }',
      'release_repmgrd() { echo "step: repmgrd started"; }',
      'reconcile_once() { reconcile_leaderless; echo "step: exit $?"; }',
      "",
    ].join("\n"),
  );
  const r = spawnSync("bash", [script, "--once"], { env: { ...process.env, EMS_HA_RECONCILE_OVERRIDES: overrides }, encoding: "utf8", timeout: 30_000 });
  const out = `${r.stdout}${r.stderr}`;
  const argsFile = join(dir, "validate-args");
  return {
    out,
    steps: out.split("\n").filter((l) => l.startsWith("step: ")),
    validateArgs: existsSync(argsFile) ? readFileSync(argsFile, "utf8").trim() : "",
  };
}

describe("the election repair asks the failover validation first", () => {
  it("the lab deployment repairs elections at all (the premise of these tests)", () => {
    expect(electionRepairEnabled(d)).toBe(true);
  });

  it("promotes when the validation agrees, and logs its line", () => {
    const r = leaderless("no other data node answers as primary and no standby ranks above this node (LSN 0/5000000, priority 100): promoting", 0);
    expect(r.steps).toEqual(["step: repmgrd stopped", "step: promote", "step: repmgrd started", "step: exit 0"]);
    // asked with this node's id, as repmgrd asks it (%n)
    expect(r.validateArgs).toBe(String(memberByName(d, "dbnode-2").nodeId));
    expect(r.out).toMatch(/failover validation: no other data node answers as primary .*: promoting\n.*REPAIR: no data node has answered as primary/);
  });

  it("does not promote when the validation refuses, and says why", () => {
    const r = leaderless("standby dbnode-3 did not answer within 2 x 5s: not promoting this time", 1);
    expect(r.steps).toEqual(["step: exit 0"]);
    expect(r.out).toContain("not promoting: the failover validation refused (exit 1): standby dbnode-3 did not answer within 2 x 5s: not promoting this time");
    expect(r.out).not.toMatch(/REPAIR:/);
  });

  it("a validation that cannot run is a refusal, as it is for repmgrd", () => {
    const r = leaderless("", 127);
    expect(r.steps).toEqual(["step: exit 0"]);
    expect(r.out).toContain("not promoting: the failover validation refused (exit 127): no output");
  });

  it("natively, the script the setup script installs, bounded by the script's own worst case", () => {
    const text = renderReconcileScript(d, memberByName(d, "dbnode-2"));
    expect(text).toContain(`VALIDATE=${nativeLayout(15).validateFailoverScript}\n`);
    expect(text).toContain(`VALIDATE_TIMEOUT=${failoverValidationBoundSeconds(d)}\n`);
  });
});

describe("in a Docker deployment", () => {
  const dd = parseDeployment(single);
  const node = dd.database.nodes.find((n) => n.role !== "witness" && n.name !== "pg-1")!;
  const text = renderDockerReconcileScript(dd, node);
  const fn = /^validation_run\(\) \{.*\}$/m.exec(text.split("# --- Docker host")[1] ?? "")?.[0];

  it("runs the script mounted in the node's container, through the image's entrypoint, bounded", () => {
    expect(fn).toBeDefined();
    const dir = tempDir("ems-ha-reconcile-validation-docker-");
    mkdirSync(join(dir, "bin"));
    // a docker that records its arguments and answers as the script would
    writeFileSync(join(dir, "bin", "docker"), `#!/bin/bash\nprintf '%s\\n' "$@" >${dir}/argv\necho 'one line'\nexit 3\n`);
    chmodSync(join(dir, "bin", "docker"), 0o755);
    const vars = ["CONTAINER", "ENTRYPOINT", "VALIDATE", "VALIDATE_TIMEOUT", "NODE_ID"].map((v) => new RegExp(`^${v}=.*$`, "m").exec(text)?.[0]);
    expect(vars.every((v) => v !== undefined)).toBe(true);
    const r = spawnSync("bash", ["-c", [...vars, fn, 'out=$(validation_run); echo "rc=$? out=$out"'].join("\n")], {
      env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` },
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(r.stdout.trim()).toBe("rc=3 out=one line");
    const bound = failoverValidationBoundSeconds(dd);
    expect(readFileSync(join(dir, "argv"), "utf8").trim().split("\n")).toEqual([
      "exec",
      node.name,
      BITNAMI_ENTRYPOINT,
      "timeout",
      String(bound),
      "/bin/bash",
      DOCKER_VALIDATE_FAILOVER,
      String(repmgrNodeId(node)),
    ]);
  });
});
