import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatKb, parseRam, pgtuneSettings, renderPgTuneConf } from "../../src/render/pgtune";
import { runCli } from "../../src/cli/main";

const GB = 1024 ** 3;

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), cwd: process.cwd(), env: {} } };
}

describe("PGTune", () => {
  it("reproduces the guide's table for 4 GB / 4 CPUs / SSD / 1092 connections line for line", () => {
    const guide = readFileSync(join(__dirname, "../fixtures/guide-pgtune-4gb-4cpu-ssd.conf"), "utf8");
    expect(renderPgTuneConf({ ramBytes: 4 * GB, cpus: 4, storage: "ssd", connections: 1092 }).split("\n")).toEqual(guide.split("\n"));
  });

  it("follows the OLTP rules for other hosts", () => {
    const s = Object.fromEntries(pgtuneSettings({ ramBytes: 64 * GB, cpus: 16, storage: "hdd", connections: 200 }).map((x) => [x.key, x.value]));
    expect(s.shared_buffers).toBe("16GB");
    expect(s.effective_cache_size).toBe("48GB");
    expect(s.maintenance_work_mem).toBe("2GB"); // capped
    expect(s.random_page_cost).toBe("4");
    expect(s.effective_io_concurrency).toBe("2");
    expect(s.huge_pages).toBe("try");
    expect(s.max_parallel_workers_per_gather).toBe("4"); // capped at 4
    expect(s.max_worker_processes).toBe("16");
    // (64GB - 16GB) / (200 * 3) / 4 workers, in kB
    expect(s.work_mem).toBe(formatKb(Math.floor((48 * 1024 * 1024) / 600 / 4)));
  });

  it("omits the parallel settings below 4 CPUs and divides work_mem by 2", () => {
    const s = Object.fromEntries(pgtuneSettings({ ramBytes: 2 * GB, cpus: 2, storage: "san" }).map((x) => [x.key, x.value]));
    expect(s.max_worker_processes).toBeUndefined();
    expect(s.effective_io_concurrency).toBe("300");
    expect(s.work_mem).toBe(formatKb(Math.max(64, Math.floor((2 * 1024 * 1024 * 0.75) / (1092 * 3) / 2))));
  });

  it("keeps work_mem at least 64kB and wal_buffers at least 32kB", () => {
    const s = Object.fromEntries(pgtuneSettings({ ramBytes: 256 * 1024 * 1024, cpus: 1, storage: "ssd", connections: 5000 }).map((x) => [x.key, x.value]));
    expect(s.work_mem).toBe("64kB");
    expect(s.wal_buffers).toBe("1966kB");
  });

  it("parses RAM sizes", () => {
    expect(parseRam("4GB")).toBe(4 * GB);
    expect(parseRam("512MB")).toBe(512 * 1024 * 1024);
    expect(parseRam("16")).toBe(16 * GB);
    expect(() => parseRam("four")).toThrow(/4GB/);
  });

  it("is exposed as `ems-ha pgtune`", async () => {
    const t = io();
    expect(await runCli(["pgtune", "--ram", "4GB", "--cpus", "4", "--storage", "ssd"], t.io)).toBe(0);
    expect(t.out.join("")).toContain("work_mem = 480kB");
  });

  it("rejects bad flags with exit 2 naming the flag, value and fix", async () => {
    const t = io();
    expect(await runCli(["pgtune", "--ram", "lots", "--cpus", "4"], t.io)).toBe(2);
    expect(t.err.join("")).toMatch(/--ram.*lots.*Fix:/s);
    const t2 = io();
    expect(await runCli(["pgtune", "--ram", "4GB", "--cpus", "4", "--storage", "nvme"], t2.io)).toBe(2);
    expect(t2.err.join("")).toMatch(/--storage.*nvme.*ssd, hdd or san/s);
  });
});
