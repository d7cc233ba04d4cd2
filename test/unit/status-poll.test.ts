/** The drills' status poll (test/helpers/status-poll.ts): bounded, stops at the first healthy reading, returns the last. */
import { describe, expect, it } from "vitest";
import type { CliRun } from "../helpers/cli";
import { statusUntilHealthy } from "../helpers/status-poll";

function runs(codes: number[]): { run: () => Promise<CliRun>; calls: () => number } {
  let i = 0;
  return {
    run: async () => {
      const code = codes[Math.min(i, codes.length - 1)]!;
      i++;
      return { code, out: JSON.stringify({ degraded: code !== 0, reasons: code === 0 ? [] : [`reading ${i}`] }), err: "" } as CliRun;
    },
    calls: () => i,
  };
}

describe("statusUntilHealthy", () => {
  it("stops at the first healthy reading", async () => {
    const r = runs([1, 1, 0, 1]);
    const slept: number[] = [];
    const s = await statusUntilHealthy(r.run, 60, 2000, async (ms) => void slept.push(ms));
    expect(s.code).toBe(0);
    expect(r.calls()).toBe(3);
    expect(slept).toEqual([2000, 2000]);
  });

  it("gives up at its bound and returns the last reading, reasons included", async () => {
    const r = runs([1]);
    const t0 = Date.now();
    const s = await statusUntilHealthy(r.run, 0.3, 100);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(s.code).toBe(1);
    expect(s.s.reasons).toEqual([`reading ${r.calls()}`]);
    expect(r.calls()).toBeGreaterThan(1);
    expect(r.calls()).toBeLessThanOrEqual(4);
  });

  it("names the output when status printed no JSON", async () => {
    await expect(statusUntilHealthy(async () => ({ code: 2, out: "", err: "bad flag --x" }) as CliRun, 5)).rejects.toThrow(
      /no JSON \(exit 2\):\n\nbad flag --x/,
    );
  });
});
