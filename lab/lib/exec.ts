/**
 * Running host commands for the lab: synchronous for quick steps, asynchronous for
 * long ones, every one with a time limit and an error that names the command.
 */
import { spawnSync } from "node:child_process";
import { spawnAsync } from "../../src/spawn-async";

export class LabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LabError";
  }
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Milliseconds before the command is killed. @default 30000 for run (longer steps: runStreaming or spawnAsync, which do not block) */
  readonly timeoutMs?: number;
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

function describe(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
}

/** Runs a command to completion; never throws for a non-zero exit (see `runOk`). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 30_000,
    killSignal: "SIGKILL",
    input: opts.input,
    env: opts.env,
    cwd: opts.cwd,
    maxBuffer: 64 * 1024 * 1024,
  });
  // A child that exits before reading its input is not an error of ours: its exit status counts.
  if (r.error && (r.error as NodeJS.ErrnoException).code === "EPIPE" && r.status !== null) {
    return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }
  if (r.error) {
    const why = (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT" ? `timed out after ${opts.timeoutMs ?? 30_000} ms` : r.error.message;
    return { code: 124, stdout: r.stdout ?? "", stderr: `${r.stderr ?? ""}${describe(cmd, args)}: ${why}` };
  }
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command and throws a LabError with its output when it fails. */
export function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): string {
  const r = run(cmd, args, opts);
  if (r.code !== 0) {
    throw new LabError(`command failed (exit ${r.code}): ${describe(cmd, args)}\n${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** Asynchronous form for long steps (image build): streams output to `onLine`, bounded by timeoutMs. */
export async function runStreaming(cmd: string, args: readonly string[], opts: RunOptions & { onLine?: (line: string) => void } = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 600_000;
  let pending = "";
  const onLine = opts.onLine;
  const onData = onLine
    ? (chunk: string): void => {
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const l of lines) onLine(l);
      }
    : undefined;
  const r = await spawnAsync(cmd, args, { timeoutMs, env: opts.env, cwd: opts.cwd, input: opts.input, onData });
  if (r.error?.code === "ETIMEDOUT")
    return { code: r.status ?? 128, stdout: r.stdout, stderr: `${r.stderr}\n${describe(cmd, args)}: timed out after ${timeoutMs} ms` };
  if (r.error) return { code: 127, stdout: r.stdout, stderr: `${r.stderr}${describe(cmd, args)}: ${r.error.message}` };
  return { code: r.status ?? (r.signal ? 128 : 1), stdout: r.stdout, stderr: r.stderr };
}

export async function runStreamingOk(cmd: string, args: readonly string[], opts: RunOptions & { onLine?: (line: string) => void } = {}): Promise<string> {
  const r = await runStreaming(cmd, args, opts);
  if (r.code !== 0) {
    const tail = (r.stderr || r.stdout).trim().split("\n").slice(-30).join("\n");
    throw new LabError(`command failed (exit ${r.code}): ${describe(cmd, args)}\n${tail}`);
  }
  return r.stdout;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns a value other than undefined, at most `timeoutMs`.
 * Returns undefined when time runs out (the caller reports what it waited for).
 */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) return undefined;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}
