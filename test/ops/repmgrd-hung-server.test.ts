/**
 * A server process that hangs while its host's kernel still answers TCP (a frozen process, a
 * stalled disk, a paused container) leaves repmgrd waiting for ever on the request it had sent:
 * no keepalive or retransmission timeout fires, libpq has no timeout of its own, and repmgrd
 * neither logs nor fails over. The reconciliation service resets such a connection
 * (src/render/native/reconcile.ts, unstick_repmgrd; docs/reliability.md, "A hung server").
 *
 * For real, on loopback: PostgreSQL 15 and repmgrd 5.3 (a primary, a standby, a witness). The
 * backend serving the standby's repmgrd's connection to the primary is stopped (SIGSTOP) first, so
 * that a request is in flight for certain, then the whole primary. Asserted: repmgrd says nothing
 * while it waits; one round of the rendered script names and resets that connection; repmgrd then
 * sees its upstream fail. Needs PostgreSQL 15, repmgr and ss (iproute2); fails naming what is missing.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDeployment } from "../../examples/lab";
import { parseDeployment } from "../../src/config/parse";
import { memberByName } from "../../src/render/native/layout";
import { renderReconcileScript } from "../../src/render/native/reconcile";
import { spawnAsync } from "../../src/spawn-async";
import { reconcileStateOverrides } from "../helpers/reconcile";
import { LoopbackCluster, loopbackPlan, requireTools, type PgNode } from "./lib/loopback-cluster";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let tmp = "";
let cluster: LoopbackCluster;
let pg1: PgNode;
let pg2: PgNode;
const frozen: number[] = [];

const repmgrdLog = (n: PgNode): string => readFileSync(join(n.socketDir, "repmgrd.log"), "utf8");
const repmgrdPid = (n: PgNode): number => Number(readFileSync(join(n.socketDir, "repmgrd.pid"), "utf8").trim());
/** What repmgrd logs once it sees its upstream fail (repmgrd-physical.c). */
const SEES_FAILURE = /unable to (ping|connect to upstream node)/;

/** The ESTABLISHED TCP sockets of a process towards an address: "localport peer" each. */
function socketsOf(pid: number, peer: string): Array<{ localPort: number; line: string }> {
  const out = execFileSync("ss", ["-tnpiH", "dst", peer], { encoding: "utf8", timeout: 10_000 });
  const joined = out.replace(/\n[ \t]+/g, " ").split("\n");
  return joined
    .filter((l) => l.startsWith("ESTAB") && l.includes(`pid=${pid},`))
    .map((l) => ({ localPort: Number(l.split(/\s+/)[3]!.split(":").at(-1)), line: l }));
}

function signal(pids: number[], sig: "SIGSTOP" | "SIGCONT"): void {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      /* gone */
    }
  }
}

beforeAll(async () => {
  requireTools();
  if (spawnSync("ss", ["-V"], { timeout: 10_000 }).status !== 0) throw new Error("ss is missing: apt-get install -y iproute2");
  const plan = await loopbackPlan(3);
  tmp = mkdtempSync(join("/var/tmp", "ems-ha-hung-"));
  chmodSync(tmp, 0o755);
  mkdirSync(join(tmp, "pg"));
  cluster = new LoopbackCluster(join(tmp, "pg"), plan.pgPort, "not-used-here");
  pg1 = await cluster.addPrimary("pg-1", 1, plan.addresses[0]!);
  pg2 = await cluster.addStandby("pg-2", 2, plan.addresses[1]!, pg1);
  const w = await cluster.addWitness("pgw-1", 4, plan.addresses[2]!, pg1);
  for (const n of [pg1, pg2, w]) cluster.startRepmgrd(n);
  await cluster.waitRepmgrd([pg1, pg2, w]);
}, 300_000);

afterAll(() => {
  signal(frozen, "SIGCONT");
  cluster?.stopAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("a repmgrd waiting on a hung server", () => {
  it("is silent until the reconciliation service resets the connection it waits on; then it sees its upstream fail", async () => {
    const pid = repmgrdPid(pg2);
    const primary = `${pg1.address}:${cluster.port}`;
    // repmgrd's connection to its upstream, and the backend serving it
    let conns: Array<{ localPort: number; line: string }> = [];
    for (const by = Date.now() + 20_000; conns.length === 0 && Date.now() < by; await sleep(500)) conns = socketsOf(pid, pg1.address);
    expect(conns.length, "pg-2's repmgrd holds no connection to pg-1").toBeGreaterThan(0);
    const backends = conns.flatMap((c) =>
      cluster.psql(pg1, `select pid from pg_stat_activity where client_port = ${c.localPort}`).split("\n").filter(Boolean).map(Number),
    );
    expect(backends.length).toBeGreaterThan(0);
    const quietSince = repmgrdLog(pg2).length;
    signal(backends, "SIGSTOP");
    frozen.push(...backends);
    // repmgrd's next request (every monitor_interval_secs, 2 s) goes unanswered; then the whole primary hangs
    await sleep(5000);
    const postmaster = Number(readFileSync(join(pg1.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    const children = execFileSync("pgrep", ["-P", String(postmaster)], { encoding: "utf8", timeout: 10_000 })
      .split("\n")
      .filter(Boolean)
      .map(Number);
    frozen.push(postmaster, ...children);
    signal([postmaster, ...children], "SIGSTOP");
    await sleep(12_000);
    // the premise: repmgrd has said nothing for 17 s with its upstream gone, and waits on a request
    expect(repmgrdLog(pg2).slice(quietSince)).not.toMatch(SEES_FAILURE);
    const waiting = socketsOf(pid, pg1.address).filter((c) => {
      const snd = Number(/lastsnd:(\d+)/.exec(c.line)?.[1] ?? -1);
      const rcv = Number(/lastrcv:(\d+)/.exec(c.line)?.[1] ?? -1);
      return snd >= 5000 && rcv > snd;
    });
    expect(
      waiting.length,
      socketsOf(pid, pg1.address)
        .map((c) => c.line)
        .join("\n"),
    ).toBeGreaterThan(0);

    // one round of pg-2's real script: only the reset, after 5 s (UNSTICK_AFTER)
    const d = parseDeployment(labDeployment("10.235.38"));
    const dir = join(tmp, "reconcile");
    mkdirSync(dir, { recursive: true });
    const text = renderReconcileScript(d, memberByName(d, "dbnode-2"));
    writeFileSync(join(dir, "script"), text, { mode: 0o755 });
    writeFileSync(
      join(dir, "overrides.sh"),
      [...reconcileStateOverrides(text, dir), "UNSTICK_AFTER=5", `repmgrd_pids() { echo ${pid}; }`, "reconcile_once() { unstick_repmgrd; }", ""].join("\n"),
    );
    const reset = Date.now();
    const r = await spawnAsync("bash", [join(dir, "script"), "--once"], {
      env: { ...process.env, EMS_HA_RECONCILE_OVERRIDES: join(dir, "overrides.sh") },
      timeoutMs: 60_000,
    });
    const said = `${r.stdout}${r.stderr}`;
    expect(said).toMatch(
      new RegExp(`REPAIR: repmgrd sent a request to ${primary.replace(/\./g, "\\.")} \\d+s ago and has had no answer .*: resetting that connection`),
    );
    expect(said).not.toMatch(/could not reset/);
    // the connection is gone, and repmgrd goes on: it sees its upstream fail
    expect(socketsOf(pid, pg1.address).filter((c) => waiting.some((x) => x.localPort === c.localPort))).toEqual([]);
    let seenS = -1;
    for (const by = Date.now() + 30_000; Date.now() < by; await sleep(500)) {
      if (SEES_FAILURE.test(repmgrdLog(pg2).slice(quietSince))) {
        seenS = (Date.now() - reset) / 1000;
        break;
      }
    }
    console.log(
      `[hung-server] repmgrd saw its upstream fail ${seenS} s after the reset:\n${repmgrdLog(pg2).slice(quietSince).split("\n").slice(0, 4).join("\n")}`,
    );
    expect(seenS, `repmgrd still silent 30 s after the reset:\n${repmgrdLog(pg2).slice(-1500)}`).toBeGreaterThanOrEqual(0);
    expect(existsSync(join(dir, "reconcile-no-ss"))).toBe(false);
  }, 180_000);
});
