import { describe, expect, it } from "vitest";
import { isAway } from "../../lab/lib/db-watch";
import { execFileSync } from "node:child_process";
import { failoverBound, killedAt, lossShape, nodeControl } from "../../lab/lib/drill";
import { labDockerDeployment } from "../../examples/lab-docker";
import { PROMOTION_SECONDS, rtoBudget } from "../../src/analysis/rto";
import { failoverTiming } from "../../src/config/derive";
import { parseDeployment } from "../../src/config/parse";

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

describe("the drill's kill time (when PostgreSQL went down, not when the stop command returned)", () => {
  it("reads the time the stop command printed, and falls back only when it printed none", () => {
    expect(killedAt("false\nEMS_HA_DRILL_KILLED_AT=1795000000123\n", 5)).toBe(1795000000123);
    expect(killedAt("false\n", 5)).toBe(5);
    expect(killedAt("x EMS_HA_DRILL_KILLED_AT=1795000000123\n", 5)).toBe(5);
  });

  it("every stop command prints it right after the kill, before the slower stop that follows", () => {
    for (const topology of ["native-single-region", "single-region"] as const) {
      for (const mode of ["immediate", "kill"] as const) {
        const cmd = nodeControl({ topology }).stop(mode, "dbnode-1");
        const mark = cmd.indexOf("echo EMS_HA_DRILL_KILLED_AT=");
        expect(mark, `${topology} ${mode}: ${cmd}`).toBeGreaterThan(0);
        expect(cmd.slice(mark), `${topology} ${mode}`).toMatch(/(systemctl stop|docker inspect|docker stop)/);
        expect(cmd.slice(0, mark), `${topology} ${mode}`).toMatch(/(pg_ctl|systemctl kill|docker kill)/);
        // the marker as bash prints it parses to now
        const echo = /echo EMS_HA_DRILL_KILLED_AT=\$\(date \+%s%3N\)/.exec(cmd)![0];
        const before = Date.now();
        const out = execFileSync("bash", ["-c", echo], { encoding: "utf8", timeout: 10_000 });
        const t = killedAt(out, -1);
        expect(t).toBeGreaterThanOrEqual(before - 5);
        expect(t).toBeLessThanOrEqual(Date.now() + 5);
      }
    }
  });
});

describe("failoverBound (how long a drill's failover may take by the RTO model)", () => {
  it("is the report's DB-primary-lost line, and that plus one election rerun", () => {
    const d = parseDeployment(labDockerDeployment(), "lab-docker");
    const db = rtoBudget(d).classes.find((l) => l.id === "db-primary-lost")!;
    const t = failoverTiming(d);
    const b = failoverBound(d);
    expect(b.firstElection).toBe(db.seconds);
    expect(b.oneRerun - b.firstElection).toBe(t.electionRerunIntervalSeconds + db.seconds - PROMOTION_SECONDS);
    // the lab's tuned timing: 2 s + (3 - 1) x 2 s + 3 x 2 s before the promotion
    expect(b.oneRerun - b.firstElection - t.electionRerunIntervalSeconds).toBe(2 + 4 + 6);
  });
});
