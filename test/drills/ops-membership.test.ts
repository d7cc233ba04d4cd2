/**
 * Membership changes on the native lab, each by editing database.nodes and applying with real
 * Terraform while a writer runs: after a switchover (so the primary is no longer the initial one),
 * dbnode-1's host is lost and dbnode-1 is rebuilt at a spare host's address (cloned from the current
 * primary, same repmgr node id, the old registration replaced); a third data node is added; removing
 * the current primary is refused with nothing changed; the third data node is removed (unregistered,
 * its slot dropped, its repmgrd stopped, its data kept). After each: no acknowledged row lost and no
 * other DB node's PostgreSQL restarted (pg_postmaster_start_time). Needs what lab-e2e.test.ts needs.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDeployment } from "../../examples/lab";
import { parseDeployment } from "../../src/config/parse";
import type { DeploymentInput } from "../../src/config/schema";
import { formatApply, labCliEnv, labDeploy, labSecrets, type ApplyResult } from "../../lab/lib/deploy";
import { TABLE, Writer } from "../../lab/lib/drill";
import { sleep } from "../../lab/lib/exec";
import { bootFreshLab, chooseFreshLab } from "../../lab/lib/fresh-lab";
import { stopHost } from "../../lab/lib/host";
import { labDown, labExec } from "../../lab/lib/lab";
import { REPO_ROOT } from "../../lab/lib/paths";
import type { LabState } from "../../lab/lib/state";
import { runCliCaptured, type CliRun } from "../helpers/cli";

// This file's own subnets: 10.235.30-39.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.235.${30 + i}`);

let state: LabState | undefined;
let stateDir = "";
let prefix = "";
let env: NodeJS.ProcessEnv = {};
const log = (m: string): void => console.log(`[ops-membership] ${m}`);

type Node = DeploymentInput["database"]["nodes"][number];

/** The lab deployment with database.nodes edited. */
function withNodes(edit: (nodes: Node[]) => Node[]): DeploymentInput {
  const base = labDeployment(prefix);
  return { ...base, database: { ...base.database, nodes: edit(base.database.nodes.map((n) => ({ ...n }))) } };
}

/** Boots the lab's hosts plus dbnode-3 (.14) and a spare host (.15) no deployment uses at first. */
function bootDeployment(p: string): DeploymentInput {
  const base = labDeployment(p);
  const d1 = base.database.nodes[0]!;
  return {
    ...base,
    database: {
      ...base.database,
      nodes: [...base.database.nodes, { ...d1, name: "dbnode-3", address: `${p}.14` }, { ...d1, name: "spare-1", address: `${p}.15` }],
    },
  };
}

function cli(argv: string[]): Promise<CliRun> {
  return runCliCaptured(argv, REPO_ROOT, env);
}

/** psql as postgres on a lab host (by lab host name), one value. */
async function q(host: string, sql: string, db = "postgres"): Promise<string> {
  const r = await labExec(state!, host, `runuser -u postgres -- psql -X -qAt -d ${db} -c "${sql}"`, { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`${host}: ${sql}: ${r.stderr}`);
  return r.stdout.trim();
}

async function startTimes(hosts: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const h of hosts) out[h] = await q(h, "select pg_postmaster_start_time()");
  return out;
}

async function resetTable(primaryAddress: string): Promise<void> {
  const c = new Client({ host: primaryAddress, port: 5432, user: "postgres", password: labSecrets(state!).db_password, database: "postgres" });
  await c.connect();
  await c.query(`drop table if exists ${TABLE}`);
  await c.query(`create table ${TABLE} (id bigint primary key, at timestamptz not null default clock_timestamp())`);
  await c.end();
}

interface Measured {
  apply: ApplyResult;
  acknowledged: number;
  lost: number;
  gapSeconds: number;
}

/** Applies `input` while a writer inserts into the primary (dbnode-2); counts rows acknowledged vs present. */
async function applyUnderWriter(what: string, input: DeploymentInput): Promise<Measured> {
  const d = parseDeployment(input);
  const primary = d.database.nodes.find((n) => n.name === "dbnode-2")!;
  await resetTable(primary.address);
  const writer = new Writer(d, [primary], labSecrets(state!).db_password);
  writer.start();
  await sleep(2000);
  const started = Date.now();
  let apply: ApplyResult;
  try {
    apply = (await labDeploy(state!, { log: (l) => log(`${what}: ${l}`), deployment: input })).apply;
  } finally {
    await sleep(2000);
    await writer.stop();
  }
  const present = new Set((await q("dbnode-2", `select id from ${TABLE}`)).split("\n").map(Number));
  const lost = writer.acknowledged.filter((id) => !present.has(id)).length;
  const times = writer.ackTimes.filter((t) => t >= started);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  const m = { apply, acknowledged: writer.acknowledged.length, lost, gapSeconds: gap / 1000 };
  log(
    `${what}: apply ${apply.wallSeconds} s (${apply.added} added, ${apply.destroyed} destroyed), ${m.acknowledged} rows acknowledged, ${lost} lost, longest write gap ${m.gapSeconds.toFixed(1)} s, ${writer.errors} writer errors`,
  );
  log(`${what}:\n${formatApply(apply)}`);
  return m;
}

beforeAll(async () => {
  const options = { what: "the membership lab test", candidates: CANDIDATES, deployment: bootDeployment, needTerraform: true, log };
  const chosen = chooseFreshLab(options);
  stateDir = chosen.stateDir;
  prefix = chosen.prefix;
  state = (await bootFreshLab(options, chosen)).state;
  await labDeploy(state, { log, deployment: labDeployment(prefix) });
  const secrets = labSecrets(state);
  env = labCliEnv(secrets);
  const r = await cli(["switchover", "--to", "dbnode-2", "--config", join(state.stateDir, "deployment.json")]);
  expect(r.code, r.err).toBe(0);
}, 1_200_000);

afterAll(async () => {
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("membership changes on the native lab (the primary is dbnode-2, not the initial primary)", () => {
  const replaced = () => withNodes((nodes) => nodes.map((n) => (n.name === "dbnode-1" ? { ...n, address: `${prefix}.15` } : n)));
  // Grown with pinned ids, so that the shrink below renumbers nothing.
  const grown = () => [
    ...replaced().database.nodes.map((n, i) => ({ ...n, nodeId: i + 1 })),
    { ...replaced().database.nodes[0]!, name: "dbnode-3", address: `${prefix}.14`, nodeId: 4 },
  ];

  it("replaces lost dbnode-1 at a new address: cloned from the current primary, same node id, no other node restarted", async () => {
    const before = await startTimes(["dbnode-2", "witness-1"]);
    const lost = state!.hosts.find((h) => h.name === "dbnode-1")!;
    await stopHost(lost);
    log("dbnode-1's host is lost (stopped)");
    const m = await applyUnderWriter("replace", replaced());
    expect(m.lost).toBe(0);
    expect(m.acknowledged).toBeGreaterThan(20);
    expect(await startTimes(["dbnode-2", "witness-1"])).toEqual(before);
    // The new host streams from the current primary; dbnode-1's record (id 1) now points at it: one record, no stale one.
    expect(await q("spare-1", "select status || ' ' || sender_host from pg_stat_wal_receiver")).toBe(`streaming ${prefix}.12`);
    expect(
      await q("dbnode-2", "select node_id || ' ' || type || ' ' || active || ' ' || conninfo from repmgr.nodes where node_name = 'dbnode-1'", "repmgr"),
    ).toMatch(new RegExp(`^1 standby true host=${prefix.replace(/\./g, "\\.")}\\.15 `));
    expect(await q("dbnode-2", "select count(*) from repmgr.nodes", "repmgr")).toBe("3");
    // No other setup was replaced to restart anything; only the re-addressed node was set up from scratch.
    const s = await cli(["status", "--config", join(state!.stateDir, "deployment.json"), "--json"]);
    expect(JSON.parse(s.out).reasons).toEqual([]);
  }, 600_000);

  it("grows by a third data node: cloned and registered as node 4, no other node restarted", async () => {
    const before = await startTimes(["spare-1", "dbnode-2", "witness-1"]);
    const m = await applyUnderWriter(
      "grow",
      withNodes(() => grown()),
    );
    expect(m.lost).toBe(0);
    expect(await startTimes(["spare-1", "dbnode-2", "witness-1"])).toEqual(before);
    expect(await q("dbnode-3", "select status from pg_stat_wal_receiver")).toBe("streaming");
    expect(await q("dbnode-2", "select node_id || ' ' || type || ' ' || active from repmgr.nodes where node_name = 'dbnode-3'", "repmgr")).toBe(
      "4 standby true",
    );
  }, 600_000);

  it("refuses to remove the current primary: the apply fails on every node before anything is written", async () => {
    const before = await startTimes(["spare-1", "dbnode-2", "witness-1", "dbnode-3"]);
    const hba = await labExec(state!, "spare-1", "sha256sum /etc/postgresql/15/main/pg_hba.conf");
    await expect(
      labDeploy(state!, { log: (l) => log(`refuse: ${l}`), deployment: withNodes(() => grown().filter((n) => n.name !== "dbnode-2")) }),
    ).rejects.toThrow(/terraform apply failed/);
    const reason = await labExec(state!, "spare-1", "cat /var/lib/ems-ha/membership-refused");
    expect(reason.stdout).toMatch(/dbnode-2 \(repmgr node id 2\) is the current primary and is no longer in database.nodes: switch over/);
    expect((await labExec(state!, "spare-1", "sha256sum /etc/postgresql/15/main/pg_hba.conf")).stdout).toBe(hba.stdout);
    expect(await startTimes(["spare-1", "dbnode-2", "witness-1", "dbnode-3"])).toEqual(before);
  }, 600_000);

  it("shrinks by dbnode-3: unregistered, its slot dropped, its repmgrd stopped, its data kept; no other node restarted", async () => {
    const before = await startTimes(["spare-1", "dbnode-2", "witness-1"]);
    const m = await applyUnderWriter(
      "shrink",
      withNodes(() => grown().filter((n) => n.name !== "dbnode-3")),
    );
    expect(m.lost).toBe(0);
    expect(await startTimes(["spare-1", "dbnode-2", "witness-1"])).toEqual(before);
    expect(await q("dbnode-2", "select count(*) from repmgr.nodes where node_id = 4", "repmgr")).toBe("0");
    expect(await q("dbnode-2", "select count(*) from pg_replication_slots where slot_name = 'repmgr_slot_4'")).toBe("0");
    let repmgrd = "";
    for (let i = 0; i < 30 && repmgrd !== "inactive disabled"; i++) {
      await sleep(1000);
      const r = await labExec(state!, "dbnode-3", "echo $(systemctl is-active repmgrd) $(systemctl is-enabled repmgrd)");
      repmgrd = r.stdout.trim();
    }
    expect(repmgrd).toBe("inactive disabled");
    // Its data stays: PostgreSQL still runs, read-only, with the rows it had received.
    expect(await q("dbnode-3", "select pg_is_in_recovery()")).toBe("t");
    expect(Number(await q("dbnode-3", `select count(*) from ${TABLE}`))).toBeGreaterThan(0);
    const s = await cli(["status", "--config", join(state!.stateDir, "deployment.json"), "--json"]);
    expect(JSON.parse(s.out).reasons).toEqual([]);
  }, 600_000);
});
