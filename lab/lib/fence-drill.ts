/**
 * The split-brain fencing drill of the lab tests (native and Docker): the primary's host loses its
 * port on the lab bridge while a client on that host keeps inserting into the primary (a row every
 * 0.1 s, each acknowledged one logged with its time) and a client outside writes to whichever data
 * node is writable. Measured: when the successor answers writable, when the isolated primary's
 * PostgreSQL stops (its reconciliation service's fence) and when it last acknowledged a write, how
 * long both took writes (from the promotion to that last write), the rows the
 * isolated node acknowledged after the cut and how many of them the cluster lost, and how long after
 * the link returns the old primary streams from the successor. docs/reliability.md holds the figures.
 */
import { Client } from "pg";
import type { Deployment } from "../../src/config/schema";
import { gatherStatus } from "../../src/ops/status";
import { inRecovery } from "./db-watch";
import { labCliEnv, labSecrets } from "./deploy";
import { TABLE, Writer } from "./drill";
import { LabError, sleep } from "./exec";
import { inHost, labOk, setBridgePort } from "./lab";
import type { LabState } from "./state";

export interface FenceDrillOptions {
  readonly state: LabState;
  readonly d: Deployment;
  /** The primary whose host is cut off. */
  readonly isolated: string;
  /** The data node expected to be promoted. */
  readonly successor: string;
  /** A shell command on the isolated host that runs SQL (its argument, double-quoted) on its PostgreSQL as the superuser. */
  readonly sql: (statement: string) => string;
  /** A shell command on the isolated host that exits 0 while its PostgreSQL runs. */
  readonly running: string;
  /** A shell command on the isolated host whose output is recorded when the fence is seen. @default none */
  readonly atFence?: string;
  /** A shell command run on the isolated host once the fence and the promotion are seen, while the link is still down (e.g. stopping the fenced container, as a host restart would). @default none */
  readonly whileFenced?: string;
  /** A shell command printing repmgrd's recent lines on a host (node names are host names): shown for the successor and every witness when nobody is promoted. */
  readonly repmgrdLog: string;
  readonly log: (m: string) => void;
}

export interface FenceDrillResult {
  readonly promoteS: number;
  readonly fenceS: number;
  /** Seconds from the cut to the isolated node's last acknowledged write (0: none after the cut). */
  readonly lastWriteS: number;
  /** Seconds both the isolated node and the successor took writes: from the promotion to the isolated node's last acknowledged write. */
  readonly bothWritableS: number;
  /** What `atFence` printed. */
  readonly atFence: string;
  /** Whether the isolated node's PostgreSQL was still stopped 15 s after the fence was seen. */
  readonly stillFencedAfter15s: boolean;
  readonly rowsAckedByIsolatedAfterCut: number;
  readonly rowsLostOfIsolated: number;
  readonly outsideAcked: number;
  readonly outsideLost: number;
  /**
   * For each of the outside client's lost rows: when it was acknowledged, in ms relative to the cut
   * (negative: before). Replication is asynchronous, so a commit the primary acknowledged in the
   * instant before its link went can be missing on the successor (docs/reliability.md).
   */
  readonly outsideLostAckMs: number[];
  readonly rejoinS: number;
  /** Rewind records on the isolated node's host. */
  readonly rewindRecords: number;
  /** The isolated node's reconciliation service's FENCE and REPAIR lines. */
  readonly journal: string;
  /** Who promoted the successor: repmgrd, or its reconciliation service (an election repmgrd cancelled). */
  readonly promotedBy: "repmgrd" | "reconciliation service";
  /** When the service promoted: the successor's repmgrd election lines and the service's REPAIR lines. */
  readonly electionLog: string;
}

/**
 * Polls `ems-ha status` every 2 s until `node` streams as a standby and `primary` is the only
 * writable node: the seconds it took, or undefined after `timeoutMs`, with what was last seen.
 */
export async function untilRejoined(
  d: Deployment,
  env: NodeJS.ProcessEnv,
  node: string,
  primary: string,
  timeoutMs: number,
): Promise<{ seconds: number | undefined; last: string }> {
  const start = Date.now();
  let last = "";
  while (Date.now() - start < timeoutMs) {
    const s = await gatherStatus(d, { env });
    const n = s.dbNodes.find((x) => x.name === node);
    last = `${n?.role ?? "?"}, streaming ${String(n?.streaming)}; writable: ${s.writablePrimaries.join(", ") || "none"}`;
    if (n?.role === "standby" && n.streaming && s.writablePrimaries.join() === primary) return { seconds: (Date.now() - start) / 1000, last };
    await sleep(2000);
  }
  return { seconds: undefined, last };
}

/** Runs the drill; the link is always brought back, even when the drill fails. */
export async function fenceDrill(o: FenceDrillOptions): Promise<FenceDrillResult> {
  const { state, d, isolated } = o;
  const secrets = labSecrets(state);
  const env = labCliEnv(secrets);
  const journalOf = () => inHost(state, isolated, "journalctl -u ems-ha-reconcile -n 30 --no-pager").out;

  // fencing is armed once the primary's service has seen a majority
  const armedBy = Date.now() + 120_000;
  while (!/^[1-9]/.test((await labOk(state, isolated, "journalctl -u ems-ha-reconcile --no-pager | grep -c 'fencing armed' || true")).trim())) {
    if (Date.now() > armedBy) throw new LabError(`${isolated}'s reconciliation service did not arm fencing in 120 s:\n${journalOf()}`);
    await sleep(2000);
  }
  await labOk(
    state,
    isolated,
    // dropped first: a lab may run a second drill
    o.sql(
      `drop table if exists ${TABLE}, local_rows; create table ${TABLE} (id bigint primary key, at timestamptz not null default clock_timestamp()); create table local_rows (id bigint primary key)`,
    ),
  );
  // the client on the primary's own host: the rows it gets acknowledged, with the time
  await labOk(
    state,
    isolated,
    `rm -f /root/acked; nohup bash -c 'for i in $(seq 1 100000); do if ${o.sql("insert into local_rows (id) values ($i)")} >/dev/null 2>&1; then echo "$i $(date +%s.%N)" >>/root/acked; fi; sleep 0.1; done' >/dev/null 2>&1 &`,
  );
  const writer = new Writer(
    d,
    d.database.nodes.filter((n) => n.role === "data"),
    secrets.db_password,
  );
  writer.start();
  let cutDown = false;
  try {
    await sleep(4000);
    const cut = Date.now();
    setBridgePort(state, isolated, false);
    cutDown = true;
    o.log(`cut ${isolated}'s port on the lab bridge`);

    let promoted: number | undefined;
    let fenced: number | undefined;
    let atFence = "";
    const deadline = Date.now() + 180_000;
    while ((promoted === undefined || fenced === undefined) && Date.now() < deadline) {
      if (promoted === undefined && (await inRecovery(d, o.successor, secrets.db_password)) === false) promoted = Date.now();
      if (fenced === undefined && inHost(state, isolated, o.running).code !== 0) {
        fenced = Date.now();
        if (o.atFence) atFence = inHost(state, isolated, o.atFence).out.trim();
      }
      await sleep(250);
    }
    if (promoted === undefined) {
      const others = [o.successor, ...d.database.nodes.filter((n) => n.role === "witness").map((n) => n.name)];
      const lines = others.map((h) => `--- ${h}: ${o.repmgrdLog}\n${inHost(state, h, o.repmgrdLog).out}`).join("\n");
      throw new LabError(`${o.successor} was not promoted within 180 s of the cut:\n${lines}`);
    }
    if (fenced === undefined) throw new LabError(`${isolated} did not fence itself within 180 s of the cut:\n${journalOf()}`);
    if (o.whileFenced) {
      o.log(`while fenced, on ${isolated}: ${o.whileFenced}`);
      // through nsenter: the host's link is down
      const r = inHost(state, isolated, o.whileFenced);
      if (r.code !== 0) throw new LabError(`${isolated}: ${o.whileFenced}: exit ${r.code}\n${r.out}`);
    }
    // still fenced a while later: nothing started it again
    await sleep(15_000);
    const stillFencedAfter15s = inHost(state, isolated, o.running).code !== 0;
    const acked = inHost(state, isolated, "cat /root/acked")
      .out.trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ").map(Number) as [number, number]);

    setBridgePort(state, isolated, true);
    cutDown = false;
    // back: the reconciliation service rejoins the old primary to the successor (after recording what it discards)
    const { seconds: rejoinS, last } = await untilRejoined(d, env, isolated, o.successor, 240_000);
    await writer.stop();
    await labOk(state, isolated, "pkill -f 'insert into local_[r]ows' || true");
    if (rejoinS === undefined) throw new LabError(`${isolated} did not rejoin as a standby of ${o.successor} within 240 s (last: ${last}):\n${journalOf()}`);

    const successor = d.database.nodes.find((n) => n.name === o.successor)!;
    const c = new Client({ host: successor.address, port: d.database.port, user: d.database.user, password: secrets.db_password, database: "postgres" });
    await c.connect();
    const present = new Set((await c.query<{ id: string }>("select id from local_rows")).rows.map((r) => Number(r.id)));
    const presentW = new Set((await c.query<{ id: string }>(`select id from ${TABLE}`)).rows.map((r) => Number(r.id)));
    await c.end();
    const records = (await labOk(state, isolated, `ls /var/lib/ems-ha/ | grep -c '^rewind-${isolated}-.*\\.txt$' || true`)).trim();
    const byService = /^[1-9]/.test(
      (await labOk(state, o.successor, "journalctl -u ems-ha-reconcile --no-pager | grep -c 'REPAIR: no data node has answered as primary' || true")).trim(),
    );
    const afterCut = acked.filter(([, t]) => t * 1000 >= cut);
    const lastWrite = afterCut.length > 0 ? Math.max(...afterCut.map(([, t]) => t * 1000)) : cut;
    return {
      promoteS: (promoted - cut) / 1000,
      fenceS: (fenced - cut) / 1000,
      lastWriteS: Math.round(lastWrite - cut) / 1000,
      bothWritableS: Math.max(0, Math.round(lastWrite - promoted) / 1000),
      atFence,
      stillFencedAfter15s,
      rowsAckedByIsolatedAfterCut: afterCut.length,
      rowsLostOfIsolated: acked.filter(([id]) => !present.has(id)).length,
      outsideAcked: writer.acknowledged.length,
      outsideLost: writer.acknowledged.filter((id) => !presentW.has(id)).length,
      outsideLostAckMs: writer.acknowledged.flatMap((id, i) => (presentW.has(id) ? [] : [writer.ackTimes[i]! - cut])),
      rejoinS,
      rewindRecords: Number(records),
      journal: await labOk(state, isolated, "journalctl -u ems-ha-reconcile --no-pager | grep -E 'FENCE|REPAIR' | tail -n 6"),
      promotedBy: byService ? "reconciliation service" : "repmgrd",
      // why repmgrd did not promote: its election lines and the successor's service's repairs
      electionLog: byService
        ? inHost(
            state,
            o.successor,
            `{ ${o.repmgrdLog}; } 2>&1 | grep -aE 'qualified majority|cancelling|visible nodes|promotion candidate|unable to ping|can see the primary|not running on node' | tail -n 8; ` +
              "journalctl -u ems-ha-reconcile --no-pager | grep -E 'REPAIR' | tail -n 4",
          ).out.trim()
        : "",
    };
  } finally {
    if (cutDown) setBridgePort(state, isolated, true);
    await writer.stop();
  }
}

/**
 * How close to the cut an acknowledged row of the outside client may be and still be lost: the
 * isolated primary acknowledges a commit once it is on its own disk and streams it an instant
 * later, so only a row acknowledged around the cut can miss the successor. 1 s is hundreds of
 * times the lab's replication lag; the ack time also carries the drill's own event-loop delay.
 */
export const LAST_INSTANT_MS = 1000;

/** The outside client's lost rows that were not acknowledged in the last instant before the cut (ms relative to it): a loss replication lag does not explain. */
export function lostOutsideTheLastInstant(f: FenceDrillResult): number[] {
  return f.outsideLostAckMs.filter((ms) => Math.abs(ms) > LAST_INSTANT_MS);
}

/**
 * Polls `ems-ha status` every 2 s until `primary` is the only writable node, status gives no reason
 * and `primary`'s reconciliation service has armed its fence: the state a drill starts from.
 */
export async function untilSettled(state: LabState, d: Deployment, env: NodeJS.ProcessEnv, primary: string, timeoutMs = 180_000): Promise<void> {
  const by = Date.now() + timeoutMs;
  for (;;) {
    const s = await gatherStatus(d, { env });
    const armed = inHost(state, primary, "journalctl -u ems-ha-reconcile --no-pager | grep -c 'fencing armed' || true").out.trim();
    if (s.writablePrimaries.join() === primary && s.reasons.length === 0 && /^[1-9]/.test(armed)) return;
    if (Date.now() > by)
      throw new LabError(
        `the cluster did not settle with ${primary} primary in ${timeoutMs / 1000} s: ${JSON.stringify(s.reasons)}; fencing armed on ${primary}: ${armed}`,
      );
    await sleep(2000);
  }
}

export interface CancelledElectionOptions {
  readonly state: LabState;
  readonly d: Deployment;
  /** The ems-ha CLI's environment (passwords, unpinned host keys) for status. */
  readonly env: NodeJS.ProcessEnv;
  /** The primary, cut off together with `witness`. */
  readonly primary: string;
  readonly witness: string;
  /** The standby left alone: its repmgrd cancels the election; its reconciliation service promotes it. */
  readonly standby: string;
  /** A shell command on the standby's host printing repmgrd's whole log. */
  readonly repmgrdLog: string;
  /** A shell command on the primary's host that exits 0 while its PostgreSQL runs. */
  readonly running: string;
  readonly log: (m: string) => void;
}

export interface CancelledElectionResult {
  /** Seconds from the cut until repmgrd on the standby logged that it cancelled its election. */
  readonly cancelS: number;
  /** Seconds from the witness's return until the standby answered writable. */
  readonly promotedS: number;
  /** The standby's reconciliation service's REPAIR and promotion lines. */
  readonly journal: string;
  /** Whether the cut-off primary's PostgreSQL was stopped (its fence) when the standby was promoted. */
  readonly primaryFenced: boolean;
  /** Seconds from the primary's return until it streamed from the promoted standby. */
  readonly rejoinS: number;
}

/**
 * An election repmgrd cancels and does not hold again (docs/reliability.md, "An election repmgrd
 * did not hold"): the primary and the witness lose the lab bridge together, so the standby sees
 * none of its siblings and its repmgrd cancels ("unable to reach a qualified majority"); the
 * witness comes back, and the standby's reconciliation service promotes it after ELECT_AFTER;
 * then the primary, fenced meanwhile, comes back and rejoins it. Links always restored.
 */
export async function cancelledElectionDrill(o: CancelledElectionOptions): Promise<CancelledElectionResult> {
  const { state, d, primary, witness, standby } = o;
  const pw = labSecrets(state).db_password;
  const cancels = () => Number(inHost(state, standby, `{ ${o.repmgrdLog}; } 2>&1 | grep -ac 'qualified majority'`).out.trim() || 0);
  const tail = () => inHost(state, standby, `{ ${o.repmgrdLog}; } 2>&1 | tail -n 30`).out;
  const before = cancels();
  const cut = Date.now();
  setBridgePort(state, primary, false);
  setBridgePort(state, witness, false);
  let cancelS: number;
  let promotedS: number | undefined;
  let journal: string;
  let primaryFenced: boolean;
  try {
    while (cancels() <= before) {
      if (Date.now() - cut > 90_000) throw new LabError(`${standby}'s repmgrd did not cancel its election in 90 s:\n${tail()}`);
      await sleep(1000);
    }
    cancelS = (Date.now() - cut) / 1000;
    o.log(`repmgrd on ${standby} cancelled its election ${cancelS.toFixed(1)} s after the cut`);
    setBridgePort(state, witness, true);
    const back = Date.now();
    while (Date.now() - back < 150_000) {
      if ((await inRecovery(d, standby, pw)) === false) {
        promotedS = (Date.now() - back) / 1000;
        break;
      }
      await sleep(1000);
    }
    journal = inHost(state, standby, "journalctl -u ems-ha-reconcile --no-pager | grep -E 'REPAIR|promot' | tail -n 20").out;
    if (promotedS === undefined) throw new LabError(`${standby} was not promoted within 150 s of the witness's return:\n${journal}\n${tail()}`);
    o.log(
      `${standby} promoted ${promotedS.toFixed(1)} s after the witness answered again (${((Date.now() - cut) / 1000).toFixed(1)} s after the cut)\n${journal}`,
    );
    primaryFenced = inHost(state, primary, o.running).code !== 0;
  } finally {
    setBridgePort(state, witness, true);
    setBridgePort(state, primary, true);
  }
  const rejoined = await untilRejoined(d, o.env, primary, standby, 240_000);
  if (rejoined.seconds === undefined) throw new LabError(`${primary} did not rejoin ${standby} within 240 s (last: ${rejoined.last})`);
  return { cancelS, promotedS, journal, primaryFenced, rejoinS: rejoined.seconds };
}
