/**
 * The membership functions of the native setup script (src/render/native/membership.ts) in real
 * bash, with the cluster's node records given by stubs: what check_membership refuses, and what
 * unregister_removed runs on the primary.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { MEMBERSHIP_LIB } from "../../src/render/native/membership";
import { unescapeBash } from "../../src/render/native/shell";

/** Runs `call` after the library, with `records` ("id|name|type|active" lines) as the cluster's node list. */
function run(
  vars: { NODE_ID: number; NODE_NAME: string; MEMBER_IDS: string },
  records: string[],
  call: string,
  extra: string[] = [],
): { code: number | null; out: string } {
  const script = [
    "set -euo pipefail",
    `NODE_ID=${vars.NODE_ID} NODE_NAME=${vars.NODE_NAME} MEMBER_IDS='${vars.MEMBER_IDS}' STATE_DIR=$(mktemp -d) BINDIR=/bin REPMGR_CONF=/etc/repmgr.conf`,
    "PEERS=('dbnode-2 10.0.0.12 5432')",
    'log() { echo "LOG $*"; }',
    'die() { echo "DIE $*"; exit 1; }',
    "find_primary() { echo 'dbnode-2 10.0.0.12 5432'; }",
    `RECORDS='${records.join("\n")}'`,
    'q_peer() { printf "%s\\n" "$RECORDS"; }',
    'q_local() { case "$2" in *repmgr.nodes*) printf "%s\\n" "$RECORDS" ;; *pg_replication_slots*) echo 0 ;; *) echo ;; esac; }',
    'as_pg() { echo "RUN $*"; }',
    unescapeBash(MEMBERSHIP_LIB),
    ...extra,
    call,
    'echo "DONE"; cat "$STATE_DIR/membership-refused" 2>/dev/null || true',
  ].join("\n");
  const r = spawnSync("bash", ["-c", script], { encoding: "utf8", timeout: 20_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

const cluster = ["1|dbnode-1|standby|t", "2|dbnode-2|primary|t", "3|witness-1|witness|t"];

describe("check_membership (before any file is written)", () => {
  it("accepts a node whose id and name match its registration, and a new node with a free id", () => {
    expect(run({ NODE_ID: 1, NODE_NAME: "dbnode-1", MEMBER_IDS: "1 2 3" }, cluster, "check_membership").out).toContain("DONE");
    expect(run({ NODE_ID: 4, NODE_NAME: "dbnode-3", MEMBER_IDS: "1 2 3 4" }, cluster, "check_membership").out).toContain("DONE");
  });

  it("refuses a node given another registered node's id, and a registered node given a new id", () => {
    const taken = run({ NODE_ID: 3, NODE_NAME: "dbnode-3", MEMBER_IDS: "1 2 3 4" }, cluster, "check_membership");
    expect(taken.code).toBe(1);
    expect(taken.out).toContain("repmgr node id 3 is registered to witness-1, but the deployment now gives it to dbnode-3");
    const renumbered = run({ NODE_ID: 4, NODE_NAME: "witness-1", MEMBER_IDS: "1 2 3 4" }, cluster, "check_membership");
    expect(renumbered.code).toBe(1);
    expect(renumbered.out).toContain("witness-1 is registered with repmgr node id 3, but the deployment now gives it id 4");
    expect(renumbered.out).not.toContain("DONE");
  });

  it("refuses when the current primary is no longer a member, naming the fix", () => {
    const r = run({ NODE_ID: 1, NODE_NAME: "dbnode-1", MEMBER_IDS: "1 3" }, cluster, "check_membership");
    expect(r.code).toBe(1);
    expect(r.out).toContain("dbnode-2 (repmgr node id 2) is the current primary and is no longer in database.nodes: switch over");
  });

  it("does not count a failed (inactive) primary record as the current primary", () => {
    const r = run(
      { NODE_ID: 1, NODE_NAME: "dbnode-1", MEMBER_IDS: "1 3" },
      ["1|dbnode-1|primary|t", "2|dbnode-2|primary|f", "3|witness-1|witness|t"],
      "check_membership",
    );
    expect(r.out).toContain("DONE");
  });
});

describe("unregister_removed (on the current primary)", () => {
  it("unregisters each record that is no longer a member, with the command for its type", () => {
    const r = run(
      { NODE_ID: 2, NODE_NAME: "dbnode-2", MEMBER_IDS: "1 2" },
      [...cluster, "4|dbnode-3|standby|t", "5|old-primary|primary|f"],
      "unregister_removed",
    );
    expect(r.out).toContain("RUN /bin/repmgr -f /etc/repmgr.conf witness unregister --node-id 3 --force");
    expect(r.out).toContain("RUN /bin/repmgr -f /etc/repmgr.conf standby unregister --node-id 4");
    expect(r.out).toContain("RUN /bin/repmgr -f /etc/repmgr.conf primary unregister --node-id 5");
    expect(r.out).not.toMatch(/unregister --node-id [12]\b/);
    expect(r.out).toContain("DONE");
  });

  it("never unregisters an active primary", () => {
    const r = run({ NODE_ID: 1, NODE_NAME: "dbnode-1", MEMBER_IDS: "1 3" }, cluster, "unregister_removed");
    expect(r.code).toBe(1);
    expect(r.out).toContain("registered as an active primary but is no longer in database.nodes: not unregistered");
    expect(r.out).not.toContain("RUN");
  });
});

describe("check_clone_source (before a new or rebuilt data node clones)", () => {
  const peers = "PEERS=('dbnode-1 10.0.0.11 5432' 'dbnode-2 10.0.0.12 5432')";
  /** q_peer: pg_is_in_recovery() per host, and whether the host's primary record is registered. */
  const answers = (primaries: string[], registered: number) =>
    `q_peer() { case "$3" in *pg_is_in_recovery*) case " ${primaries.join(" ")} " in *" $1 "*) echo f ;; *) echo t ;; esac ;; *repmgr.nodes*) echo ${registered} ;; esac; }`;
  const call = "check_clone_source 'dbnode-2 10.0.0.12 5432'";

  it("accepts the one registered primary", () => {
    expect(run({ NODE_ID: 4, NODE_NAME: "dbnode-3", MEMBER_IDS: "1 2 3 4" }, [], call, [peers, answers(["10.0.0.12"], 1)]).out).toContain("DONE");
  });

  it("refuses when several data nodes answer as primary", () => {
    const r = run({ NODE_ID: 4, NODE_NAME: "dbnode-3", MEMBER_IDS: "1 2 3 4" }, [], call, [peers, answers(["10.0.0.11", "10.0.0.12"], 1)]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("the cluster is degraded: dbnode-1 dbnode-2 all answer as primary; not cloning from any of them");
  });

  it("refuses a source that answers as primary but is not the registered active primary", () => {
    const r = run({ NODE_ID: 4, NODE_NAME: "dbnode-3", MEMBER_IDS: "1 2 3 4" }, [], call, [peers, answers(["10.0.0.12"], 0)]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("dbnode-2 answers as primary but is not the registered active primary");
  });
});
