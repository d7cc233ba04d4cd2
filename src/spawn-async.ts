/**
 * `spawnSync`'s result without blocking the event loop: a child that runs for minutes (terraform,
 * a synth, an image build) leaves the process free to answer meanwhile (a vitest worker that does
 * not answer its main process for 60 s fails the whole run). Always bounded by a timeout.
 */
import { spawn } from "node:child_process";

export interface SpawnAsyncOptions {
  /** Milliseconds before the child is killed (SIGKILL); the result's error is then ETIMEDOUT, as spawnSync's. */
  readonly timeoutMs: number;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin, which is then closed. */
  readonly input?: string;
  /** Bytes of stdout or stderr beyond which the child is killed (error ENOBUFS, as spawnSync's). @default 64 MiB */
  readonly maxBuffer?: number;
  /** Each chunk of stdout and stderr as it arrives (progress lines). */
  readonly onData?: (chunk: string) => void;
}

export interface SpawnAsyncResult {
  /** Exit status, null when killed by a signal or never started. */
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the child could not start (ENOENT), timed out (ETIMEDOUT) or wrote too much (ENOBUFS). */
  readonly error?: NodeJS.ErrnoException;
}

function errno(code: string, cmd: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`spawn ${cmd} ${code}`), { code });
}

/** Runs `cmd args` to completion; never rejects (see the result's error and status). */
export function spawnAsync(cmd: string, args: readonly string[], opts: SpawnAsyncOptions): Promise<SpawnAsyncResult> {
  const maxBuffer = opts.maxBuffer ?? 64 * 1024 * 1024;
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["pipe", "pipe", "pipe"] });
    const out = { stdout: "", stderr: "" };
    let error: NodeJS.ErrnoException | undefined;
    const stop = (e: NodeJS.ErrnoException): void => {
      error ??= e;
      child.kill("SIGKILL");
    };
    for (const name of ["stdout", "stderr"] as const) {
      child[name].setEncoding("utf8").on("data", (chunk: string) => {
        out[name] += chunk;
        opts.onData?.(chunk);
        if (out[name].length > maxBuffer) stop(errno("ENOBUFS", cmd));
      });
    }
    const timer = setTimeout(() => stop(errno("ETIMEDOUT", cmd)), opts.timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolvePromise({ status: null, signal: null, ...out, error: error ?? e });
    });
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolvePromise({ status, signal, ...out, error });
    });
    // A child that exits before reading its input makes stdin emit EPIPE: without a handler
    // that error would crash the whole process; the child's exit status tells what happened.
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}
