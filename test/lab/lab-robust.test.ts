/**
 * The lab's robustness without booting a host: a child that exits before reading its input,
 * boot time limits that scale with host count and load, and the PostgreSQL cluster created
 * on the configured port.
 */
import { describe, expect, it } from "vitest";
import { run, runStreaming } from "../../lab/lib/exec";
import { createClusterArgs } from "../../lab/lib/host";
import { bootBudget } from "../../lab/lib/lab";

const BIG = "x".repeat(8 * 1024 * 1024);

describe("exec: a child that exits before reading its input", () => {
  it("runStreaming resolves with the child's exit status (no unhandled EPIPE)", async () => {
    const r = await runStreaming("sh", ["-c", "exit 3"], { input: BIG, timeoutMs: 20_000 });
    expect(r.code).toBe(3);
  });

  it("run returns the child's exit status", () => {
    const r = run("sh", ["-c", "exit 4"], { input: BIG, timeoutMs: 20_000 });
    expect(r.code).toBe(4);
    expect(r.stderr).not.toMatch(/EPIPE/);
  });
});

describe("boot time limit", () => {
  it("grows with the number of hosts and the load per CPU; a given limit wins", () => {
    expect(bootBudget(5, undefined, 0.5, 2).seconds).toBe(135);
    expect(bootBudget(10, undefined, 0.5, 2).seconds).toBe(210);
    expect(bootBudget(5, undefined, 6, 2)).toEqual({ seconds: 405, why: "5 hosts, load 6.0 on 2 CPUs" });
    expect(bootBudget(50, undefined, 100, 1).seconds).toBe(900);
    expect(bootBudget(5, 30)).toEqual({ seconds: 30, why: "as given" });
  });
});

describe("pg_createcluster on the DB hosts", () => {
  it("names the configured port explicitly", () => {
    const args = createClusterArgs("/srv/host", 5432);
    expect(args.slice(0, 2)).toEqual(["/srv/host", "pg_createcluster"]);
    expect(args[args.indexOf("--port") + 1]).toBe("5432");
    expect(args.indexOf("--port")).toBeLessThan(args.indexOf("15"));
  });
});
