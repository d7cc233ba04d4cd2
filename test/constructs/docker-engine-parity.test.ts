/**
 * One container specification, two transports: for every DB node of several deployments, the
 * container the ssh engine creates (the argv its script really gives `docker run`, captured by the
 * docker stand-in) equals the docker_container the provider engine declares, attribute by attribute.
 * Both sides are reduced to one form through two tables below; an attribute or flag missing from
 * its table fails the test, so a setting added to one engine cannot go unnoticed by the other.
 */
import { describe, expect, it, vi } from "vitest";
import example from "../../examples/single-region";
import geo from "../../examples/geo-redundant";
import type { DeploymentInput } from "../../src/config/schema";
import { imageRef, volumeNameOf } from "../../src/render/bitnami";
import { SECRETS_LABEL, SPEC_LABEL, STOP_TIMEOUT_SECONDS } from "../../src/render/docker-cli";
import { TCP_SYSCTLS } from "../helpers/docker-run";
import { resolveRef, resourcesByPath, synthDeployment, type TfJson } from "../helpers/synth";
import { fakeHost, runArgv, runStep, seedContainer, type FakeHost } from "./docker-engine-harness";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

// Real bash against the docker stand-in: seconds per step on a quiet machine, a minute or more on a
// loaded CI machine (seen: one step past 30 s); the bound is the per-command one of the harness.
vi.setConfig({ testTimeout: 300_000 });

/** The container both engines should produce. */
interface Container {
  name?: string;
  image?: string;
  restart?: string;
  mustRun?: boolean;
  env: string[];
  ports: string[];
  volumes: string[];
  hosts: string[];
  labels: string[];
  shmMb?: number;
  /** Network-namespace kernel settings, "key=value". */
  sysctls: string[];
  logDriver?: string;
  /** The log driver's options, "key=value". */
  logOpts: string[];
  stopTimeout?: number;
  stopSignal?: string;
  /** Seconds a container being replaced or destroyed gets between SIGTERM and SIGKILL. */
  replaceGraceSeconds?: number;
}

const empty = (): Container => ({ env: [], ports: [], volumes: [], hosts: [], labels: [], sysctls: [], logOpts: [] });

type Block = Record<string, unknown>;

/** docker_container attribute -> the container setting (kreuzwerker/docker's schema names). */
const PROVIDER_ATTRIBUTES: Record<string, (v: unknown, c: Container, json: TfJson) => void> = {
  name: (v, c) => (c.name = v as string),
  image: (v, c, json) => (c.image = resolveRef(json, v) as string),
  restart: (v, c) => (c.restart = v as string),
  must_run: (v, c) => (c.mustRun = v as boolean),
  env: (v, c) => c.env.push(...(v as string[])),
  ports: (v, c) =>
    c.ports.push(
      ...(v as Block[]).map(
        (p) =>
          `${p.ip ? `${String(p.ip)}:` : ""}${String(p.external)}:${String(p.internal)}${p.protocol && p.protocol !== "tcp" ? `/${String(p.protocol)}` : ""}`,
      ),
    ),
  volumes: (v, c, json) =>
    c.volumes.push(
      ...(v as Block[]).map((x) => `${String(x.host_path ?? resolveRef(json, x.volume_name))}:${String(x.container_path)}${x.read_only ? ":ro" : ""}`),
    ),
  host: (v, c) => c.hosts.push(...(v as Block[]).map((h) => `${String(h.host)}:${String(h.ip)}`)),
  labels: (v, c) => c.labels.push(...(v as Block[]).map((l) => `${String(l.label)}=${String(l.value)}`)),
  shm_size: (v, c) => (c.shmMb = v as number),
  sysctls: (v, c) => c.sysctls.push(...Object.entries(v as Record<string, string>).map(([k, x]) => `${k}=${x}`)),
  log_driver: (v, c) => (c.logDriver = v as string),
  log_opts: (v, c) => c.logOpts.push(...Object.entries(v as Record<string, string>).map(([k, x]) => `${k}=${x}`)),
  stop_timeout: (v, c) => (c.stopTimeout = v as number),
  stop_signal: (v, c) => (c.stopSignal = v as string),
  destroy_grace_seconds: (v, c) => (c.replaceGraceSeconds = v as number),
};
/** Terraform meta-arguments and cdktf bookkeeping: not container settings. */
const PROVIDER_META = new Set(["provider", "depends_on", "lifecycle", "//", "count", "for_each"]);

/** docker run flag -> the container setting. `envFile` turns --env-file into its lines. */
const RUN_FLAGS: Record<string, (v: string, c: Container, envFile: (path: string) => string[]) => void> = {
  "--name": (v, c) => (c.name = v),
  "--restart": (v, c) => (c.restart = v),
  "--env": (v, c) => c.env.push(v),
  "--env-file": (v, c, envFile) => c.env.push(...envFile(v)),
  "--publish": (v, c) => c.ports.push(v),
  "--volume": (v, c) => c.volumes.push(v),
  "--add-host": (v, c) => c.hosts.push(v),
  "--label": (v, c) => {
    // The spec hash and password fingerprint are the ssh engine's own bookkeeping (what the provider keeps in its state).
    if (!v.startsWith(`${SPEC_LABEL}=`) && !v.startsWith(`${SECRETS_LABEL}=`)) c.labels.push(v);
  },
  "--shm-size": (v, c) => {
    const m = /^(\d+)([mg])$/.exec(v);
    if (!m) throw new Error(`--shm-size ${v}: expected <n>m or <n>g`);
    c.shmMb = Number(m[1]) * (m[2] === "g" ? 1024 : 1);
  },
  "--sysctl": (v, c) => c.sysctls.push(v),
  "--log-driver": (v, c) => (c.logDriver = v),
  "--log-opt": (v, c) => c.logOpts.push(v),
  "--stop-timeout": (v, c) => (c.stopTimeout = Number(v)),
  "--stop-signal": (v, c) => (c.stopSignal = v),
};
/** Flags without a value. --detach: the provider always runs containers detached. */
const RUN_SWITCHES = new Set(["--detach"]);

function fromProvider(json: TfJson, r: Block): Container {
  const c = empty();
  for (const [k, v] of Object.entries(r)) {
    if (PROVIDER_META.has(k)) continue;
    const apply = PROVIDER_ATTRIBUTES[k];
    if (!apply) throw new Error(`docker_container attribute "${k}" has no row in PROVIDER_ATTRIBUTES: add it, and make the ssh engine set the same`);
    apply(v, c, json);
  }
  return c;
}

function fromRunArgv(argv: string[], envFile: (path: string) => string[]): Container {
  const c = empty();
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-")) break;
    if (RUN_SWITCHES.has(a)) continue;
    const apply = RUN_FLAGS[a];
    if (!apply) throw new Error(`docker run flag "${a}" has no row in RUN_FLAGS: add it, and make the provider engine set the same`);
    apply(argv[++i]!, c, envFile);
  }
  c.image = argv[i];
  if (i !== argv.length - 1) throw new Error(`arguments after the image: ${argv.slice(i + 1).join(" ")}`);
  return c;
}

function sorted(c: Container): Container {
  return {
    ...c,
    env: [...c.env].sort(),
    ports: [...c.ports].sort(),
    volumes: [...c.volumes].sort(),
    hosts: [...c.hosts].sort(),
    labels: [...c.labels].sort(),
    sysctls: [...c.sysctls].sort(),
    logOpts: [...c.logOpts].sort(),
  };
}

function withEngine(input: DeploymentInput, engine: "provider" | "ssh"): DeploymentInput {
  return { ...input, database: { ...input.database, docker: { ...input.database.docker, engine } } };
}

/**
 * What the ssh engine creates for one node: its run argv on a fake host where a container of that
 * name (without the spec label) already runs on the node's volume, so the run also shows how the
 * old one is stopped; and whether the step insists that the container runs.
 */
async function sshContainer(step: Block, image: string, name: string): Promise<Container> {
  const host: FakeHost = fakeHost({ [image]: "sha256:image-1" });
  seedContainer(host, name, { mounts: [`${volumeNameOf(name)}:/bitnami/postgresql`], image: "sha256:image-0", running: true });
  const r = await runStep(host, step);
  if (r.status !== 0) throw new Error(`the container script failed: ${r.stderr}`);
  const provs = step.provisioner as Array<Record<string, Block>>;
  // The step's secret file (what Terraform uploads), which the runner places where the script reads it.
  const envProv = provs.find((p) => p.file && String(p.file.destination).endsWith("/secrets/env"))!.file!;
  const envFile = (path: string) => {
    expect(path).toBe(r.envFile);
    return (envProv.content as string).split("\n").filter((l) => l !== "");
  };
  const c = fromRunArgv(runArgv(r.calls), envFile);
  const stop = r.calls.find((x) => x[0] === "stop");
  if (!stop || stop[1] !== "--time") throw new Error(`the old container was not stopped with a grace time: ${JSON.stringify(stop)}`);
  c.replaceGraceSeconds = Number(stop[2]);
  // must_run = false (the provider engine): a container an operator stopped stays stopped at the
  // next plan/apply. terraform_data has no refresh, so the ssh engine never restarts it either.
  c.mustRun = false;
  // Creation still fails when the container does not keep running (both engines: the provider's
  // create waits for the container to start).
  const crashing = fakeHost({ [image]: "sha256:image-1" });
  writeFileSync(join(crashing.state, "run-exits"), "");
  const failed = await runStep(crashing, step);
  if (failed.status === 0 || !/is not running steadily after/.test(failed.stderr))
    throw new Error(`a crashing container did not fail the step: ${failed.stderr}`);
  return c;
}

const DEPLOYMENTS: Array<[string, DeploymentInput]> = [
  ["single-region example", example],
  ["geo-redundant example", geo],
  [
    "single-region, other user/port, explicit failover timing and node ids, registry image",
    {
      ...example,
      database: {
        ...example.database,
        user: "emsadmin",
        port: 6432,
        confDir: "/srv/ems ha/conf.d",
        image: { name: "ems-postgres-ha", tag: "7.4.4", source: { kind: "registry", registry: "registry.example.com/ems/" } },
        failover: { reconnectAttempts: 4, reconnectIntervalSeconds: 3, connectTimeoutSeconds: 2 },
        nodes: example.database.nodes.map((n, i) => ({ ...n, nodeId: 10 + i, location: "dc-a" })),
      },
    },
  ],
  ["single-region, logs of 200 MB x 3", { ...example, database: { ...example.database, docker: { logs: { maxSizeMb: 200, maxFiles: 3 } } } }],
  ["single-region, logs as the Docker daemon says", { ...example, database: { ...example.database, docker: { logs: { driver: "daemon" } } } }],
];

describe("the provider and ssh engines create the same containers", () => {
  for (const [title, input] of DEPLOYMENTS) {
    it(
      title,
      async () => {
        const p = synthDeployment(withEngine(input, "provider"));
        const s = synthDeployment(withEngine(input, "ssh"));
        const topo = p.deployment.topology;
        const containers = resourcesByPath(p.json, "docker_container");
        const steps = resourcesByPath(s.json, "terraform_data");
        expect(p.deployment.database.nodes.length).toBeGreaterThan(0);
        for (const node of p.deployment.database.nodes) {
          const provider = fromProvider(p.json, containers.get(`${topo}/${node.name}/container`)!);
          const ssh = await sshContainer(steps.get(`${topo}/${node.name}/container`)!, imageRef(s.deployment), node.name);
          // Graceful stop: the provider engine sets no stop_timeout today (Docker's 10 s, then SIGKILL);
          // the ssh engine gives STOP_TIMEOUT_SECONDS. Once the provider engine sets one, they must match.
          if (provider.stopTimeout === undefined) {
            expect(ssh.stopTimeout, node.name).toBe(STOP_TIMEOUT_SECONDS);
            delete ssh.stopTimeout;
          }
          // Likewise destroy_grace_seconds (the provider's grace when it replaces a container): the ssh
          // engine's script gives `docker stop --time STOP_TIMEOUT_SECONDS`.
          if (provider.replaceGraceSeconds === undefined) {
            expect(ssh.replaceGraceSeconds, node.name).toBe(STOP_TIMEOUT_SECONDS);
            delete ssh.replaceGraceSeconds;
          }
          expect(sorted(ssh), node.name).toEqual(sorted(provider));
          // Sanity: the comparison covers what matters.
          expect(provider.mustRun, node.name).toBe(false);
          expect(provider.stopSignal, node.name).toBe("SIGINT");
          expect(provider.env.some((e) => e === "POSTGRESQL_PASSWORD=${var.db_password}")).toBe(true);
          // A dead TCP connection into a cut location fails within ~25 s (docs/reliability.md#a-location-cut-and-tcp).
          expect(sorted(provider).sysctls, node.name).toEqual(TCP_SYSCTLS);
          const logs = p.deployment.database.docker.logs;
          if (logs.driver === "daemon") expect([provider.logDriver, provider.logOpts], node.name).toEqual([undefined, []]);
          else
            expect([provider.logDriver, sorted(provider).logOpts], node.name).toEqual([
              "json-file",
              [`max-file=${logs.maxFiles}`, `max-size=${logs.maxSizeMb}m`],
            ]);
        }
        // Two synths of a whole stack: ~10 s alone, over 60 s on 2 cores beside two lab tests.
      },
      300_000,
    );
  }

  it("fails when one side sets something the other does not (the tables are complete)", () => {
    expect(() => fromProvider({ resource: {} }, { name: "x", memory: 512 })).toThrow(/attribute "memory" has no row/);
    expect(() => fromRunArgv(["--memory", "512m", "img"], () => [])).toThrow(/flag "--memory" has no row/);
  });
});
