import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import example from "../../examples/geo-redundant";
import type { DeploymentInput } from "../../src/config/schema";
import { resolveRef, resourcesByPath, synthDeployment, type TfJson } from "../helpers/synth";
import { sysctlsOf, logsOf, withOurs } from "../helpers/docker-run";
import { configError, dependsOn, fileContent, parseDockerRun, refersTo, type DockerFlags } from "./helpers";

/**
 * The guide's five commands with the documented corrections applied (docs/topologies/geo-redundant.md):
 * the region-2 witness is pgw-2 (the guide repeats pgw-1), witnesses carry their data centre's
 * location and --shm-size 1g as in the guide's single-region witness (the geo witness commands omit it),
 * POSTGRES_PASSWORD is the image's alias of POSTGRESQL_PASSWORD, *_DAEMON_USER is dropped (a no-op in
 * the image).
 */
function guideCommands(): Map<string, DockerFlags> {
  const text = readFileSync(join(__dirname, "fixtures/guide-geo-docker-run.txt"), "utf8");
  const out = new Map<string, DockerFlags>();
  for (const block of text.split(/^### /m).slice(1)) {
    const [title, ...rest] = block.split("\n");
    const f = parseDockerRun(rest.join("\n"));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(f.env)) {
      if (/_DAEMON_USER$/.test(k)) continue;
      env[k === "POSTGRES_PASSWORD" ? "POSTGRESQL_PASSWORD" : k] = v;
    }
    f.env = env;
    out.set(title!.trim(), f);
  }
  return out;
}

function corrected(guide: Map<string, DockerFlags>): Map<string, DockerFlags> {
  const pgw2 = guide.get("pgw-2")!;
  // The guide's copy error: its pgw-2 block is pgw-1's.
  expect([pgw2.name, pgw2.env.REPMGR_NODE_NAME, pgw2.env.REPMGR_NODE_NETWORK_NAME, pgw2.volumes[0]]).toEqual([
    "pgw-1",
    "pgw-1",
    "pgw-1",
    "pgw_1_data:/bitnami/postgresql",
  ]);
  expect([pgw2.shm, guide.get("pgw-1")!.shm]).toEqual(["", ""]);
  const fixed = {
    ...pgw2,
    shm: "1g",
    name: "pgw-2",
    env: { ...pgw2.env, REPMGR_NODE_NAME: "pgw-2", REPMGR_NODE_NETWORK_NAME: "pgw-2", REPMGR_NODE_LOCATION: "dc2" },
    volumes: ["pgw_2_data:/bitnami/postgresql"],
  };
  const pgw1 = guide.get("pgw-1")!;
  expect(pgw1.env.REPMGR_NODE_LOCATION).toBeUndefined();
  const all = new Map([...guide, ["pgw-1", { ...pgw1, shm: "1g", env: { ...pgw1.env, REPMGR_NODE_LOCATION: "dc1" } }], ["pgw-2", fixed]]);
  // Every container: the TCP settings that bound a dead connection into a cut location, and the rotated log (not in the guide).
  return new Map([...all].map(([name, f]) => [name, withOurs(f)]));
}

function containerFlags(json: TfJson, c: Record<string, unknown>): DockerFlags {
  const env: Record<string, string> = {};
  for (const e of c.env as string[]) {
    const [k, ...v] = e.split("=");
    env[k!] = /PASSWORD$/.test(k!) ? "<secret>" : v.join("=");
  }
  return {
    name: c.name as string,
    restart: c.restart as string,
    image: resolveRef(json, c.image) as string,
    ports: (c.ports as Array<{ internal: number; external: number }>).map((p) => `${p.external}:${p.internal}`),
    env,
    volumes: (c.volumes as Array<Record<string, string>>).map((v) => `${v.host_path ?? resolveRef(json, v.volume_name)}:${v.container_path}`),
    shm: c.shm_size === 1024 ? "1g" : `${String(c.shm_size)}m`,
    addHosts: (c.host as Array<{ host: string; ip: string }>).map((h) => `${h.host}:${h.ip}`),
    labels: [],
    envFiles: [],
    sysctls: sysctlsOf(c),
    ...logsOf(c),
    stopSignal: c.stop_signal as string,
    stopTimeout: String(c.stop_timeout),
  };
}

describe("geo-redundant stack", () => {
  const { json } = synthDeployment(example);
  const containers = resourcesByPath(json, "docker_container");
  const td = resourcesByPath(json, "terraform_data");

  it("matches the guide's five docker run commands flag by flag, with the documented corrections", () => {
    const expected = corrected(guideCommands());
    expect([...expected.keys()]).toEqual(["pg-1", "pg-2", "pgw-1", "pg-3", "pgw-2"]);
    for (const [name, flags] of expected) {
      const c = containers.get(`geo-redundant/${name}/container`);
      expect(c, `container of ${name}`).toBeDefined();
      expect(containerFlags(json, c!), name).toEqual(flags);
    }
  });

  it("gives every node, witnesses included, its data centre and a distinct repmgr node id", () => {
    const locations = Object.fromEntries(
      [...containers].map(([path, c]) => [path.split("/")[1], (c.env as string[]).find((e) => e.startsWith("REPMGR_NODE_LOCATION="))]),
    );
    expect(locations).toEqual({
      "pg-1": "REPMGR_NODE_LOCATION=dc1",
      "pg-2": "REPMGR_NODE_LOCATION=dc1",
      "pgw-1": "REPMGR_NODE_LOCATION=dc1",
      "pg-3": "REPMGR_NODE_LOCATION=dc2",
      "pgw-2": "REPMGR_NODE_LOCATION=dc2",
    });
    expect(json.output!.locations!.value).toEqual([
      "pg-1: data, location dc1, priority 100, repmgr node id 1001",
      "pg-2: data, location dc1, priority 100, repmgr node id 1002",
      "pgw-1: witness, location dc1, priority 0, repmgr node id 2001",
      "pg-3: data, location dc2, priority 50, repmgr node id 1003",
      "pgw-2: witness, location dc2, priority 0, repmgr node id 2002",
    ]);
  });

  it("installs EMS with every data node in --db_host: ems-1 deploys the DB, ems-2 and ems-3 follow it", () => {
    for (const name of ["ems-1", "ems-2", "ems-3"]) {
      const script = fileContent(td.get(`geo-redundant/${name}/install`), /\/script\.sh$/);
      expect(script).toContain("--db_host 192.168.1.21,192.168.1.22,192.168.2.21 --db_port 5432 --db_user postgres");
      expect(script.includes("--skip_db_deploy")).toBe(name !== "ems-1");
    }
    expect(refersTo(dependsOn(td.get("geo-redundant/ems-1/install")), "terraform_data", "primary-ready_wait")).toBe(true);
    expect(refersTo(dependsOn(td.get("geo-redundant/ems-3/install")), "terraform_data", "ems-1_install")).toBe(true);
    const vip = Object.values(json.resource.fortios_firewall_vip!)[0]!;
    expect((vip.realservers as Array<{ ip: string }>).map((r) => r.ip)).toEqual(["192.168.1.10", "192.168.1.11", "192.168.2.10"]);
  });

  it("derives partner lists and add-hosts from the cluster: a new node appears in every container", () => {
    const input = structuredClone(example) as DeploymentInput;
    input.database.nodes.push({ name: "pg-4", address: "192.168.2.22", role: "data", priority: 50, location: "dc2" });
    const { json: j } = synthDeployment(input);
    for (const c of resourcesByPath(j, "docker_container").values()) {
      expect(c.env).toContain("REPMGR_PARTNER_NODES=pg-1,pg-2,pgw-1,pg-3,pgw-2,pg-4:5432");
      expect(c.host).toContainEqual({ host: "pg-4", ip: "192.168.2.22" });
    }
  });

  it("synthesizes the same JSON twice (a re-apply plans no change)", () => {
    expect(synthDeployment(example).text).toBe(synthDeployment(example).text);
  });

  it("rejects the guide's region-2 witness copy error: a second pgw-1", () => {
    const input = structuredClone(example) as DeploymentInput;
    input.database.nodes[4] = { ...input.database.nodes[4]!, name: "pgw-1" };
    const e = configError(input);
    expect(e.message).toContain("database.nodes[4].name: duplicate node name, already used by database.nodes[2].name");
    expect(e.message).toContain("repmgr node id 2001 is also the id of pgw-1");
    expect(e.message).toContain("pgw-2, not pgw-1");
  });

  it("rejects duplicate addresses and duplicate explicit node ids", () => {
    const dupAddress = structuredClone(example) as DeploymentInput;
    dupAddress.database.nodes[3] = { ...dupAddress.database.nodes[3]!, address: "192.168.1.21" };
    expect(configError(dupAddress).message).toContain("database.nodes[3].address: duplicate address, already used by database.nodes[0].address");
    const dupId = structuredClone(example) as DeploymentInput;
    dupId.database.nodes[3] = { ...dupId.database.nodes[3]!, nodeId: 1001 };
    expect(configError(dupId).message).toContain("repmgr node id 1001 is also the id of pg-1");
  });

  it("rejects a node without a location, and a single location", () => {
    const noLoc = structuredClone(example) as DeploymentInput;
    delete noLoc.database.nodes[4]!.location;
    expect(configError(noLoc).message).toMatch(/database\.nodes\[4\]\.location: .*witnesses included, needs its data centre/);
    const one = structuredClone(example) as DeploymentInput;
    for (const n of one.database.nodes) n.location = "dc1";
    expect(configError(one).message).toContain("spans at least two locations");
  });
});
