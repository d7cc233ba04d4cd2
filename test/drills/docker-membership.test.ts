/**
 * Membership changes of a running Docker cluster (single-region, ssh engine, the ems-postgres-ha
 * STAND-IN image; examples/lab-docker.ts applied with real Terraform), each by editing
 * database.nodes and applying while a writer runs, after a switchover (the primary is pg-2, not the
 * initial primary):
 *   - grow: pg-3 joins, cloned from the current primary and registered as node 1003; the other
 *     containers are recreated one at a time for the new partner list;
 *   - removing the current primary is refused before any container is touched;
 *   - shrink: pg-3 leaves, unregistered by the primary's step, its container stopped for good by
 *     its reconciliation service (restart policy no), its volume kept;
 *   - replace: pg-1's host is lost and pg-1 is rebuilt at a spare host's address: cloned from the
 *     current primary under the same node id, the others recreated one at a time for --add-host.
 * After each: no acknowledged row lost, never two DB nodes away at once, `ems-ha status` healthy.
 *
 * Needs root, systemd-nspawn, debootstrap, iproute2, openssh-client and terraform. On a machine
 * without them it FAILS naming what is missing; it is never skipped.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDockerDeployment } from "../../examples/lab-docker";
import { parseDeployment } from "../../src/config/parse";
import type { Deployment, DeploymentInput } from "../../src/config/schema";
import type { ClusterStatus } from "../../src/ops/status";
import { formatApply, labCliEnv, labDeploy, labSecrets, masker, type ApplyResult } from "../../lab/lib/deploy";
import { dbQuery, DownProber, underWriter } from "../../lab/lib/db-watch";
import { waitForWitnessViews } from "../../lab/lib/docker-host";
import { TABLE } from "../../lab/lib/drill";
import { sleep } from "../../lab/lib/exec";
import { startFreshLab } from "../../lab/lib/fresh-lab";
import { stopHost } from "../../lab/lib/host";
import { labDown, labExec } from "../../lab/lib/lab";
import { REPO_ROOT } from "../../lab/lib/paths";
import type { LabState } from "../../lab/lib/state";
import { ensureStandinImages } from "../standins/ems-postgres-ha/build";
import { standinInstall } from "../standins/installer-record";
import { runCliCaptured, type CliRun } from "../helpers/cli";

// This file's own subnets: 10.235.60-69.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.235.${60 + i}`);

type Node = DeploymentInput["database"]["nodes"][number];

let state: LabState | undefined;
let stateDir = "";
let prefix = "";
let base: DeploymentInput;
let env: NodeJS.ProcessEnv = {};
let pw = "";
const figures: string[] = [];
const log = (m: string): void => console.log(`[docker-membership] ${m}`);

function cli(argv: string[]): Promise<CliRun> {
  return runCliCaptured(argv, REPO_ROOT, env);
}

/** The lab deployment with database.nodes edited. */
function withNodes(edit: (nodes: Node[]) => Node[]): DeploymentInput {
  return { ...base, database: { ...base.database, nodes: edit(base.database.nodes.map((n) => ({ ...n }))) } };
}

/** Boots the lab's hosts plus pg-3 (.14) and a spare host (.15) that no deployment uses at first. */
function bootDeployment(p: string, image: Parameters<typeof labDockerDeployment>[1]): DeploymentInput {
  const d = labDockerDeployment(p, image);
  const pg1 = d.database.nodes[0]!;
  return {
    ...d,
    database: { ...d.database, nodes: [...d.database.nodes, { ...pg1, name: "pg-3", address: `${p}.14` }, { ...pg1, name: "spare-9", address: `${p}.15` }] },
  };
}

async function status(): Promise<ClusterStatus> {
  const r = await cli(["status", "--config", join(state!.stateDir, "deployment.json"), "--json"]);
  return JSON.parse(r.out) as ClusterStatus;
}

/** Until status is healthy (bounded). */
async function healthy(seconds: number): Promise<ClusterStatus> {
  let s = await status();
  for (let i = 0; i < seconds / 2 && s.degraded; i++) {
    await sleep(2000);
    s = await status();
  }
  return s;
}

/** One value from psql in the container `container` on lab host `host`. */
async function inContainer(host: string, container: string, sql: string, db = "postgres"): Promise<string> {
  const r = await labExec(state!, host, `docker exec ${container} psql -h /tmp -U postgres -d ${db} -XtAc "${sql}"`, { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`${host}/${container}: ${sql}: ${r.stderr}`);
  return r.stdout.trim();
}

interface Measured {
  apply: ApplyResult;
  lost: number[];
  acked: number;
  gapSeconds: number;
  maxDown: number;
}

/** Applies `input` under a writer and a prober of the DB nodes of `input`. */
async function applyUnderWriter(what: string, input: DeploymentInput): Promise<Measured> {
  const d: Deployment = parseDeployment(input);
  const prober = new DownProber(d, pw);
  let apply: ApplyResult | undefined;
  prober.start();
  const w = await underWriter(
    d,
    pw,
    what,
    async () => {
      apply = (await labDeploy(state!, { log: (l) => log(`${what}: ${l}`), deployment: input })).apply;
    },
    () => "pg-2",
  );
  const { maxDown, downAt } = await prober.stop();
  const line = `${w.line}; apply ${apply!.wallSeconds} s (${apply!.added} added, ${apply!.destroyed} destroyed); at most ${maxDown} DB node(s) away at once (${downAt.join(", ") || "none"})`;
  log(line);
  log(`${what}:\n${formatApply(apply!)}`);
  figures.push(line);
  return { apply: apply!, lost: w.lost, acked: w.acked, gapSeconds: w.gapSeconds, maxDown };
}

/** Longest wait, after the shrink's apply, for pg-3's reconciliation service to retire its container. */
const RETIRE_SECONDS = 120;

/** What pg-3's host says about its retirement: the service's journal, the container's last lines, the primary's records (secrets masked). */
async function whyNotRetired(): Promise<string> {
  const mask = masker(labSecrets(state!));
  const r = await labExec(
    state!,
    "pg-3",
    "systemctl is-active ems-ha-reconcile; ls /var/lib/ems-ha; journalctl -u ems-ha-reconcile -n 60 --no-pager; docker ps -a --format '{{.Names}} {{.Status}}'; docker logs --tail 40 pg-3 2>&1",
    { timeoutMs: 60_000 },
  );
  const nodes = await inContainer(
    "pg-2",
    "pg-2",
    "select string_agg(node_id || ' ' || node_name || ' ' || type || ' ' || active, ', ' order by node_id) from repmgr.nodes",
    "repmgr",
  ).catch((e: Error) => e.message);
  return mask(`pg-3 was not retired within ${RETIRE_SECONDS} s; repmgr.nodes on pg-2: ${nodes}\n${r.stdout}${r.stderr}`);
}

/** The `--db_host` list each EMS node's installer was last run with (the installer STAND-IN's record). */
const emsDbHosts = async (): Promise<Record<string, string[]>> =>
  Object.fromEntries(await Promise.all(["ems-1", "ems-2"].map(async (h) => [h, (await standinInstall(state!, h)).db_host] as const)));

const containerIds = async (hosts: string[]): Promise<Record<string, string>> =>
  Object.fromEntries(await Promise.all(hosts.map(async (h) => [h, (await labExec(state!, h, `docker inspect -f '{{.Id}}' ${h}`)).stdout.trim()] as const)));

beforeAll(async () => {
  const image = (await ensureStandinImages({ log })).find((i) => i.tag === "7.4.4")!;
  const lab = await startFreshLab(
    { what: "the Docker membership lab test", candidates: CANDIDATES, deployment: (p: string) => bootDeployment(p, image), needTerraform: true, log },
    (dir, p) => ((stateDir = dir), (prefix = p)),
  );
  state = lab.state;
  base = labDockerDeployment(prefix, image);
  const deployed = await labDeploy(state, { log, deployment: base });
  log(`apply ${deployed.apply.wallSeconds} s`);
  const secrets = labSecrets(state);
  pw = secrets.db_password;
  env = labCliEnv(secrets);
  const d = parseDeployment(base);
  await waitForWitnessViews((h, c) => labExec(state!, h, c, { timeoutMs: 30_000 }), d);
  await dbQuery(d, "pg-1", pw, `create table if not exists ${TABLE} (id bigint primary key, at timestamptz not null default clock_timestamp())`);
  const r = await cli(["switchover", "--to", "pg-2", "--config", join(state.stateDir, "deployment.json")]);
  expect(r.code, r.err).toBe(0);
}, 1_500_000);

afterAll(async () => {
  if (figures.length > 0) console.log(`docker-membership figures:\n${figures.join("\n")}`);
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("membership changes of a running Docker cluster (ssh engine; the primary is pg-2, not the initial primary)", () => {
  const grown = () => withNodes((nodes) => [...nodes.slice(0, 2), { ...nodes[0]!, name: "pg-3", address: `${prefix}.14` }, ...nodes.slice(2)]);

  it("grows by pg-3: cloned from the current primary, registered as node 1003, the others recreated one at a time, no row lost", async () => {
    const m = await applyUnderWriter("grow by pg-3", grown());
    expect(m.lost).toEqual([]);
    expect(m.acked).toBeGreaterThan(50);
    expect(m.maxDown).toBeLessThanOrEqual(1);
    expect(await inContainer("pg-3", "pg-3", "select status || ' ' || sender_host from pg_stat_wal_receiver")).toBe("streaming pg-2");
    expect(await inContainer("pg-2", "pg-2", "select node_id || ' ' || type || ' ' || active from repmgr.nodes where node_name = 'pg-3'", "repmgr")).toBe(
      "1003 standby true",
    );
    // Every other container carries the new partner list.
    for (const h of ["pg-1", "pg-2", "pgw-1"]) {
      expect((await labExec(state!, h, `docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' ${h}`)).stdout).toContain(
        "REPMGR_PARTNER_NODES=pg-1,pg-2,pg-3,pgw-1:5432",
      );
    }
    // EMS was installed again with the new data node in its --db_host list
    const three = [`${prefix}.11`, `${prefix}.12`, `${prefix}.14`];
    expect(await emsDbHosts()).toEqual({ "ems-1": three, "ems-2": three });
    const s = await healthy(120);
    expect(s.reasons).toEqual([]);
    expect(s.writablePrimaries).toEqual(["pg-2"]);
  }, 600_000);

  it("refuses to remove the current primary: the apply fails before any container is touched, naming the switchover", async () => {
    const hosts = ["pg-1", "pg-2", "pg-3", "pgw-1"];
    const before = await containerIds(hosts);
    await expect(
      labDeploy(state!, { log: (l) => log(`refuse: ${l}`), deployment: withNodes(() => grown().database.nodes.filter((n) => n.name !== "pg-2")) }),
    ).rejects.toThrow(/terraform apply failed/);
    const reason = await labExec(state!, "pg-1", "cat /var/lib/ems-ha/membership-refused");
    expect(reason.stdout).toMatch(/pg-2 \(repmgr node id 1002\) is the current primary and is no longer in database.nodes: switch over/);
    // (deployment.json now holds the refused deployment: the next apply, the shrink, replaces it.)
    expect(await containerIds(hosts)).toEqual(before);
  }, 600_000);

  it("shrinks by pg-3: unregistered by the primary, its container stopped for good by its reconciliation service, its volume kept", async () => {
    const m = await applyUnderWriter("shrink by pg-3", base);
    expect(m.lost).toEqual([]);
    expect(m.maxDown).toBeLessThanOrEqual(1);
    expect(await inContainer("pg-2", "pg-2", "select count(*) from repmgr.nodes where node_id = 1003", "repmgr")).toBe("0");
    expect(await inContainer("pg-2", "pg-2", "select count(*) from pg_replication_slots where slot_name = 'repmgr_slot_1003'")).toBe("0");
    // Retired by its reconciliation service (every 5 s; two looks, then PostgreSQL and the container stop).
    const t0 = Date.now();
    let c = "";
    while (Date.now() - t0 < RETIRE_SECONDS * 1000 && c !== "false no") {
      c = (await labExec(state!, "pg-3", "docker inspect -f '{{.State.Running}} {{.HostConfig.RestartPolicy.Name}}' pg-3")).stdout.trim();
      if (c !== "false no") await sleep(1000);
    }
    log(`pg-3 ${c === "false no" ? "retired" : "NOT retired"} ${((Date.now() - t0) / 1000).toFixed(1)} s after the apply`);
    expect(c, c === "false no" ? "" : await whyNotRetired()).toBe("false no");
    expect((await labExec(state!, "pg-3", "docker volume inspect -f '{{.Name}}' pg_3_data")).stdout.trim()).toBe("pg_3_data");
    expect((await labExec(state!, "pg-3", "cat /var/lib/ems-ha/removed")).code).toBe(0);
    const s = await healthy(120);
    expect(s.reasons).toEqual([]);
  }, 600_000);

  it("replaces pg-1 after its host is lost, at a spare address: cloned from the current primary under node id 1001, the others recreated one at a time", async () => {
    const lost = state!.hosts.find((h) => h.name === "pg-1")!;
    await stopHost(lost);
    log("pg-1's host is lost (stopped)");
    const replaced = withNodes((nodes) => nodes.map((n) => (n.name === "pg-1" ? { ...n, address: `${prefix}.15` } : n)));
    const m = await applyUnderWriter("replace pg-1 at a new address", replaced);
    expect(m.lost).toEqual([]);
    expect(m.maxDown).toBeLessThanOrEqual(1);
    expect(await inContainer("spare-9", "pg-1", "select status || ' ' || sender_host from pg_stat_wal_receiver")).toBe("streaming pg-2");
    expect(
      await inContainer(
        "pg-2",
        "pg-2",
        "select string_agg(node_id || ' ' || node_name || ' ' || type || ' ' || active, ', ' order by node_id) from repmgr.nodes",
        "repmgr",
      ),
    ).toBe("1001 pg-1 standby true, 1002 pg-2 primary true, 2001 pgw-1 witness true");
    // EMS no longer names the lost address: its installer ran again with pg-1's new one
    const moved = [`${prefix}.15`, `${prefix}.12`];
    expect(await emsDbHosts()).toEqual({ "ems-1": moved, "ems-2": moved });
    const s = await healthy(120);
    expect(s.reasons).toEqual([]);
    expect(s.writablePrimaries).toEqual(["pg-2"]);
    // the primary's slot for node 1001 kept WAL while pg-1's host was lost and serves its replacement: in use, nothing to warn of
    expect(s.slots?.find((x) => x.name === "repmgr_slot_1001")).toMatchObject({ node: "pg-1", active: true });
    expect(s.warnings.filter((w) => /replication slot/.test(w))).toEqual([]);
  }, 600_000);
});
