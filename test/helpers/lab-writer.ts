/**
 * Lab tests' view of the data under an operation: SQL on one DB node, and an operation run under
 * the drill's writer (lab/lib/drill.ts), with the longest gap between acknowledged writes and the
 * acknowledged rows missing afterwards.
 */
import { Client } from "pg";
import type { Deployment } from "../../src/config/schema";
import { TABLE, Writer } from "../../lab/lib/drill";
import { sleep } from "../../lab/lib/exec";

/** One query on a DB node as the database user (bounded connect). */
export async function labSql<T>(d: Deployment, password: string, name: string, text: string): Promise<T[]> {
  const node = d.database.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no DB node named ${name}`);
  const c = new Client({ host: node.address, port: d.database.port, user: d.database.user, password, database: "postgres", connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

export interface UnderWriter {
  /** Longest gap between two acknowledged writes from 1 s before the operation, in seconds. */
  readonly gapSeconds: number;
  readonly acked: number;
  /** Acknowledged row ids missing on the primary afterwards. */
  readonly lost: number[];
  /** The figures in one line, for the log and the docs. */
  readonly line: string;
}

/**
 * Runs `action` under a writer that inserts numbered rows into the drill table (emptied first on
 * `primary`) through whichever data node is writable, 3 s before and after it; then reads the rows
 * back on `primaryAfter()`.
 */
export async function underWriter(
  d: Deployment,
  password: string,
  o: { readonly what: string; readonly primary: string; readonly action: () => Promise<void>; readonly primaryAfter: () => string },
): Promise<UnderWriter> {
  // A fresh table: the writer numbers its rows from 1.
  await labSql(d, password, o.primary, `truncate ${TABLE}`);
  const writer = new Writer(
    d,
    d.database.nodes.filter((n) => n.role === "data"),
    password,
  );
  writer.start();
  await sleep(3000);
  const started = Date.now();
  try {
    await o.action();
  } finally {
    await sleep(3000);
    await writer.stop();
  }
  const times = writer.ackTimes.filter((t) => t >= started - 1000);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  const present = new Set((await labSql<{ id: string }>(d, password, o.primaryAfter(), `select id from ${TABLE}`)).map((x) => Number(x.id)));
  const lost = writer.acknowledged.filter((id) => !present.has(id));
  const line = `${o.what}: write outage ${(gap / 1000).toFixed(1)} s, ${writer.acknowledged.length} rows acknowledged, ${lost.length} lost, ${writer.errors} failed attempts, ${((Date.now() - started) / 1000).toFixed(1)} s in all`;
  return { gapSeconds: gap / 1000, acked: writer.acknowledged.length, lost, line };
}
