/**
 * The reconciliation service on a node that left the cluster (src/render/native/reconcile.ts,
 * removed_from_cluster), in real bash: the rendered script runs once with its cluster queries and
 * service commands replaced by stubs (EMS_HA_RECONCILE_OVERRIDES, as test/ops/heal.test.ts does).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { labDeployment } from "../../examples/lab";
import { parseDeployment } from "../../src/config/parse";
import { memberByName } from "../../src/render/native/layout";
import { renderReconcileScript } from "../../src/render/native/reconcile";
import { reconcileStateOverrides } from "../helpers/reconcile";

const d = parseDeployment(labDeployment("10.235.39"));

/**
 * Runs `ems-ha-reconcile --once` on dbnode-1 (node id 1 at 10.235.39.11) twice, 2.2 s apart (the
 * removal must last 2 s), with the primary's answer to the membership query given as
 * "all-records records-of-this-id-at-this-address records-of-this-id".
 */
function runTwice(answer: string): { out: string; calls: string; removed: boolean } {
  const dir = mkdtempSync(join(tmpdir(), "ems-ha-reconcile-removed-"));
  const script = join(dir, "ems-ha-reconcile");
  const text = renderReconcileScript(d, memberByName(d, "dbnode-1"));
  writeFileSync(script, text, { mode: 0o755 });
  const calls = join(dir, "calls");
  const overrides = join(dir, "overrides.sh");
  writeFileSync(
    overrides,
    [
      ...reconcileStateOverrides(text, dir),
      "current_primary() { echo 'dbnode-2 2 10.235.39.12 5432'; }",
      `q_peer() { case "$3" in *"node_id = 1 and conninfo like 'host=10.235.39.11 %'"*) echo '${answer}' ;; *) return 1 ;; esac; }`,
      "q_local() { return 1; }",
      `retire_repmgrd() { echo retire_repmgrd >>${calls}; }`,
      `svc_stop() { echo svc_stop >>${calls}; }`,
      `svc_disable() { echo svc_disable >>${calls}; }`,
      "svc_active() { return 1; }",
      "",
    ].join("\n"),
  );
  const once = () =>
    spawnSync("bash", [script, "--once"], { env: { ...process.env, EMS_HA_RECONCILE_OVERRIDES: overrides }, encoding: "utf8", timeout: 30_000 });
  const a = once();
  spawnSync("sleep", ["2.2"], { timeout: 10_000 });
  const b = once();
  return {
    out: `${a.stdout}${a.stderr}${b.stdout}${b.stderr}`,
    calls: existsSync(calls) ? readFileSync(calls, "utf8") : "",
    removed: existsSync(join(dir, "removed")),
  };
}

describe("the reconciliation service of a node that left the cluster", () => {
  it("leaves a registered member alone", () => {
    const r = runTwice("3 1 1");
    expect(r.calls).toBe("");
    expect(r.removed).toBe(false);
    expect(r.out).not.toContain("REMOVED");
  });

  it("stops and disables repmgrd of a node the primary unregistered, keeping PostgreSQL running", () => {
    const r = runTwice("3 0 0");
    expect(r.out).toContain("the cluster has no record of this node at 10.235.39.11: stopping its repmgrd if that lasts 2 s");
    expect(r.out).toContain("REMOVED: the cluster has no record of node id 1 at 10.235.39.11");
    expect(r.calls).toBe("retire_repmgrd\n");
    expect(r.removed).toBe(true);
  });

  it("also stops PostgreSQL of a lost host that came back after its node id was registered at another address", () => {
    const r = runTwice("3 0 1");
    expect(r.out).toContain("node id 1 is registered at another address now: PostgreSQL stopped and disabled as well");
    expect(r.calls).toBe("retire_repmgrd\nsvc_stop\nsvc_disable\n");
    expect(r.removed).toBe(true);
  });

  it("does nothing when no node record can be read", () => {
    const r = runTwice("0 0 0");
    expect(r.calls).toBe("");
    expect(r.removed).toBe(false);
  });
});
