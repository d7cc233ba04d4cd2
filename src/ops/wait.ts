/**
 * Waiting, bounded, until exactly one data node answers as a writable primary.
 * The stacks run it before the first EMS install.
 */
import type { Deployment } from "../config/schema";
import { probeDatabase, secretsFromEnv, type PgTimeouts } from "./pg";
import { evaluateDatabase, type DatabaseVerdict } from "./status";

export interface WaitPrimaryOptions extends PgTimeouts {
  readonly env: NodeJS.ProcessEnv;
  /** Milliseconds before giving up. */
  readonly timeoutMs: number;
  /** Milliseconds between two rounds. @default 2000 */
  readonly intervalMs?: number;
  /** Called after each round with a one-line summary. */
  readonly onProgress?: (line: string) => void;
}

export interface WaitPrimaryResult {
  readonly ok: boolean;
  /** The writable primary when ok. */
  readonly primary?: string;
  readonly rounds: number;
  readonly elapsedMs: number;
  /** What the last round saw. */
  readonly last: DatabaseVerdict;
}

/** One line: each data node's role, and why it is not ready yet. */
export function summarizeRound(v: DatabaseVerdict): string {
  const nodes = v.dbNodes.map((n) => `${n.name}=${n.reachable ? n.role : "unreachable"}`).join(" ");
  return v.writablePrimaries.length === 1 ? `${nodes}: primary ${v.writablePrimaries[0]}` : `${nodes}: ${v.reasons[0] ?? "waiting"}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitForPrimary(d: Deployment, opts: WaitPrimaryOptions): Promise<WaitPrimaryResult> {
  const start = Date.now();
  const deadline = start + opts.timeoutMs;
  const interval = opts.intervalMs ?? 2000;
  const secrets = secretsFromEnv(opts.env);
  let rounds = 0;
  for (;;) {
    rounds++;
    // Each round is itself bounded: the connect and statement timeouts never outlast the deadline by much.
    const remaining = Math.max(1000, deadline - Date.now());
    const probes = await probeDatabase(d, {
      secrets,
      repmgr: false,
      connectMs: Math.min(opts.connectMs ?? 4000, remaining),
      statementMs: Math.min(opts.statementMs ?? 5000, remaining),
    });
    const last = evaluateDatabase(d, probes);
    const elapsedMs = Date.now() - start;
    opts.onProgress?.(`[${(elapsedMs / 1000).toFixed(0)} s] ${summarizeRound(last)}`);
    if (last.writablePrimaries.length === 1) return { ok: true, primary: last.writablePrimaries[0], rounds, elapsedMs, last };
    if (Date.now() + interval >= deadline) return { ok: false, rounds, elapsedMs: Date.now() - start, last };
    await sleep(interval);
  }
}
