/**
 * The Docker lab's pure parts: which deployments get Docker DB hosts, the lab's Docker examples,
 * the stand-in tarballs each host receives, the cgroup unit, the nspawn flags, and the CLI's
 * --config refusals. No host is booted here (docker-image.test.ts and docker-single-region.test.ts do).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDeployment } from "../../src/config/parse";
import { spawnAsync } from "../../src/spawn-async";
import labDocker, { labDockerDeployment, type LabImage } from "../../examples/lab-docker";
import { labGeoDockerDeployment } from "../../examples/lab-geo-docker";
import lab from "../../examples/lab";
import singleRegion from "../../examples/single-region";
import geo from "../../examples/geo-redundant";
import upgrade from "../../examples/upgrade-7-4-4";
import standalone from "../../examples/standalone-db";
import type { StandinImage } from "../standins/ems-postgres-ha/build";
import { cgroupScript, cgroupUnit, diskWanted, dockerNspawnArgs, isDockerDeployment, tarballsFor } from "../../lab/lib/docker-host";
import { labKeyPath, REPO_ROOT } from "../../lab/lib/paths";
import { labPrefixOf, plannedHosts } from "../../lab/lib/topology";

const TSX = join(REPO_ROOT, "node_modules/.bin/tsx");
const CLI = join(REPO_ROOT, "lab/cli.ts");
const fake = (tag: "7.4.3" | "7.4.4", hex: string): StandinImage => ({
  tag,
  ref: `ems-postgres-ha-standin:${tag}`,
  path: `/var/cache/x/ems-postgres-ha-standin_${tag}.tar.gz`,
  sha256: hex.repeat(64),
  hostPath: `/root/ems-postgres-ha-standin_${tag}.tar.gz`,
});
const OLD = fake("7.4.3", "a");
const NEW = fake("7.4.4", "b");
const image: LabImage = NEW;

describe("which lab deployments get Docker DB hosts", () => {
  it("the Docker topologies (single-region, geo-redundant, upgrade-7-4-4); not native or standalone", () => {
    expect([singleRegion, geo, upgrade].map((x) => isDockerDeployment(parseDeployment(x)))).toEqual([true, true, true]);
    expect([lab, standalone].map((x) => isDockerDeployment(parseDeployment(x)))).toEqual([false, false]);
  });
});

describe("examples/lab-docker.ts", () => {
  it("is single-region: pg-1, pg-2 data, pgw-1 witness, two EMS hosts, no FortiGate, the ssh engine, on one /24", () => {
    const d = parseDeployment(labDockerDeployment("10.231.17", image));
    expect(d.topology).toBe("single-region");
    expect(d.fortigate).toBeUndefined();
    expect(d.database.docker.engine).toBe("ssh");
    expect(plannedHosts(d).map((h) => `${h.name}:${h.role}:${h.address}`)).toEqual([
      "pg-1:data:10.231.17.11",
      "pg-2:data:10.231.17.12",
      "pgw-1:witness:10.231.17.13",
      "ems-1:ems:10.231.17.21",
      "ems-2:ems:10.231.17.22",
    ]);
    expect(labPrefixOf(plannedHosts(d))).toBe("10.231.17");
    for (const n of [...d.database.nodes, ...d.emsNodes]) expect(n.ssh.privateKeyPath).toBe(labKeyPath("10.231.17"));
    expect(d.database.image).toEqual({ name: "ems-postgres-ha-standin", tag: "7.4.4", source: { kind: "tarball", path: NEW.hostPath, sha256: NEW.sha256 } });
  });

  it("names the cached stand-in tarball with its real sha256 by default", async () => {
    const d = parseDeployment(labDocker);
    const src = d.database.image.source;
    if (src.kind !== "tarball") throw new Error("expected a tarball source");
    // Asynchronous: the first build takes minutes, and a worker blocked for 60 s fails the whole vitest run.
    const images = await spawnAsync(TSX, [join(REPO_ROOT, "test/standins/ems-postgres-ha/build.ts")], { timeoutMs: 1_200_000 });
    expect(images.status, images.stderr).toBe(0);
    const built = (JSON.parse(images.stdout.trim().split("\n").at(-1)!) as StandinImage[]).find((i) => i.tag === "7.4.4")!;
    expect(src).toEqual({ kind: "tarball", path: built.hostPath, sha256: built.sha256 });
    expect(createHash("sha256").update(readFileSync(built.path)).digest("hex")).toBe(built.sha256);
  }, 1_200_000);

  it("tuned failover by default (3 x 2 s), the image's defaults with 'guide'", () => {
    expect(parseDeployment(labDockerDeployment("10.231.17", image)).database.failover).toMatchObject({ reconnectAttempts: 3, reconnectIntervalSeconds: 2 });
    const g = parseDeployment(labDockerDeployment("10.231.17", image, "guide")).database.failover;
    expect([g.profile, g.reconnectAttempts, g.reconnectIntervalSeconds]).toEqual(["default", undefined, undefined]);
  });
});

describe("examples/lab-geo-docker.ts", () => {
  it("is geo-redundant: 3 data + 2 witnesses in dc1/dc2, 3 EMS hosts, on one /24", () => {
    const d = parseDeployment(labGeoDockerDeployment("10.231.18", image));
    expect(d.topology).toBe("geo-redundant");
    expect(d.database.nodes.map((n) => [n.name, n.role, n.location, n.priority])).toEqual([
      ["pg-1", "data", "dc1", 100],
      ["pg-2", "data", "dc1", 100],
      ["pgw-1", "witness", "dc1", undefined],
      ["pg-3", "data", "dc2", 50],
      ["pgw-2", "witness", "dc2", undefined],
    ]);
    expect(d.emsNodes.map((e) => [e.name, e.location])).toEqual([
      ["ems-1", "dc1"],
      ["ems-2", "dc1"],
      ["ems-3", "dc2"],
    ]);
    expect(labPrefixOf(plannedHosts(d))).toBe("10.231.18");
  });
});

describe("stand-in tarballs on the DB hosts", () => {
  const d = parseDeployment(labDockerDeployment("10.231.17", image));
  it("places the tarball whose sha256 the deployment names at its path", () => {
    expect(tarballsFor(d, [OLD, NEW])).toEqual([{ from: NEW.path, to: NEW.hostPath }]);
    const elsewhere = parseDeployment({
      ...labDockerDeployment("10.231.17", image),
      database: {
        ...labDockerDeployment("10.231.17", image).database,
        image: {
          name: "ems-postgres-ha-standin",
          tag: "7.4.4",
          source: { kind: "tarball", path: "/root/forticlientems_postgres-ha.tar.gz", sha256: NEW.sha256 },
        },
      },
    });
    expect(tarballsFor(elsewhere, [OLD, NEW])).toEqual([
      { from: NEW.path, to: NEW.hostPath },
      { from: NEW.path, to: "/root/forticlientems_postgres-ha.tar.gz" },
    ]);
  });
  it("places every variant for upgrade-7-4-4 (the old image too)", () => {
    const u = parseDeployment({
      ...upgrade,
      database: {
        ...upgrade.database,
        image: { name: "ems-postgres-ha-standin", tag: "7.4.4", source: { kind: "tarball", path: NEW.hostPath, sha256: NEW.sha256 } },
      },
    });
    expect(tarballsFor(u, [OLD, NEW]).map((t) => t.to)).toEqual([OLD.hostPath, NEW.hostPath]);
  });
  it("refuses a sha256 the lab did not build, and a registry source, naming them", () => {
    expect(() => tarballsFor(d, [OLD])).toThrow(
      new RegExp(`${NEW.sha256} is not a stand-in image the lab built \\(ems-postgres-ha-standin:7\\.4\\.3: ${OLD.sha256}\\)`),
    );
    const reg = parseDeployment({ ...singleRegion, database: { ...singleRegion.database, image: { source: { kind: "registry" } } } });
    expect(() => tarballsFor(reg, [NEW])).toThrow(/'registry': lab hosts reach no image registry/);
  });
});

describe("Docker host setup", () => {
  it("boots with every capability, the keyring/mount/bpf system calls, /var/lib/docker bound from the real disk", () => {
    expect(dockerNspawnArgs({ dir: "/s/hosts/pg-1" })).toEqual([
      "--capability=all",
      "--system-call-filter=@keyring @mount bpf",
      "--bind=/s/hosts/pg-1/docker:/var/lib/docker",
    ]);
  });
  it("remounts the cgroup v1 controllers read-write in a unit ordered before containerd and docker", () => {
    const s = cgroupScript();
    expect(s).toContain("mount -o remount,rw /sys/fs/cgroup");
    expect(s.match(/umount -l "\/sys\/fs\/cgroup\/\$c"/g)).toHaveLength(2);
    expect(s).toContain('mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"');
    for (const c of ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"]) expect(s).toMatch(new RegExp(`for c in .*\\b${c}\\b`));
    expect(cgroupUnit()).toMatch(/Before=containerd\.service docker\.service[\s\S]*Type=oneshot[\s\S]*RemainAfterExit=yes/);
    // The script is valid shell.
    const dir = mkdtempSync("/tmp/cgroup-script-");
    try {
      writeFileSync(join(dir, "s.sh"), s);
      expect(spawnSync("sh", ["-n", join(dir, "s.sh")], { timeout: 10_000 }).status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("wants more free disk per Docker host than per plain host", () => {
    expect(diskWanted({ hosts: 5, dockerHosts: 3 })).toBeGreaterThan(diskWanted({ hosts: 5, dockerHosts: 0 }) + 3 * 1024 ** 3);
  });
});

describe("lab CLI with --config", () => {
  const cli = (...args: string[]) => spawnAsync(TSX, [CLI, ...args], { timeoutMs: 120_000 });
  const cfg = join(REPO_ROOT, "examples/lab-docker.ts");
  it("deploy and drill find the lab of the config's subnet, and say when it is not up (exit 1)", async () => {
    for (const c of ["deploy", "drill"]) {
      const r = await cli(c, "--config", join(REPO_ROOT, "examples/lab-geo-docker.ts"));
      expect(r.stderr).toMatch(/no lab is up on 10\.231\.18\.0\/24 \(the subnet of the config's hosts\)/);
      expect(r.status).toBe(1);
    }
  }, 120_000);
  it("rejects --config with --subnet or --failover (exit 2)", async () => {
    const a = await cli("deploy", "--config", cfg, "--subnet", "10.231.17");
    expect(a.stderr).toMatch(/give --config or --subnet, not both/);
    expect(a.status).toBe(2);
    const b = await cli("deploy", "--config", cfg, "--failover", "guide");
    expect(b.stderr).toMatch(/--failover applies to the default lab deployment/);
    expect(b.status).toBe(2);
  }, 120_000);
});
