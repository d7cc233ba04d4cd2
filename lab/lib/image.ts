/**
 * The lab's base image: a Debian 12 root file system with systemd, sshd and
 * PostgreSQL 15 + repmgr, built once with debootstrap and cached by a hash of its recipe.
 *
 * The image holds no PostgreSQL cluster and no SSH host keys: every host gets its own
 * (a cluster created from the image would give every DB host the same system
 * identifier, which repmgr's witness registration rejects; shared host keys would make
 * every host look the same to ssh).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LabError, run, runOk, runStreamingOk, sleep } from "./exec";

/** Installed by debootstrap (the minimal Debian with systemd and sshd). */
export const BASE_PACKAGES = [
  "systemd",
  "systemd-sysv",
  "dbus",
  "openssh-server",
  "openssh-client",
  "iproute2",
  "iputils-ping",
  "procps",
  "sudo",
  "locales",
  "less",
] as const;

/** Installed afterwards with apt-get inside the new root (the DB software of docs/background.md#lab-hosts). */
export const DB_PACKAGES = ["postgresql-15", "postgresql-15-repmgr", "logrotate"] as const;

/** Timers that would reach for the internet; lab hosts have none. */
export const MASKED_UNITS = ["apt-daily.timer", "apt-daily-upgrade.timer", "apt-daily.service", "apt-daily-upgrade.service"] as const;

export interface ImageRecipe {
  readonly recipeVersion: number;
  readonly suite: string;
  readonly basePackages: readonly string[];
  readonly dbPackages: readonly string[];
  readonly masked: readonly string[];
}

export const DEFAULT_RECIPE: ImageRecipe = {
  recipeVersion: 1,
  suite: "bookworm",
  basePackages: BASE_PACKAGES,
  dbPackages: DB_PACKAGES,
  masked: MASKED_UNITS,
};

/**
 * Docker DB hosts (the Docker topologies: single-region, geo-redundant, upgrade-7-4-4): Debian's
 * Docker engine instead of the native PostgreSQL packages; the database runs in containers.
 */
export const DOCKER_PACKAGES = ["docker.io", "iptables"] as const;

/** The DB host image of the Docker topologies (cached separately: its own recipe hash). */
export const DOCKER_RECIPE: ImageRecipe = { ...DEFAULT_RECIPE, dbPackages: DOCKER_PACKAGES };

export const DEFAULT_CACHE_DIR = "/var/cache/ems-ha-lab";
export const IMAGE_MARKER = "etc/ems-ha-lab-image.json";

export function recipeHash(recipe: ImageRecipe): string {
  return createHash("sha256").update(JSON.stringify(recipe)).digest("hex").slice(0, 16);
}

export function imageDir(cacheDir: string, recipe: ImageRecipe = DEFAULT_RECIPE): string {
  return join(cacheDir, `rootfs-${recipeHash(recipe)}`);
}

/** A finished image has its marker file (written last, before the atomic rename). */
export function isImageReady(dir: string): boolean {
  return existsSync(join(dir, IMAGE_MARKER));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** An mkdir lock with the owner's PID; a lock whose owner died is taken over. Bounded wait. */
export async function withLock<T>(lockDir: string, waitMs: number, log: (m: string) => void, body: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, "pid"), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = Number(existsSync(join(lockDir, "pid")) ? readFileSync(join(lockDir, "pid"), "utf8") : "NaN");
      if (Number.isInteger(owner) && !pidAlive(owner)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new LabError(`another process (pid ${owner}) holds ${lockDir} for longer than ${waitMs / 1000} s; remove the directory if that process is gone`);
      if (!announced) log(`waiting for another image build (pid ${owner}, lock ${lockDir})`);
      announced = true;
      await sleep(1000);
    }
  }
  try {
    return await body();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function chroot(root: string, script: string, timeoutMs: number): Promise<string> {
  return runStreamingOk("chroot", [root, "/bin/sh", "-ec", script], {
    timeoutMs,
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", LC_ALL: "C.UTF-8", DEBIAN_FRONTEND: "noninteractive", HOME: "/root" },
  });
}

async function buildInto(tmp: string, recipe: ImageRecipe, mirror: string, log: (m: string) => void): Promise<void> {
  const t0 = Date.now();
  log(`debootstrap ${recipe.suite} into ${tmp} (mirror ${mirror})`);
  let lines = 0;
  await runStreamingOk("debootstrap", ["--variant=minbase", `--include=${recipe.basePackages.join(",")}`, recipe.suite, tmp, mirror], {
    timeoutMs: 20 * 60_000,
    onLine: (l) => {
      if (/^I: (Retrieving|Validating|Extracting|Installing|Configuring|Base system)/.test(l) && lines++ % 40 === 0) log(`  ${l}`);
    },
  });
  log(`debootstrap done in ${((Date.now() - t0) / 1000).toFixed(0)} s; installing ${recipe.dbPackages.join(", ")}`);
  // No daemon may start inside the build root.
  writeFileSync(join(tmp, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  runOk("mount", ["-t", "proc", "proc", join(tmp, "proc")]);
  try {
    await chroot(
      tmp,
      [
        "apt-get update -q",
        `apt-get install -y -q --no-install-recommends ${recipe.dbPackages.join(" ")}`,
        // Each DB host creates its own 15/main at lab up (unique system identifier).
        "if [ -d /etc/postgresql/15/main ]; then pg_dropcluster 15 main; fi",
        "apt-get clean",
      ].join("\n"),
      15 * 60_000,
    );
  } finally {
    run("umount", [join(tmp, "proc")]);
  }
  rmSync(join(tmp, "usr/sbin/policy-rc.d"), { force: true });
  await chroot(
    tmp,
    [
      "systemctl enable systemd-networkd.service",
      `systemctl mask ${recipe.masked.join(" ")}`,
      "rm -f /etc/ssh/ssh_host_*",
      "rm -rf /var/lib/apt/lists/*",
      ": > /etc/machine-id",
      "echo 'LANG=C.UTF-8' > /etc/default/locale",
      ": > /etc/resolv.conf",
    ].join("\n"),
    120_000,
  );
  mkdirSync(join(tmp, "etc/ssh/sshd_config.d"), { recursive: true });
  writeFileSync(
    join(tmp, "etc/ssh/sshd_config.d/ems-ha-lab.conf"),
    "# ems-ha lab: key login only\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUseDNS no\n",
  );
  writeFileSync(join(tmp, IMAGE_MARKER), `${JSON.stringify({ ...recipe, builtAt: new Date().toISOString() }, null, 2)}\n`);
}

export interface EnsureImageOptions {
  /** @default $EMS_HA_LAB_CACHE or /var/cache/ems-ha-lab */
  readonly cacheDir?: string;
  /** @default $EMS_HA_LAB_MIRROR or http://deb.debian.org/debian */
  readonly mirror?: string;
  readonly recipe?: ImageRecipe;
  readonly log?: (m: string) => void;
}

/** Returns the path of the base rootfs, building it first when the cache has none. */
export async function ensureImage(opts: EnsureImageOptions = {}): Promise<string> {
  const cacheDir = opts.cacheDir ?? process.env.EMS_HA_LAB_CACHE ?? DEFAULT_CACHE_DIR;
  const mirror = opts.mirror ?? process.env.EMS_HA_LAB_MIRROR ?? "http://deb.debian.org/debian";
  const recipe = opts.recipe ?? DEFAULT_RECIPE;
  const log = opts.log ?? (() => undefined);
  const dir = imageDir(cacheDir, recipe);
  if (isImageReady(dir)) return dir;
  mkdirSync(cacheDir, { recursive: true });
  return withLock(`${dir}.lock`, 30 * 60_000, log, async () => {
    if (isImageReady(dir)) return dir; // built by the process we waited for
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true }); // unfinished leftover
    const t0 = Date.now();
    try {
      await buildInto(tmp, recipe, mirror, log);
      renameSync(tmp, dir);
    } catch (e) {
      run("umount", ["-l", join(tmp, "proc")]);
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    log(`base image ready in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${dir}`);
    return dir;
  });
}
