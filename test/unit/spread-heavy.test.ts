import { existsSync, readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { FILE_SECONDS, HEAVY_FILES, orderJobs, spreadHeavy, type OrderJob } from "../helpers/spread-heavy";

const ROOT = resolve(__dirname, "../..");

/** Plays an order out as vitest's pool does (a free worker takes the next file); each file's [start, end). */
function schedule(order: ReadonlyArray<OrderJob>, workers: number): Array<{ job: OrderJob; start: number; end: number }> {
  const free = new Array<number>(workers).fill(0);
  return order.map((job) => {
    const w = free.indexOf(Math.min(...free));
    const start = free[w]!;
    free[w] = start + job.seconds;
    return { job, start, end: free[w]! };
  });
}

function heavyOverlaps(order: ReadonlyArray<OrderJob>, workers: number): string[] {
  const heavy = schedule(order, workers).filter((s) => s.job.heavy);
  const found: string[] = [];
  for (const a of heavy) for (const b of heavy) if (a.job.id < b.job.id && a.start < b.end && b.start < a.end) found.push(`${a.job.id} + ${b.job.id}`);
  return found;
}

const job = (id: string, seconds: number, heavy = false): OrderJob => ({ id, seconds, heavy });

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "drills" ? [] : testFiles(p);
    return e.name.endsWith(".test.ts") ? [relative(ROOT, p)] : [];
  });
}

describe("the start order (spreadHeavy)", () => {
  it("keeps every file once, starts the longest heavy file first and no two heavy ones together while light ones are left", () => {
    const jobs = [job("a", 10), job("H1", 100, true), job("b", 40), job("c", 30), job("H2", 50, true), job("d", 40), job("e", 30), job("f", 5)];
    const order = spreadHeavy(jobs, 2);
    expect(order.map((j) => j.id).sort()).toEqual(jobs.map((j) => j.id).sort());
    // the same objects (the sequencer maps them back to vitest's files by identity)
    expect(order.every((j) => jobs.includes(j))).toBe(true);
    expect(order[0]!.id).toBe("H1");
    expect(heavyOverlaps(order, 2)).toEqual([]);
    // the light files keep their relative order
    expect(order.filter((j) => !j.heavy).map((j) => j.id)).toEqual(["a", "b", "c", "d", "e", "f"]);
  });

  it("the order it replaces (largest first) does start two heavy files together", () => {
    const jobs = [job("H1", 100, true), job("H2", 50, true), job("a", 60), job("b", 60)];
    expect(heavyOverlaps(jobs, 2)).toEqual(["H1 + H2"]);
    expect(heavyOverlaps(spreadHeavy(jobs, 2), 2)).toEqual([]);
  });

  it("with only heavy files left, runs them all, longest first", () => {
    const order = spreadHeavy([job("x", 5, true), job("y", 50, true), job("z", 20, true)], 2);
    expect(order.map((j) => j.id)).toEqual(["y", "z", "x"]);
  });

  it("one worker: every file, heavy ones spread between the light ones", () => {
    const order = spreadHeavy([job("H1", 30, true), job("H2", 30, true), job("a", 10), job("b", 10)], 1);
    expect(order.map((j) => j.id)).toEqual(["H1", "H2", "a", "b"]);
  });

  it("the tables name test files that exist and run in npm test (not drills); every heavy file has an estimate", () => {
    for (const f of [...HEAVY_FILES, ...Object.keys(FILE_SECONDS)]) {
      expect(existsSync(join(ROOT, f)), f).toBe(true);
      expect(f.startsWith("test/drills/"), f).toBe(false);
    }
    for (const f of HEAVY_FILES) expect(FILE_SECONDS[f], f).toBeGreaterThan(0);
  });

  it("this repository's files: with the estimates, no two heavy files run together", () => {
    const files = testFiles(join(ROOT, "test")).sort();
    const jobs = orderJobs(files.map((id) => ({ id })));
    expect(jobs.filter((j) => j.heavy).length).toBe(HEAVY_FILES.size);
    expect(heavyOverlaps(spreadHeavy(jobs, 2), 2)).toEqual([]);
  });
});
