/**
 * Watching a lab's DB nodes while an operation runs: a writer's longest gap between
 * acknowledgements and the acknowledged rows missing afterwards (underWriter), and how many DB
 * nodes do not answer a query at once (DownProber). Used by the Docker operation lab tests.
 */
import { Client } from "pg";
import type { Deployment } from "../../src/config/schema";
import { TABLE, Writer } from "./drill";
import { sleep } from "./exec";

function dbClient(d: Deployment, address: string, password: string, timeoutMs: number): Client {
  const c = new Client({
    host: address,
    port: d.database.port,
    user: d.database.user,
    password,
    database: "postgres",
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  c.on("error", () => undefined);
  return c;
}

/** One query on the DB node `name` of `d` (as database.user). */
export async function dbQuery<T>(d: Deployment, name: string, password: string, text: string): Promise<T[]> {
  const node = d.database.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no DB node ${name} in the deployment`);
  const c = dbClient(d, node.address, password, 3000);
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** pg_is_in_recovery() of a DB node; undefined when it does not answer. */
export async function inRecovery(d: Deployment, name: string, password: string): Promise<boolean | undefined> {
  try {
    return (await dbQuery<{ r: boolean }>(d, name, password, "select pg_is_in_recovery() as r"))[0]!.r;
  } catch {
    return undefined;
  }
}

/** The data node that answers as the primary, or undefined. */
export async function writablePrimary(d: Deployment, password: string): Promise<string | undefined> {
  const data = d.database.nodes.filter((n) => n.role === "data");
  const r = await Promise.all(data.map((n) => inRecovery(d, n.name, password)));
  return data.find((_, i) => r[i] === false)?.name;
}

/**
 * Every second: which of the watched DB nodes do not answer `select 1` (each look is a new
 * connection to every node, a backend each: more often only loads the lab machine). A node counts as
 * away only once it has answered during the watch (a node still being created is not away), and
 * only when it missed looks in a row: two, one of them a definite "no" (refused, shutting down,
 * starting up: a container being replaced), or four timeouts (1.5 s each). On the shared lab
 * machine every node can miss a look or two by timeout under load (seen: two nodes "away" at once
 * in a CI run where nothing was replaced together), while a container's replacement refuses for
 * many looks.
 */
export class DownProber {
  maxDown = 0;
  /** Each new set of nodes away, in order ("pg-1", "pg-2+pgw-1"). */
  readonly downAt: string[] = [];
  private running = false;
  private done?: Promise<void>;

  constructor(
    private readonly d: Deployment,
    private readonly password: string,
  ) {}

  start(): void {
    this.running = true;
    this.done = this.loop();
  }

  async stop(): Promise<{ maxDown: number; downAt: string[] }> {
    this.running = false;
    await this.done;
    return { maxDown: this.maxDown, downAt: this.downAt };
  }

  private async answers(address: string): Promise<Look> {
    const c = dbClient(this.d, address, this.password, 1500);
    try {
      await c.connect();
      await c.query("select 1");
      return "up";
    } catch (e) {
      return /timeout|timed out/i.test(String((e as Error)?.message ?? e)) ? "timeout" : "no";
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  private async loop(): Promise<void> {
    const seen = new Set<string>();
    const misses = new Map<string, Look[]>();
    const deadline = Date.now() + 1_200_000;
    while (this.running && Date.now() < deadline) {
      const nodes = this.d.database.nodes;
      const looks = await Promise.all(nodes.map((n) => this.answers(n.address)));
      nodes.forEach((n, i) => {
        if (looks[i] === "up") {
          seen.add(n.name);
          misses.delete(n.name);
        } else if (seen.has(n.name)) misses.set(n.name, [...(misses.get(n.name) ?? []), looks[i]!]);
      });
      const down = [...misses].filter(([, m]) => isAway(m)).map(([n]) => n);
      if (down.length > 0 && this.downAt.at(-1) !== down.join("+")) this.downAt.push(down.join("+"));
      this.maxDown = Math.max(this.maxDown, down.length);
      await sleep(1000);
    }
  }
}

/** One look at a node: it answered, it said no (refused, an error), or it did not answer in time. */
export type Look = "up" | "no" | "timeout";

/** Whether the misses in a row (oldest first) make a node away; see DownProber. */
export function isAway(missesInARow: ReadonlyArray<Look>): boolean {
  return (missesInARow.length >= 2 && missesInARow.includes("no")) || missesInARow.length >= 4;
}

export interface WriterOutcome {
  /** Longest gap between two acknowledged inserts, s. */
  readonly gapSeconds: number;
  readonly acked: number;
  /** Acknowledged ids missing on the primary afterwards. */
  readonly lost: number[];
  /** A one-line summary for the figures. */
  readonly line: string;
}

/**
 * Runs `action` while a writer inserts into whichever data node of `d` is writable (into a
 * truncated TABLE, so ids start at 1); then the acknowledged rows missing on `primaryAfter()`.
 */
export async function underWriter(
  d: Deployment,
  password: string,
  what: string,
  action: () => Promise<void>,
  primaryAfter: () => string,
): Promise<WriterOutcome> {
  const primary = await writablePrimary(d, password);
  if (!primary) throw new Error(`${what}: no data node answers as the primary before the writer starts`);
  await dbQuery(d, primary, password, `truncate ${TABLE}`);
  const writer = new Writer(
    d,
    d.database.nodes.filter((n) => n.role === "data"),
    password,
  );
  writer.start();
  await sleep(3000);
  const started = Date.now();
  try {
    await action();
  } finally {
    await sleep(3000);
    await writer.stop();
  }
  const times = writer.ackTimes.filter((t) => t >= started - 1000);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  const present = new Set((await dbQuery<{ id: string }>(d, primaryAfter(), password, `select id from ${TABLE}`)).map((x) => Number(x.id)));
  const lost = writer.acknowledged.filter((id) => !present.has(id));
  const line = `${what}: write outage ${(gap / 1000).toFixed(1)} s, ${writer.acknowledged.length} rows acknowledged, ${lost.length} lost, ${writer.errors} failed attempts, ${((Date.now() - started) / 1000).toFixed(1)} s in all`;
  return { gapSeconds: gap / 1000, acked: writer.acknowledged.length, lost, line };
}
