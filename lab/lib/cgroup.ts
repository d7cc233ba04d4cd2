/**
 * A cgroup of its own for every host's systemd-nspawn.
 *
 * systemd-nspawn --keep-unit creates its supervisor/payload cgroups below the cgroup it
 * was started in. Started from the same cgroup (here the root one), every host would share
 * /payload, so their systemd units would share cgroups (one host's stop would remove
 * another's unit cgroup, seen here as "Failed to attach to cgroup"). Each host's nspawn
 * therefore starts in <hierarchy>/ems-ha-lab/<machine> of every writable hierarchy nspawn uses.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const GROUP = "ems-ha-lab";

/** Hierarchies systemd-nspawn places the container in: cgroup v2 alone, or v1 name=systemd + the unified one. */
export function cgroupRoots(): string[] {
  if (existsSync("/sys/fs/cgroup/cgroup.controllers")) return ["/sys/fs/cgroup"];
  return ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"].filter((r) => existsSync(join(r, "cgroup.procs")));
}

/** Creates the host's cgroups; returns their directories (write a PID to <dir>/cgroup.procs to move it). */
export function createHostCgroups(machine: string): string[] {
  return cgroupRoots().map((r) => {
    const d = join(r, GROUP, machine);
    mkdirSync(d, { recursive: true });
    return d;
  });
}

function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
  try {
    rmdirSync(dir); // cgroup directories go with rmdir once they hold no process
  } catch {
    /* still populated or already gone; `down` reports processes separately */
  }
}

/** Removes the host's cgroups (after its processes are gone). */
export function removeHostCgroups(machine: string): void {
  for (const r of cgroupRoots()) {
    removeTree(join(r, GROUP, machine));
    try {
      rmdirSync(join(r, GROUP)); // the last lab host takes the group with it
    } catch {
      /* other lab hosts still use it */
    }
  }
}

/** Reads a file of /proc or /sys; undefined when it is gone (a process that just exited). */
function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Thaws every frozen cgroup that holds a process of the host (a container `docker pause`d inside
 * it): a frozen process takes no signal, not even SIGKILL, so it would outlive the host and keep its
 * network namespace, and with it the host's veth pair (the next lab on the subnet then fails with
 * "Failed to add new veth interfaces ... File exists"). cgroup v1's freezer and v2's cgroup.freeze.
 * Returns the cgroups it thawed.
 */
export function thawHostProcesses(machine: string): string[] {
  const mark = `/${GROUP}/${machine}/`;
  const thawed = new Set<string>();
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    const groups = readOr(`/proc/${pid}/cgroup`);
    if (!groups?.includes(mark)) continue;
    for (const line of groups.split("\n")) {
      const [, controllers, path] = line.split(":");
      if (path === undefined) continue;
      const v1 = controllers === "freezer" ? `/sys/fs/cgroup/freezer${path}/freezer.state` : undefined;
      const v2 = controllers === "" ? `/sys/fs/cgroup${path}/cgroup.freeze` : undefined;
      for (const [file, frozen, thaw] of [
        [v1, /FROZEN|FREEZING/, "THAWED"],
        [v2, /^1/, "0"],
      ] as const) {
        if (!file || thawed.has(file) || !frozen.test(readOr(file) ?? "")) continue;
        try {
          writeFileSync(file, thaw);
          thawed.add(file);
        } catch {
          /* gone meanwhile */
        }
      }
    }
  }
  return [...thawed];
}
