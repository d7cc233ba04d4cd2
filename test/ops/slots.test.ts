/**
 * The primary's replication slots in `ems-ha status`: which node each belongs to, and when a slot
 * is worth a warning (a lost standby's slot that keeps WAL on the primary, a slot of no node, WAL
 * lost or about to be). test/ops/cluster.test.ts reads the slots of a real primary.
 */
import { describe, expect, it } from "vitest";
import single from "../../examples/single-region";
import { parseDeployment } from "../../src/config/parse";
import { SLOT_RETAINED_WARN_BYTES, slotVerdict, type SlotRow } from "../../src/ops/slots";
import { renderStatusTable, type ClusterStatus } from "../../src/ops/status";

const d = parseDeployment(single);
// node ids as repmgr.nodes would name them (status takes them from there, else from the deployment)
const nameOf = (id: number) => ({ 1: "pg-1", 2: "pg-2", 3: "pgw-1" })[id] ?? `node id ${id}`;
const slot = (name: string, active: boolean, retainedBytes: number | null, walStatus: string | null = "reserved"): SlotRow => ({
  name,
  type: "physical",
  active,
  walStatus,
  retainedBytes,
});
const GB = 1024 * 1024 * 1024;

describe("replication slots on the primary", () => {
  it("names each repmgr slot's node; an active slot or a small inactive one says nothing", () => {
    const v = slotVerdict(d, "pg-1", [slot("repmgr_slot_2", true, 3 * GB), slot("repmgr_slot_3", false, SLOT_RETAINED_WARN_BYTES - 1)], "-1", nameOf);
    expect(v.slots.map((s) => s.node)).toEqual(["pg-2", "pgw-1"]);
    expect(v.warnings).toEqual([]);
  });

  it("warns of a lost standby's slot that keeps WAL on the primary without bound, naming the node and the two ways out", () => {
    const v = slotVerdict(d, "pg-1", [slot("repmgr_slot_2", false, 12 * GB)], "-1", nameOf);
    expect(v.warnings).toEqual([
      "replication slot repmgr_slot_2 (pg-2) on the primary pg-1 (it holds 12.0 GB of WAL) is inactive: the primary keeps WAL for it without bound (max_slot_wal_keep_size = -1) until the disk fills and PostgreSQL stops; bring pg-2 back, or take it out of database.nodes and apply (which drops its slot)",
    ]);
    // with a cap the warning says what the cap costs
    const capped = slotVerdict(d, "pg-1", [slot("repmgr_slot_2", false, 2 * GB, "extended")], "8GB", nameOf);
    expect(capped.warnings[0]).toMatch(/keeps WAL for it up to max_slot_wal_keep_size = 8GB, after which pg-2 needs a new clone/);
  });

  it("warns of an inactive repmgr slot of no node of the deployment, whatever it holds, with the statement that drops it", () => {
    const v = slotVerdict(d, "pg-1", [slot("repmgr_slot_7", false, 16 * 1024 * 1024)], "-1", nameOf);
    expect(v.slots[0]!.node).toBeUndefined();
    expect(v.warnings).toEqual([
      "replication slot repmgr_slot_7 on the primary pg-1 (it holds 16 MB of WAL) belongs to no node of the deployment (a node removed by hand?) and is inactive: once that node is gone for good, drop it on pg-1: select pg_drop_replication_slot('repmgr_slot_7')",
    ]);
    // a slot of another tool is only a warning when it holds much
    expect(slotVerdict(d, "pg-1", [slot("backup_tool", false, 16 * 1024 * 1024)], "-1", nameOf).warnings).toEqual([]);
    expect(slotVerdict(d, "pg-1", [slot("backup_tool", false, 2 * GB)], "-1", nameOf).warnings[0]).toMatch(
      /backup_tool on the primary pg-1 \(it holds 2\.0 GB of WAL\) is inactive: .*drop the slot if nothing uses it any more/,
    );
  });

  it("warns of WAL lost or about to be, even for an active slot", () => {
    const v = slotVerdict(d, "pg-1", [slot("repmgr_slot_2", false, null, "lost"), slot("repmgr_slot_3", true, 9 * GB, "unreserved")], "8GB", nameOf);
    expect(v.warnings).toEqual([
      "replication slot repmgr_slot_2 (pg-2) on the primary pg-1 has lost WAL its standby needs (max_slot_wal_keep_size = 8GB was reached): pg-2 cannot stream from it again and needs a new clone",
      "replication slot repmgr_slot_3 (pgw-1) on the primary pg-1 (it holds 9.0 GB of WAL) is past max_slot_wal_keep_size = 8GB: the WAL its standby needs is about to be removed, and pgw-1 then needs a new clone",
    ]);
  });

  it("status shows the slots under the primary's name, and no section without slots", () => {
    const v = slotVerdict(d, "pg-1", [slot("repmgr_slot_2", true, 0), slot("repmgr_slot_7", false, 3 * GB, "extended")], "-1", nameOf);
    const s: ClusterStatus = {
      name: "t",
      topology: "single-region",
      dbNodes: [],
      writablePrimaries: ["pg-1"],
      emsNodes: [],
      rewinds: [],
      fenced: [],
      slots: v.slots,
      degraded: false,
      reasons: [],
      warnings: v.warnings,
    };
    const text = renderStatusTable(s);
    expect(text).toMatch(/Replication slots on the primary pg-1:/);
    expect(text).toMatch(/repmgr_slot_2\s+pg-2\s+yes\s+0 B\s+reserved/);
    expect(text).toMatch(/repmgr_slot_7\s+-\s+no\s+3\.0 GB\s+extended/);
    expect(renderStatusTable({ ...s, slots: [] })).not.toMatch(/Replication slots/);
  });
});
