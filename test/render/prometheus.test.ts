/**
 * The Prometheus text format (src/render/prometheus.ts) and the metrics of status and check-backups
 * (src/ops/metrics.ts), read back with an independent parser of the format
 * (parse-prometheus-text-format): hostile label values come back as they went in.
 */
import parse from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { backupMetrics, statusMetrics } from "../../src/ops/metrics";
import type { ClusterStatus } from "../../src/ops/status";
import { promNumber, renderPrometheus } from "../../src/render/prometheus";

const HOSTILE = 'pg "1" \\ back\nslash} x="y';

describe("the text format", () => {
  it("escapes label values and HELP text so that a parser reads back exactly what went in", () => {
    const text = renderPrometheus([
      { name: "t_gauge", help: "a help \\ with\na line feed", type: "gauge", samples: [{ labels: { node: HOSTILE, other: "" }, value: 1.5 }, { value: 2 }] },
    ]);
    expect(text).toBe(
      '# HELP t_gauge a help \\\\ with\\na line feed\n# TYPE t_gauge gauge\nt_gauge{node="pg \\"1\\" \\\\ back\\nslash} x=\\"y",other=""} 1.5\nt_gauge 2\n',
    );
    const [f] = parse(text);
    expect(f!.help).toBe("a help \\ with\na line feed");
    expect(f!.metrics[0]!.labels).toEqual({ node: HOSTILE, other: "" });
    expect(f!.metrics.map((m) => m.value)).toEqual(["1.5", "2"]);
  });

  it("writes NaN and the infinities as the format spells them, leaves out a family without samples, refuses a bad name", () => {
    expect([NaN, Infinity, -Infinity, 0, 1e21, -3].map(promNumber)).toEqual(["NaN", "+Inf", "-Inf", "0", "1e+21", "-3"]);
    expect(renderPrometheus([{ name: "empty", help: "h", type: "gauge", samples: [] }])).toBe("");
    expect(() => renderPrometheus([{ name: "bad-name", help: "h", type: "gauge", samples: [{ value: 1 }] }])).toThrow(
      /not a Prometheus metric name: "bad-name"/,
    );
    expect(() => renderPrometheus([{ name: "m", help: "h", type: "gauge", samples: [{ labels: { "a-b": "x" }, value: 1 }] }])).toThrow(/label name: "a-b"/);
    expect(() =>
      renderPrometheus([
        { name: "m", help: "h", type: "gauge", samples: [{ value: 1 }] },
        { name: "m", help: "h", type: "gauge", samples: [{ value: 1 }] },
      ]),
    ).toThrow(/metric m given twice/);
  });
});

const status = (over: Partial<ClusterStatus> = {}): ClusterStatus => ({
  name: "ems prod",
  topology: "single-region",
  dbNodes: [
    { name: "pg-1", address: "10.0.0.11", kind: "data", reachable: true, role: "primary", timeline: 3, repmgrd: { running: true, paused: false, pid: 9 } },
    {
      name: HOSTILE,
      address: "10.0.0.12",
      kind: "data",
      reachable: true,
      role: "standby",
      streaming: true,
      lagBytes: 4096,
      lagSeconds: 0.25,
      timeline: 3,
      repmgrd: { running: true, paused: true, pid: 10 },
    },
    { name: "pgw-1", address: "10.0.0.13", kind: "witness", reachable: false, role: "unknown", error: "connect ECONNREFUSED" },
  ],
  writablePrimaries: ["pg-1"],
  emsNodes: [
    { name: "ems-1", address: "10.0.0.21", reachable: true, role: "primary", missing: [] },
    { name: "ems-2", address: "10.0.0.22", reachable: true, role: "unknown", missing: ["fcems_monitor", "fcems_das"] },
  ],
  rewinds: [
    { node: "pg-1", file: "/var/lib/ems-ha/rewind-pg-1-a.txt", summary: [] },
    { node: "pg-1", file: "/var/lib/ems-ha/rewind-pg-1-b.txt", summary: [] },
  ],
  fenced: [],
  disks: [{ node: "pg-1", path: "/var/lib/postgresql", mount: "/srv/pg data", sizeKb: 1000, availableKb: 250, usedPercent: 75 }],
  slots: [
    { name: "repmgr_slot_2", type: "physical", active: true, walStatus: "reserved", retainedBytes: 1024, node: HOSTILE },
    { name: "old", type: "physical", active: false, walStatus: null, retainedBytes: null },
  ],
  degraded: true,
  reasons: ["witness pgw-1 is unreachable"],
  warnings: [],
  ...over,
});

/** name → [labels, value] of every sample, via the independent parser. */
function samples(text: string): Map<string, Array<[Record<string, string>, number]>> {
  return new Map(parse(text).map((f) => [f.name, f.metrics.map((m) => [m.labels ?? {}, Number(m.value)] as [Record<string, string>, number])]));
}

describe("status as metrics", () => {
  it("says what the table says: degraded and why, each node's role, lag, repmgrd, the disks, slots, rewinds and EMS services", () => {
    const m = samples(renderPrometheus(statusMetrics(status(), new Date("2026-11-29T01:00:00Z"))));
    const dep = { deployment: "ems prod" };
    expect(m.get("ems_ha_status_time_seconds")).toEqual([[dep, 1795914000]]);
    expect(m.get("ems_ha_degraded")).toEqual([[dep, 1]]);
    expect(m.get("ems_ha_status_reasons")).toEqual([[dep, 1]]);
    expect(m.get("ems_ha_writable_primaries")).toEqual([[dep, 1]]);
    expect(m.get("ems_ha_db_node_up")).toEqual([
      [{ ...dep, node: "pg-1", kind: "data" }, 1],
      [{ ...dep, node: HOSTILE, kind: "data" }, 1],
      [{ ...dep, node: "pgw-1", kind: "witness" }, 0],
    ]);
    expect(m.get("ems_ha_db_node_primary")).toEqual([
      [{ ...dep, node: "pg-1" }, 1],
      [{ ...dep, node: HOSTILE }, 0],
    ]);
    expect(m.get("ems_ha_standby_streaming")).toEqual([[{ ...dep, node: HOSTILE }, 1]]);
    expect(m.get("ems_ha_replication_lag_bytes")).toEqual([[{ ...dep, node: HOSTILE }, 4096]]);
    expect(m.get("ems_ha_replication_lag_seconds")).toEqual([[{ ...dep, node: HOSTILE }, 0.25]]);
    expect(m.get("ems_ha_repmgrd_paused")).toEqual([
      [{ ...dep, node: "pg-1" }, 0],
      [{ ...dep, node: HOSTILE }, 1],
    ]);
    expect(m.get("ems_ha_rewinds_unacknowledged")).toEqual([[{ ...dep, node: "pg-1" }, 2]]);
    expect(m.get("ems_ha_disk_used_ratio")).toEqual([[{ ...dep, node: "pg-1", mount: "/srv/pg data" }, 0.75]]);
    expect(m.get("ems_ha_disk_available_bytes")).toEqual([[{ ...dep, node: "pg-1", mount: "/srv/pg data" }, 256000]]);
    expect(m.get("ems_ha_slot_retained_bytes")).toEqual([[{ ...dep, slot: "repmgr_slot_2", node: HOSTILE, active: "true" }, 1024]]);
    expect(m.get("ems_ha_ems_services_missing")).toEqual([
      [{ ...dep, node: "ems-1" }, 0],
      [{ ...dep, node: "ems-2" }, 2],
    ]);
    // nothing fenced: the family is left out rather than written empty
    expect(m.has("ems_ha_fenced")).toBe(false);
  });

  it("a healthy deployment: not degraded, a fenced node counted when there is one", () => {
    const m = samples(renderPrometheus(statusMetrics(status({ degraded: false, reasons: [], fenced: [{ node: "pg-1", since: "x" }] }), new Date(0))));
    expect(m.get("ems_ha_degraded")).toEqual([[{ deployment: "ems prod" }, 0]]);
    expect(m.get("ems_ha_fenced")).toEqual([[{ deployment: "ems prod", node: "pg-1" }, 1]]);
  });
});

describe("check-backups as metrics", () => {
  it("the verdict, the count, the newest one's start and size, the damaged ones read", () => {
    const r = {
      ok: false,
      message: "x",
      ignored: [],
      backups: [
        { dir: "/b/n", startedAt: "2026-11-28T02:00:00.000Z", node: "pg-1", role: "primary", bytes: 5000, files: 3, verified: false, problems: ["bad"] },
        { dir: "/b/o", startedAt: "2026-11-27T02:00:00.000Z", node: "pg-1", role: "primary", bytes: 4000, files: 3, problems: [] },
      ],
    };
    const m = samples(renderPrometheus(backupMetrics("ems prod", '/srv/"backups"', r, new Date("2026-11-28T03:00:00Z"))));
    const labels = { deployment: "ems prod", dir: '/srv/"backups"' };
    expect(m.get("ems_ha_backup_ok")).toEqual([[labels, 0]]);
    expect(m.get("ems_ha_backups")).toEqual([[labels, 2]]);
    expect(m.get("ems_ha_backup_newest_start_time_seconds")).toEqual([[labels, 1795831200]]);
    expect(m.get("ems_ha_backup_newest_bytes")).toEqual([[labels, 5000]]);
    expect(m.get("ems_ha_backups_damaged")).toEqual([[labels, 1]]);
    // no backup at all: no newest to describe
    const none = samples(renderPrometheus(backupMetrics("d", "/b", { ok: false, message: "", ignored: [], backups: [] }, new Date(0))));
    expect(none.get("ems_ha_backups")).toEqual([[{ deployment: "d", dir: "/b" }, 0]]);
    expect(none.has("ems_ha_backup_newest_bytes")).toBe(false);
  });
});
