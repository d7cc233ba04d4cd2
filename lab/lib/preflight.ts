/**
 * Can this machine boot lab hosts? Every missing tool or permission is named,
 * with the Debian package that provides it, so a CI run fails with a clear message.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { LabError, run } from "./exec";

/** sbin directories are not on every PATH (npm scripts, sudo -E). */
export function ensureSbinOnPath(env: NodeJS.ProcessEnv = process.env): void {
  const parts = (env.PATH ?? "").split(":").filter(Boolean);
  for (const d of ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]) if (!parts.includes(d)) parts.push(d);
  env.PATH = parts.join(":");
}

/** Tools the lab runs, with the Debian package of each. */
export const REQUIRED_TOOLS: ReadonlyArray<{ tool: string; pkg: string }> = [
  { tool: "systemd-nspawn", pkg: "systemd-container" },
  { tool: "debootstrap", pkg: "debootstrap" },
  { tool: "ip", pkg: "iproute2" },
  { tool: "ssh", pkg: "openssh-client" },
  { tool: "ssh-keygen", pkg: "openssh-client" },
  { tool: "mount", pkg: "mount" },
  { tool: "umount", pkg: "mount" },
  { tool: "chroot", pkg: "coreutils" },
];

export function which(tool: string): string | undefined {
  for (const d of (process.env.PATH ?? "").split(":")) {
    if (d && existsSync(join(d, tool))) return join(d, tool);
  }
  return undefined;
}

/** Returns every problem found; empty when the lab can run. `scratchDir` must be on a disk the lab writes to. */
export function preflightProblems(scratchDir: string, tools: ReadonlyArray<{ tool: string; pkg: string }> = REQUIRED_TOOLS): string[] {
  ensureSbinOnPath();
  const problems: string[] = [];
  if (process.getuid?.() !== 0) {
    problems.push("the lab needs root (bridges, overlay mounts and systemd-nspawn need CAP_SYS_ADMIN and CAP_NET_ADMIN): run it as root or with sudo");
    return problems; // the other checks would only repeat this
  }
  for (const { tool, pkg } of tools) {
    if (!which(tool)) problems.push(`${tool} not found on PATH: install the Debian package ${pkg} (apt-get install ${pkg})`);
  }
  if (!existsSync("/sys/fs/cgroup/cgroup.controllers") && !existsSync("/sys/fs/cgroup/systemd")) {
    problems.push("systemd-nspawn needs a cgroup file system at /sys/fs/cgroup (cgroup v2, or v1 with the name=systemd hierarchy); none is mounted");
  }
  mkdirSync(scratchDir, { recursive: true });
  const t = mkdtempSync(join(scratchDir, ".preflight-"));
  try {
    for (const d of ["lower", "upper", "work", "merged"]) mkdirSync(join(t, d));
    const m = run("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${t}/lower,upperdir=${t}/upper,workdir=${t}/work`, `${t}/merged`]);
    if (m.code !== 0)
      problems.push(`overlayfs mount not permitted in ${scratchDir}: ${m.stderr.trim()} (the kernel needs overlay support and the process CAP_SYS_ADMIN)`);
    else run("umount", [`${t}/merged`]);
  } finally {
    rmSync(t, { recursive: true, force: true });
  }
  const br = `emslabpf${process.pid % 100000}`;
  const b = run("ip", ["link", "add", br, "type", "bridge"]);
  if (b.code !== 0) problems.push(`creating a network bridge is not permitted: ${b.stderr.trim()} (needs CAP_NET_ADMIN and the kernel's bridge support)`);
  else run("ip", ["link", "del", br]);
  return problems;
}

export function preflight(scratchDir: string): void {
  const problems = preflightProblems(scratchDir);
  if (problems.length > 0) {
    throw new LabError(`this machine cannot boot lab hosts:\n${problems.map((p) => `  - ${p}`).join("\n")}\nsee docs/lab.md (Requirements)`);
  }
}
