/**
 * Split-brain fencing on the native lab, with a real network cut: the primary's link to the lab
 * bridge is taken down (host side of its veth) while a client on the primary's own host keeps
 * writing to it and a client outside writes to whichever node is writable. Measured: when a
 * standby is promoted, when the isolated primary stops accepting writes (the reconciliation
 * service's fence), the time both were writable, the rows the isolated primary acknowledged and
 * how many of them the cluster lost, and the rejoin after the link returns (with the rewind
 * record of what was discarded). Needs what lab-e2e.test.ts needs; fails naming what is missing.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDeployment } from "../../examples/lab";
import { gatherStatus } from "../../src/ops/status";
import { labDeploy, labSecrets } from "../../lab/lib/deploy";
import { deployedDeployment, TABLE, Writer } from "../../lab/lib/drill";
import { sleep } from "../../lab/lib/exec";
import { bootFreshLab, chooseFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labExec } from "../../lab/lib/lab";
import type { LabState } from "../../lab/lib/state";

// Apart from the other lab tests: 10.233.20-29.
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.233.${20 + i}`);

let state: LabState | undefined;
let stateDir = "";
let link = "";
const log = (m: string): void => console.log(`[heal-fence] ${m}`);

/** Runs a command inside a lab host's namespaces from this machine (works while its network is cut). */
function inHost(name: string, command: string): { code: number | null; out: string } {
  const h = state!.hosts.find((x) => x.name === name)!;
  const children = readFileSync(`/proc/${h.pid}/task/${h.pid}/children`, "utf8").trim().split(/\s+/);
  const leader = children[0]!;
  const r = spawnSync("nsenter", ["-t", leader, "-m", "-u", "-i", "-n", "-p", "--", "sh", "-c", command], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

async function ok(host: string, command: string): Promise<string> {
  const r = await labExec(state!, host, command, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${host}: ${command}: exit ${r.code}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

beforeAll(async () => {
  const options = { what: "the fencing lab test", candidates: CANDIDATES, deployment: (p: string) => labDeployment(p), needTerraform: true, log };
  const chosen = chooseFreshLab(options);
  stateDir = chosen.stateDir;
  state = (await bootFreshLab(options, chosen)).state;
  await labDeploy(state, { log });
}, 1_200_000);

afterAll(async () => {
  if (link) spawnSync("ip", ["link", "set", link, "up"]);
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("split-brain fencing with a network cut", () => {
  it("the isolated primary stops accepting writes within a bounded time; it rejoins when the link returns, recording what it discards", async () => {
    const d = deployedDeployment(state!);
    const secrets = labSecrets(state!);
    const env = { ...process.env, EMS_HA_INSECURE_HOST_KEYS: "1", EMS_HA_DB_PASSWORD: secrets.db_password, EMS_HA_REPMGR_PASSWORD: secrets.repmgr_password };
    const node = (n: string) => d.database.nodes.find((x) => x.name === n)!;
    const writable = async (n: string): Promise<boolean> => {
      const c = new Client({
        host: node(n).address,
        port: d.database.port,
        user: d.database.user,
        password: secrets.db_password,
        database: "postgres",
        connectionTimeoutMillis: 1000,
        query_timeout: 2000,
      });
      c.on("error", () => undefined);
      try {
        await c.connect();
        return (await c.query<{ r: boolean }>("select pg_is_in_recovery() as r")).rows[0]!.r === false;
      } catch {
        return false;
      } finally {
        await c.end().catch(() => undefined);
      }
    };

    // fencing is armed once dbnode-1 has seen a majority
    const armedBy = Date.now() + 90_000;
    while (!(await ok("dbnode-1", "journalctl -u ems-ha-reconcile --no-pager | grep -c 'fencing armed' || true")).trim().match(/^[1-9]/)) {
      if (Date.now() > armedBy) throw new Error("dbnode-1's reconciliation service did not arm fencing in 90 s");
      await sleep(2000);
    }
    await ok(
      "dbnode-1",
      `runuser -u postgres -- psql -qAt -c "create table ${TABLE} (id bigint primary key, at timestamptz not null default clock_timestamp()); create table local_rows (id bigint primary key, at timestamptz not null default clock_timestamp())"`,
    );
    // a client on the primary's own host: rows it gets acknowledged, with the time
    await ok(
      "dbnode-1",
      `rm -f /root/acked; nohup bash -c 'for i in $(seq 1 100000); do if runuser -u postgres -- psql -qAt -c "insert into local_rows (id) values ($i)" >/dev/null 2>&1; then echo "$i $(date +%s.%N)" >>/root/acked; fi; sleep 0.1; done' >/dev/null 2>&1 &`,
    );
    const writer = new Writer(
      d,
      d.database.nodes.filter((n) => n.role === "data"),
      secrets.db_password,
    );
    writer.start();
    await sleep(4000);

    const iflink = (await ok("dbnode-1", "cat /sys/class/net/host0/iflink")).trim();
    link = spawnSync("ip", ["-o", "link"], { encoding: "utf8" })
      .stdout.split("\n")
      .find((l) => l.startsWith(`${iflink}:`))!
      .split(":")[1]!
      .trim()
      .split("@")[0]!;
    const cut = Date.now();
    spawnSync("ip", ["link", "set", link, "down"]);
    log(`cut dbnode-1's link ${link}`);

    let promoted: number | undefined;
    let fenced: number | undefined;
    const deadline = Date.now() + 180_000;
    while ((promoted === undefined || fenced === undefined) && Date.now() < deadline) {
      if (promoted === undefined && (await writable("dbnode-2"))) promoted = Date.now();
      if (fenced === undefined && inHost("dbnode-1", "systemctl is-active postgresql@15-main").out.trim() !== "active") fenced = Date.now();
      await sleep(250);
    }
    expect(promoted, "dbnode-2 was not promoted").toBeDefined();
    expect(fenced, "dbnode-1 did not fence itself").toBeDefined();
    const promoteS = (promoted! - cut) / 1000;
    const fenceS = (fenced! - cut) / 1000;
    const bothS = Math.max(0, (fenced! - promoted!) / 1000);
    const acked = inHost("dbnode-1", "cat /root/acked")
      .out.trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ").map(Number) as [number, number]);
    const afterCut = acked.filter(([, t]) => t * 1000 >= cut);

    spawnSync("ip", ["link", "set", link, "up"]);
    link = "";
    // back: the reconciliation service rejoins dbnode-1 to dbnode-2 (after recording what it discards)
    const back = Date.now();
    let rejoinS: number | undefined;
    while (Date.now() - back < 240_000) {
      const s = await gatherStatus(d, { env });
      const n1 = s.dbNodes.find((n) => n.name === "dbnode-1");
      if (n1?.role === "standby" && n1.streaming && s.writablePrimaries.join() === "dbnode-2") {
        rejoinS = (Date.now() - back) / 1000;
        break;
      }
      await sleep(2000);
    }
    await writer.stop();
    expect(rejoinS, "dbnode-1 did not rejoin as a standby of dbnode-2").toBeDefined();
    await ok("dbnode-1", "pkill -f 'insert into local_[r]ows' || true");

    const c = new Client({ host: node("dbnode-2").address, port: d.database.port, user: d.database.user, password: secrets.db_password, database: "postgres" });
    await c.connect();
    const present = new Set((await c.query<{ id: string }>("select id from local_rows")).rows.map((r) => Number(r.id)));
    const presentW = new Set((await c.query<{ id: string }>(`select id from ${TABLE}`)).rows.map((r) => Number(r.id)));
    await c.end();
    const lostLocal = acked.filter(([id]) => !present.has(id)).length;
    const lostOutside = writer.acknowledged.filter((id) => !presentW.has(id)).length;
    const records = (await ok("dbnode-1", "ls /var/lib/ems-ha/ | grep -c '^rewind-dbnode-1-.*\\.txt$' || true")).trim();
    const figures = {
      promoteS,
      fenceS,
      bothWritableS: bothS,
      rowsAckedByIsolatedAfterCut: afterCut.length,
      rowsLostOfIsolated: lostLocal,
      outsideAcked: writer.acknowledged.length,
      outsideLost: lostOutside,
      rejoinS,
      rewindRecords: Number(records),
    };
    log(`figures ${JSON.stringify(figures)}`);
    expect(fenceS).toBeLessThan(60);
    expect(lostOutside).toBe(0);
    // what the isolated primary acknowledged after the cut is what the cluster lost, and a rewind record says so
    expect(lostLocal).toBeLessThanOrEqual(afterCut.length);
    if (lostLocal > 0) expect(Number(records)).toBeGreaterThan(0);
    const journal = await ok("dbnode-1", "journalctl -u ems-ha-reconcile --no-pager | grep -E 'FENCE|REPAIR|REWIND' | tail -5");
    log(journal);
    expect(journal).toMatch(/FENCE: this primary has seen only 0 of the other nodes/);
  }, 900_000);
});
