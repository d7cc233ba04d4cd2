/**
 * How the reconciliation service wraps a repair around repmgrd (src/render/native/reconcile.ts,
 * `repaired`), in real bash: the rendered script runs once with its repair steps replaced by stubs
 * that record the order they ran in (EMS_HA_RECONCILE_OVERRIDES, as test/ops/heal.test.ts does).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { labDeployment } from "../../examples/lab";
import { parseDeployment } from "../../src/config/parse";
import { memberByName } from "../../src/render/native/layout";
import { electAfterSeconds, renderReconcileScript } from "../../src/render/native/reconcile";
import { reconcileStateOverrides } from "../helpers/reconcile";

const d = parseDeployment(labDeployment("10.235.38"));

/** One run of dbnode-1's script whose iteration is `body` (bash), after `attempts` failed rejoins (the file's text). */
function runOnce(body: string, attempts: number | string, stubs: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), "ems-ha-reconcile-repaired-"));
  const script = join(dir, "ems-ha-reconcile");
  const text = renderReconcileScript(d, memberByName(d, "dbnode-1"));
  writeFileSync(script, text, { mode: 0o755 });
  const overrides = join(dir, "overrides.sh");
  writeFileSync(
    overrides,
    [
      ...reconcileStateOverrides(text, dir),
      `echo ${attempts} >"$ATTEMPTS_FILE"`,
      'hold_repmgrd() { echo "step: repmgrd stopped"; }',
      'release_repmgrd() { echo "step: repmgrd started"; }',
      ...stubs,
      `reconcile_once() { ${body}; }`,
      "",
    ].join("\n"),
  );
  const r = spawnSync("bash", [script, "--once"], { env: { ...process.env, EMS_HA_RECONCILE_OVERRIDES: overrides }, encoding: "utf8", timeout: 30_000 });
  return `${r.stdout}${r.stderr}`;
}

const steps = (out: string) => out.split("\n").filter((l) => l.startsWith("step: "));

/** Stubs: a standby that does not stream, replayed past where the primary dbnode-2 left its timeline. */
const forkedStandby = [
  'current_primary() { echo "dbnode-2 2 10.235.38.12 5432"; }',
  "persisting() { return 0; }",
  'q_peer() { case "$3" in "select timeline_id from pg_control_checkpoint()") echo 3 ;; *) echo ;; esac; }',
  'q_local() { case "$1" in *min_recovery_end_timeline*) echo 2 ;; "select pg_last_wal_replay_lsn()") echo 0/5000000 ;; *) echo ;; esac; }',
  "switchpoint() { echo 0/4000000; }",
  'save_discarded() { echo "step: recorded $*"; }',
  'rejoin_held() { echo "step: rejoin $1"; }',
];

describe("a repair with repmgrd held", () => {
  it("stops repmgrd before the repair and starts it after, and returns the repair's exit status", () => {
    const out = runOnce('rejoin dbnode-2 2 10.235.38.12 5432; echo "step: exit $?"', 0, ['rejoin_held() { echo "step: rejoin $*"; return 3; }']);
    expect(steps(out)).toEqual(["step: repmgrd stopped", "step: rejoin dbnode-2 2 10.235.38.12 5432", "step: repmgrd started", "step: exit 3"]);
  });

  it("touches nothing, repmgrd included, once the rejoin attempts are used up", () => {
    const out = runOnce('rejoin dbnode-2 2 10.235.38.12 5432; echo "step: exit $?"', 3, ['rejoin_held() { echo "step: rejoin $*"; }']);
    expect(steps(out)).toEqual(["step: exit 1"]);
    expect(out).toMatch(/3 rejoin attempts failed: not trying again/);
  });

  it("records what a rewind discards only while a rejoin may still be tried: a node past its attempts writes no record and copies no WAL, every round", () => {
    const stubs = [
      'q_peer() { case "$3" in "select pg_is_in_recovery()") echo f ;; "select timeline_id from pg_control_checkpoint()") echo 3 ;; *) echo ;; esac; }',
      'q_local() { case "$1" in "select timeline_id from pg_control_checkpoint()") echo 2 ;; "select pg_current_wal_lsn()") echo 0/5000000 ;; *) echo ;; esac; }',
      "switchpoint() { echo 0/4000000; }",
      'save_discarded() { echo "step: recorded $*"; }',
      'rejoin_held() { echo "step: rejoin $1"; }',
    ];
    // a stale primary (dbnode-2 primary on a newer timeline, this node past the fork)
    const body = 'reconcile_primary; echo "step: exit $?"';
    expect(steps(runOnce(body, 0, stubs))).toEqual([
      "step: recorded dbnode-2 3 0/4000000 2 0/5000000",
      "step: repmgrd stopped",
      "step: rejoin dbnode-2",
      "step: repmgrd started",
      "step: exit 0",
    ]);
    const used = runOnce(body, 3, stubs);
    expect(steps(used)).toEqual(["step: exit 1"]);
    expect(used).toMatch(/3 rejoin attempts failed: not trying again/);
    // said once: over three rounds, one REPAIR: line and one refusal, nothing recorded or touched
    const rounds = runOnce(`${body}; ${body}; ${body}`, 3, stubs);
    expect(steps(rounds)).toEqual(["step: exit 1", "step: exit 1", "step: exit 1"]);
    expect(rounds.match(/REPAIR: /g)).toHaveLength(1);
    expect(rounds.match(/rejoin attempts failed/g)).toHaveLength(1);
    // once the operator removes the attempts file, the repair runs (and would say so again)
    const reset = runOnce(`${body}; rm -f "$ATTEMPTS_FILE"; ${body}`, 3, stubs);
    expect(steps(reset)).toEqual([
      "step: exit 1",
      "step: recorded dbnode-2 3 0/4000000 2 0/5000000",
      "step: repmgrd stopped",
      "step: rejoin dbnode-2",
      "step: repmgrd started",
      "step: exit 0",
    ]);
    expect(reset.match(/REPAIR: /g)).toHaveLength(2);
  });

  it("says once, for a forked standby too, that the attempts are used up", () => {
    // a standby that does not stream, replayed past where the primary dbnode-2 left its timeline
    const stubs = [
      ...forkedStandby,
      // every other node answers
      'peer_counts() { echo "2 2"; }',
    ];
    const body = 'reconcile_standby; echo "step: exit $?"';
    const fresh = runOnce(body, 0, stubs);
    expect(steps(fresh)).toEqual([
      "step: recorded dbnode-2 3 0/4000000 2 0/5000000",
      "step: repmgrd stopped",
      "step: rejoin dbnode-2",
      "step: repmgrd started",
      "step: exit 0",
    ]);
    expect(fresh).toMatch(/REPAIR: this standby has forked: timeline 2 replayed up to 0\/5000000, past 0\/4000000/);
    const rounds = runOnce(`${body}; ${body}; ${body}`, 3, stubs);
    expect(steps(rounds)).toEqual(["step: exit 1", "step: exit 1", "step: exit 1"]);
    expect(rounds.match(/REPAIR: this standby has forked/g)).toHaveLength(1);
    expect(rounds.match(/3 rejoin attempts failed: not trying again/g)).toHaveLength(1);
  });

  it("forgets the attempts counted for another cluster (this node's data built anew): the new cluster's forked standby is repaired", () => {
    const THIS = "7000000000000000002";
    const thisCluster = [
      ...forkedStandby,
      'peer_counts() { echo "2 2"; }',
      `q_local() { case "$1" in *min_recovery_end_timeline*) echo 2 ;; "select pg_last_wal_replay_lsn()") echo 0/5000000 ;; "select system_identifier from pg_control_system()") echo ${THIS} ;; *) echo ;; esac; }`,
    ];
    const body = 'reconcile_standby; echo "step: exit $?"';
    // used up for this cluster: refused, as before
    const same = runOnce(body, `3 ${THIS}`, thisCluster);
    expect(steps(same)).toEqual(["step: exit 1"]);
    expect(same).toMatch(/3 rejoin attempts failed: not trying again/);
    // used up for the cluster this host held before: forgotten, said, and the repair runs
    const other = runOnce(`${body}; echo "step: file $(cat "$ATTEMPTS_FILE" 2>/dev/null || echo none)"`, "3 7000000000000000001", thisCluster);
    expect(steps(other)).toEqual([
      "step: recorded dbnode-2 3 0/4000000 2 0/5000000",
      "step: repmgrd stopped",
      "step: rejoin dbnode-2",
      "step: repmgrd started",
      "step: exit 0",
      "step: file none",
    ]);
    expect(other).toMatch(
      /3 failed rejoin attempts were counted for another cluster \(system identifier 7000000000000000001; this node's data is 7000000000000000002\): forgotten/,
    );
    expect(other).not.toMatch(/rejoin attempts failed: not trying again/);
    // an attempt is noted with this node's cluster; a count from an earlier version (no identifier) is kept
    expect(steps(runOnce('note_attempt 2; echo "step: file $(cat "$ATTEMPTS_FILE")"', 0, thisCluster))).toEqual([`step: file 2 ${THIS}`]);
    expect(steps(runOnce(body, 3, thisCluster))).toEqual(["step: exit 1"]);
  });

  it("does not rewind a forked standby while the primary sees a majority only with it (the rewind would fence the primary); says so once, and rewinds once another node answers", () => {
    // dbnode-1 sees 2 others of its 2 (the primary dbnode-2 and the witness); the witness is down:
    // the primary would see 0 of its 2 others while dbnode-1's PostgreSQL is stopped (needs 1)
    const counts = (seen: number) => `peer_counts() { echo "${seen} 2"; }`;
    const body = 'reconcile_standby; echo "step: exit $?"';
    const waiting = runOnce(`${body}; ${body}; ${body}`, 0, [...forkedStandby, counts(1)]);
    expect(steps(waiting)).toEqual(["step: exit 0", "step: exit 0", "step: exit 0"]);
    expect(waiting).not.toMatch(/REPAIR:/);
    expect(
      waiting.match(/not rewinding yet: dbnode-2 answers as primary, and of its other nodes only 0 answer besides this one \(a majority needs 1\)/g),
    ).toHaveLength(1);
    // the witness answers again (a file the stub reads): the rewind runs, the deferral is forgotten
    const later = runOnce(`${body}; echo 2 >"$STATE_DIR/seen"; ${body}; rm -f "$STATE_DIR/seen"; ${body}`, 0, [
      ...forkedStandby,
      'peer_counts() { echo "$(cat "$STATE_DIR/seen" 2>/dev/null || echo 1) 2"; }',
    ]);
    expect(steps(later)).toEqual([
      "step: exit 0",
      "step: recorded dbnode-2 3 0/4000000 2 0/5000000",
      "step: repmgrd stopped",
      "step: rejoin dbnode-2",
      "step: repmgrd started",
      "step: exit 0",
      "step: exit 0",
    ]);
    // deferred, rewound, deferred again: said twice (the marker went with the rewind)
    expect(later.match(/not rewinding yet/g)).toHaveLength(2);
    // without fencing (fewer than three nodes) nothing is deferred: there is no fence to cause
    const noFence = runOnce(body, 0, [...forkedStandby, counts(0), "FENCING=0"]);
    expect(steps(noFence)).toContain("step: rejoin dbnode-2");
  });

  it("waits past repmgrd's failover window and the old primary's fence before promoting a standby itself; never across locations", () => {
    // the lab's tuned timings: 2 + 3 x (2 + 2) = 14 s of failover window, fence 10 + 10 s, grace 20 s
    expect(electAfterSeconds(d)).toBe(40);
    expect(scriptOf(d)).toMatch(/^ELECT=1$/m);
    expect(scriptOf(d)).toMatch(/^ELECT_AFTER=40$/m);
    // the witness in another location: repmgr's location rule is left alone
    const input = labDeployment("10.235.38");
    const split = parseDeployment({
      ...input,
      database: { ...input.database, nodes: input.database.nodes.map((n) => (n.role === "witness" ? { ...n, location: "dc2" } : n)) },
    });
    expect(scriptOf(split)).toMatch(/^ELECT=0$/m);
  });
});

function scriptOf(dep: typeof d): string {
  return renderReconcileScript(dep, memberByName(dep, "dbnode-2"));
}
