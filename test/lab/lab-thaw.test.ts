/**
 * Lab teardown and paused containers: a process in a frozen cgroup takes no signal, not even
 * SIGKILL, so a `docker pause`d container inside a lab host outlived the host (and kept its veth
 * pair, so the next lab on that subnet could not boot). stopHost thaws first (thawHostProcesses).
 * Here a real process is frozen in a cgroup below a made-up host's cgroup, and thawed. Needs root.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cgroupRoots, thawHostProcesses } from "../../lab/lib/cgroup";
import { sleep } from "../../lab/lib/exec";

const MACHINE = `emslab-thaw-test-${process.pid}`;

describe("lab teardown thaws a host's frozen processes", () => {
  it("thaws the cgroup freezing a process of the host, which then dies of SIGKILL", async () => {
    expect(process.getuid?.(), "this test moves a process between cgroups: run it as root").toBe(0);
    const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
    const hostGroups = cgroupRoots().map((r) => join(r, "ems-ha-lab", MACHINE, "payload"));
    const freezer = v2 ? join(hostGroups[0]!, "frozen") : join("/sys/fs/cgroup/freezer", MACHINE);
    const dirs = [...hostGroups, freezer];
    const child = spawn("sleep", ["300"], { stdio: "ignore" });
    const pid = child.pid!;
    const exited = new Promise<void>((r) => child.on("exit", () => r()));
    try {
      for (const d of dirs) mkdirSync(d, { recursive: true });
      for (const d of v2 ? [freezer] : dirs) writeFileSync(join(d, "cgroup.procs"), String(pid));
      if (v2) writeFileSync(join(freezer, "cgroup.freeze"), "1");
      else writeFileSync(join(freezer, "freezer.state"), "FROZEN");
      const state = (): string => readFileSync(v2 ? join(freezer, "cgroup.freeze") : join(freezer, "freezer.state"), "utf8").trim();
      for (let i = 0; i < 50 && !/^(FROZEN|1)$/.test(state()); i++) await sleep(100);
      expect(state()).toMatch(/^(FROZEN|1)$/);
      // frozen: SIGKILL does not end it
      process.kill(pid, "SIGKILL");
      const early = await Promise.race([exited.then(() => "exited"), sleep(1000).then(() => "still there")]);
      expect(early).toBe("still there");

      const thawed = thawHostProcesses(MACHINE);
      expect(thawed).toEqual([v2 ? join(freezer, "cgroup.freeze") : join(freezer, "freezer.state")]);
      const late = await Promise.race([exited.then(() => "exited"), sleep(5000).then(() => "still there")]);
      expect(late).toBe("exited");
    } finally {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
      await Promise.race([exited, sleep(2000)]);
      for (const d of [...dirs].reverse()) {
        try {
          rmdirSync(d);
        } catch {
          /* already gone */
        }
      }
      for (const r of cgroupRoots()) {
        try {
          rmdirSync(join(r, "ems-ha-lab", MACHINE));
        } catch {
          /* gone, or other hosts use it */
        }
      }
    }
  }, 30_000);
});
