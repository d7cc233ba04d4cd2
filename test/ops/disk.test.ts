/**
 * How full the data filesystems are, in `ems-ha status`: the command (run here with the machine's
 * real df), its parsing, the thresholds and the table. The lab tests read it from real lab hosts
 * (test/lab/lab-e2e.test.ts natively, test/lab/docker-single-region.test.ts in the containers).
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import nativeExample from "../../examples/native-single-region";
import singleExample from "../../examples/single-region";
import standaloneExample from "../../examples/standalone-db";
import { parseDeployment } from "../../src/config/parse";
import { dfCommand, DISK_FULL_PERCENT, DISK_WARN_PERCENT, diskCommand, diskVerdict, parseDisk, type DiskUsage } from "../../src/ops/disk";
import { listMarkersCommand, parseMarkers } from "../../src/ops/rewind";
import { renderStatusTable, type ClusterStatus } from "../../src/ops/status";
import { tempDir } from "../helpers/tmp";

const usage = (node: string, usedPercent: number): DiskUsage => ({
  node,
  path: "/p",
  mount: "/",
  sizeKb: 100 * 1024 * 1024,
  availableKb: (100 - usedPercent) * 1024 * 1024,
  usedPercent,
});

describe("data filesystem usage", () => {
  it("reads the machine's real df: size, free space and df's own percentage", () => {
    const r = spawnSync("bash", ["-c", dfCommand("/tmp")], { encoding: "utf8", timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    const u = parseDisk("here", "/tmp", r.stdout)!;
    expect(u).toBeDefined();
    const df = spawnSync("df", ["-Pk", "/tmp"], { encoding: "utf8", timeout: 20_000 }).stdout.trim().split("\n").at(-1)!.split(/\s+/);
    expect([u.sizeKb, u.mount]).toEqual([Number(df[1]), df.slice(5).join(" ")]);
    // free space moves between the two calls on a busy machine: within 1% of the size, and the percentage with it
    expect(Math.abs(u.availableKb - Number(df[3]))).toBeLessThan(u.sizeKb / 100);
    expect(Math.abs(u.usedPercent - Number(df[4]!.replace("%", "")))).toBeLessThanOrEqual(1);
    // a path that does not exist: no line, no usage
    const none = spawnSync("bash", ["-c", dfCommand("/nonexistent/ems-ha")], { encoding: "utf8", timeout: 20_000 });
    expect(parseDisk("here", "/x", none.stdout)).toBeUndefined();
  });

  it("shares a data node's connection with its rewind records: each parser takes only its own lines", () => {
    const dir = tempDir("ems-ha-disk-");
    writeFileSync(join(dir, "rewind-pg-1-20261128T000000Z.txt"), "node: pg-1\nfork: 0/3000000\n");
    const r = spawnSync("bash", ["-c", `${listMarkersCommand(dir, "pg-1")}; ${dfCommand("/tmp")}`], { encoding: "utf8", timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(parseMarkers("pg-1", r.stdout)).toEqual([
      { node: "pg-1", file: join(dir, "rewind-pg-1-20261128T000000Z.txt"), summary: ["node: pg-1", "fork: 0/3000000"] },
    ]);
    expect(parseDisk("pg-1", "/tmp", r.stdout)?.sizeKb).toBeGreaterThan(0);
  });

  it("parses a filesystem name and a mount point with spaces; rounds up as df does", () => {
    expect(parseDisk("pg-1", "/p", "==D my fs 1000 333 667 34% /mnt/data disk\n")).toEqual({
      node: "pg-1",
      path: "/p",
      mount: "/mnt/data disk",
      sizeKb: 1000,
      availableKb: 667,
      usedPercent: 34,
    });
    expect(parseDisk("pg-1", "/p", "==D /dev/x 10 5 5 50% /mnt/\x1b[31mred\n")?.mount).toBe("/mnt/?[31mred");
    expect(parseDisk("pg-1", "/p", "==D \n")).toBeUndefined();
    expect(parseDisk("pg-1", "/p", "Error: No such container: pg-1\n")).toBeUndefined();
  });

  it("asks the data directory natively, the data volume's mount inside the container on Docker hosts, nothing elsewhere", () => {
    const native = parseDeployment(nativeExample);
    const n = diskCommand(native, native.database.nodes[0]!)!;
    expect(n.path).toBe("/var/lib/postgresql/15/main");
    expect(n.command).not.toContain("docker");
    const docker = parseDeployment(singleExample);
    const c = diskCommand(docker, { ...docker.database.nodes[0]!, name: "pg 1" })!;
    expect(c.path).toBe("/bitnami/postgresql");
    expect(c.command).toContain("docker exec 'pg 1' df -Pk /bitnami/postgresql");
    // the upgrade's containers are the image's too
    expect(diskCommand({ ...docker, topology: "upgrade-7-4-4" }, docker.database.nodes[0]!)?.path).toBe("/bitnami/postgresql");
    // a standalone server: Debian's cluster when the stack manages it, unknown when it exists already
    const standalone = parseDeployment(standaloneExample);
    expect(standalone.standalone?.mode).toBe("managed");
    const server = diskCommand(standalone, standalone.database.nodes[0]!)!;
    expect([server.path, server.command.includes("docker")]).toEqual(["/var/lib/postgresql/15/main", false]);
    expect(diskCommand({ ...standalone, topology: "vm-appliances" }, standalone.database.nodes[0]!)?.path).toBe("/var/lib/postgresql/15/main");
    expect(diskCommand({ ...standalone, standalone: { mode: "existing" } }, standalone.database.nodes[0]!)).toBeUndefined();
  });

  it(`warns from ${DISK_WARN_PERCENT}% used and counts the cluster degraded from ${DISK_FULL_PERCENT}%`, () => {
    expect(diskVerdict([usage("pg-1", DISK_WARN_PERCENT - 1)])).toEqual({ reasons: [], warnings: [] });
    const warn = diskVerdict([usage("pg-1", DISK_WARN_PERCENT)]);
    expect(warn.reasons).toEqual([]);
    expect(warn.warnings).toEqual([expect.stringMatching(/^pg-1's data filesystem \(\/\) is 85% full, 15\.0 GB free of 100\.0 GB: plan more space/)]);
    const full = diskVerdict([usage("pg-1", DISK_FULL_PERCENT), usage("pg-2", 10)]);
    expect(full.warnings).toEqual([]);
    expect(full.reasons).toEqual([expect.stringMatching(/^pg-1's data filesystem \(\/\) is 95% full, 5\.0 GB free of 100\.0 GB: PostgreSQL stops/)]);
  });

  it("status lists them in a table of their own", () => {
    const s: ClusterStatus = {
      name: "x",
      topology: "single-region",
      dbNodes: [],
      writablePrimaries: [],
      emsNodes: [],
      rewinds: [],
      fenced: [],
      disks: [usage("pg-1", 43), { ...usage("pg-2", 7), sizeKb: 512 * 1024, availableKb: 300 * 1024 }],
      degraded: false,
      reasons: [],
      warnings: [],
    };
    const text = renderStatusTable(s);
    expect(text).toMatch(/Data filesystems:\n {2}NODE +USED +FREE +SIZE +MOUNT\n {2}pg-1 +43% +57\.0 GB +100\.0 GB +\/\n {2}pg-2 +7% +300 MB +512 MB +\//);
    expect(renderStatusTable({ ...s, disks: [] })).not.toContain("Data filesystems");
  });
});
