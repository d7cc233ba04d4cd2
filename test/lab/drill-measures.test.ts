import { describe, expect, it } from "vitest";
import { isAway } from "../../lab/lib/db-watch";
import { lossShape } from "../../lab/lib/drill";

describe("lossShape (what a failover drill lost)", () => {
  const ids = [1, 2, 3, 4, 5];
  const times = [1000, 1100, 1200, 1300, 1400];

  it("nothing missing: no window, a tail trivially", () => {
    expect(lossShape(ids, times, [], 1450)).toEqual({ missingAckedBeforeKillMs: null, missingAreTail: true });
  });

  it("the newest rows missing: a tail, its age the earliest of them", () => {
    expect(lossShape(ids, times, [4, 5], 1450)).toEqual({ missingAckedBeforeKillMs: 150, missingAreTail: true });
  });

  it("an older row missing while a newer one was kept: a hole", () => {
    expect(lossShape(ids, times, [2], 1450)).toEqual({ missingAckedBeforeKillMs: 350, missingAreTail: false });
  });

  it("rows acknowledged after the kill (by the new primary) do not make a tail a hole", () => {
    expect(lossShape([...ids, 6, 7], [...times, 9000, 9100], [5], 1450)).toEqual({ missingAckedBeforeKillMs: 50, missingAreTail: true });
  });
});

describe("isAway (DownProber: when a node counts as away)", () => {
  it("two misses in a row with a definite no; four timeouts; not fewer", () => {
    expect(isAway(["no"])).toBe(false);
    expect(isAway(["timeout", "no"])).toBe(true);
    expect(isAway(["no", "no"])).toBe(true);
    expect(isAway(["timeout", "timeout", "timeout"])).toBe(false);
    expect(isAway(["timeout", "timeout", "timeout", "timeout"])).toBe(true);
  });
});
