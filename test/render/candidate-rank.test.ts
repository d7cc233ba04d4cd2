/**
 * repmgr's candidate order, run as the bash both scripts include, and proof that both include
 * this one definition rather than a copy of their own.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CANDIDATE_RANK_INCLUDE } from "../../src/render/candidate-rank";
import { renderFailoverValidationScript } from "../../src/render/failover-validation";
import { nativeMembers } from "../../src/render/native/layout";
import { renderReconcileScript } from "../../src/render/native/reconcile";
import { renderDockerReconcileScript } from "../../src/render/docker-reconcile";
import { parseDeployment } from "../../src/config/parse";
import { unescapeBash } from "../../src/render/native/shell";
import single from "../../examples/single-region";
import { exampleDeployment } from "../native/helpers";

/** ranks_above's answer for each row (LSN, priority, id, my LSN, my priority, my id). */
function ranks(rows: ReadonlyArray<readonly [string, number, number, string, number, number]>): boolean[] {
  const calls = rows.map((r) => `if ranks_above ${r.map((v) => `'${v}'`).join(" ")}; then echo yes; else echo no; fi`);
  const r = spawnSync("bash", ["-c", unescapeBash(CANDIDATE_RANK_INCLUDE) + "\n" + calls.join("\n")], { encoding: "utf8", timeout: 10_000 });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout
    .trim()
    .split("\n")
    .map((l) => l === "yes");
}

describe("repmgr's candidate order (ranks_above)", () => {
  it("the higher received LSN first, whatever the priority and id", () => {
    expect(
      ranks([
        ["0/3000100", 1, 9, "0/3000060", 100, 1],
        ["0/3000060", 100, 1, "0/3000100", 1, 9],
        // the high word counts: 1/0 is past 0/FFFFFFFF
        ["1/0", 1, 9, "0/FFFFFFFF", 100, 1],
        ["0/FFFFFFFF", 100, 1, "1/0", 1, 9],
      ]),
    ).toEqual([true, false, true, false]);
  });

  it("at the same LSN, the higher priority; at the same priority, the lower node id", () => {
    expect(
      ranks([
        ["0/3000060", 100, 3, "0/3000060", 90, 2],
        ["0/3000060", 90, 2, "0/3000060", 100, 3],
        ["0/3000060", 100, 2, "0/3000060", 100, 3],
        ["0/3000060", 100, 3, "0/3000060", 100, 2],
        // the same LSN written with a leading zero is the same position
        ["0/03000060", 100, 2, "0/3000060", 100, 3],
        // a node never ranks above itself
        ["0/3000060", 100, 2, "0/3000060", 100, 2],
      ]),
    ).toEqual([true, false, true, false, true, false]);
  });
});

describe("both scripts rank with the one definition", () => {
  const native = exampleDeployment();
  const [node1] = nativeMembers(native);
  const docker = parseDeployment(single);
  const scripts = {
    "the native reconciliation service": renderReconcileScript(native, node1!),
    "the Docker reconciliation service": renderDockerReconcileScript(docker, docker.database.nodes[1]!),
    "the failover validation": renderFailoverValidationScript({
      psql: "psql",
      localPort: 5432,
      primaryTimeoutSeconds: 5,
      peerTimeoutSeconds: 5,
      peerTries: 2,
      stateFile: "/tmp/x",
      stateMaxAgeSeconds: 60,
      claimTtlSeconds: 120,
    }),
  };
  const include = unescapeBash(CANDIDATE_RANK_INCLUDE).trim();
  for (const [what, text] of Object.entries(scripts)) {
    it(what, () => {
      expect(text).toContain(include);
      expect(text.match(/^ranks_above\(\)/gm)).toHaveLength(1);
      expect(text.match(/^lsn_num\(\)/gm)).toHaveLength(1);
      // the ranking is asked of ranks_above, not written out again
      expect(text).toMatch(/if ranks_above "\$lsn" "\$prio" "\$id" "\$mine" "\$mine_prio" "\$NODE_ID"; then/);
      expect(text).not.toMatch(/-lt "\$NODE_ID"/);
    });
  }
});
