/**
 * Set up for every test file (vitest.config.ts, setupFiles): reports each time this worker's
 * event loop was blocked for a long stretch, naming the test that was running.
 *
 * Why: a test worker reports to vitest's main process over an RPC channel whose calls time out
 * after 60 s. A synchronous call that holds the event loop longer (a spawnSync of terraform, say)
 * makes vitest print `Timeout calling "onTaskUpdate"` and fail the whole run, without naming the
 * test. test/unit/no-long-sync-calls.test.ts keeps such calls out; this names any that slips by.
 */
import { afterAll, beforeEach, expect } from "vitest";

const TICK_MS = 1000;
/** A stall this long is reported (well under the 60 s that fails the run). */
const REPORT_MS = 15_000;

let current = "(before the first test)";
let last = Date.now();

/** Reports a stall since the last look; a test that starts right after one looks first, so the stall is put on the test before. */
function look(): void {
  const now = Date.now();
  const stalled = now - last - TICK_MS;
  last = now;
  if (stalled >= REPORT_MS) {
    console.error(
      `[loop-watch] ${expect.getState().testPath ?? "?"}: this worker's event loop was blocked for about ${(stalled / 1000).toFixed(1)} s in: ${current}`,
    );
  }
}

beforeEach(() => {
  look();
  current = expect.getState().currentTestName ?? "(unnamed test)";
});

const timer = setInterval(look, TICK_MS);
timer.unref();

afterAll(() => {
  look();
  clearInterval(timer);
});
