/**
 * Running one command on a host over SSH (ssh2), bounded in time, with the
 * deployment's ssh settings and the host key policy of known-hosts.ts.
 *
 * Authentication: the node's privateKeyPath (a leading ~ is expanded), else the
 * ssh agent at $SSH_AUTH_SOCK. Encrypted keys need the agent.
 */
import { readFileSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import type { SshSettings } from "../config/schema";
import {
  decideHostKey,
  expandHome,
  hostKeyAlgorithms,
  hostKeyPolicyFromEnv,
  knownKeys,
  readKnownHosts,
  recordHostKey,
  type HostKeyPolicy,
} from "./known-hosts";

export interface SshHost {
  /** Node name, for messages. */
  readonly name: string;
  readonly address: string;
  readonly ssh: SshSettings;
}

export interface SshExecOptions {
  /** Environment: SSH_AUTH_SOCK, HOME, EMS_HA_KNOWN_HOSTS, EMS_HA_INSECURE_HOST_KEYS. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Milliseconds to connect and log in. @default 10000 */
  readonly connectTimeoutMs?: number;
  /** Milliseconds for the whole call (connect + command). @default 60000 */
  readonly timeoutMs?: number;
  /** Overrides the policy taken from env. */
  readonly hostKeyPolicy?: HostKeyPolicy;
}

export interface SshResult {
  /** Exit code of the command (null when it ended by a signal). */
  readonly code: number | null;
  readonly signal?: string;
  readonly stdout: string;
  readonly stderr: string;
}

/** The host could not be reached, logged in to, or the command did not finish in time. */
export class SshError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SshError";
  }
}

const MAX_OUTPUT = 4 * 1024 * 1024;

function authConfig(host: SshHost, env: NodeJS.ProcessEnv): Pick<ConnectConfig, "privateKey" | "agent"> {
  const agent = env.SSH_AUTH_SOCK || undefined;
  if (host.ssh.privateKeyPath) {
    const path = expandHome(host.ssh.privateKeyPath, env);
    let privateKey: Buffer;
    try {
      privateKey = readFileSync(path);
    } catch (e) {
      throw new SshError(`${host.name}: cannot read the private key ${path} (ssh.privateKeyPath): ${(e as Error).message}`);
    }
    return { privateKey, agent };
  }
  if (!agent) {
    throw new SshError(`${host.name}: no way to log in: set ssh.privateKeyPath for the node or start an ssh agent (SSH_AUTH_SOCK)`);
  }
  return { agent };
}

/** Runs `command` on the host; resolves with its exit code and output (a non-zero exit does not reject). */
export function sshExec(host: SshHost, command: string, opts: SshExecOptions = {}): Promise<SshResult> {
  return runOnHost(host, command, opts, (stream, done) => {
    let stdout = "";
    let stderr = "";
    stream.on("data", (d: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += d.toString("utf8");
    });
    stream.stderr.on("data", (d: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += d.toString("utf8");
    });
    stream.on("close", (code: number | null, signal?: string) => done({ code: code ?? null, signal: signal || undefined, stdout, stderr }));
  });
}

export interface SshStreamOptions extends SshExecOptions {
  /** Written to the command's standard input, which is then closed (a secret the command reads, never an argument). */
  readonly stdin?: string;
  /** Called with the number of bytes written so far, at most every `progressMs`. */
  readonly onProgress?: (bytes: number) => void;
  /** @default 10000 */
  readonly progressMs?: number;
}

/** Calls `onProgress` with the byte count at most every `progressMs` (10 s). */
function progressReporter(opts: { readonly onProgress?: (bytes: number) => void; readonly progressMs?: number }): (bytes: number) => void {
  let reported = 0;
  const every = opts.progressMs ?? 10_000;
  return (bytes) => {
    const now = Date.now();
    if (opts.onProgress && now - reported >= every) {
      reported = now;
      opts.onProgress(bytes);
    }
  };
}

/**
 * Runs `command` on the host with its standard output piped into `sink` (with back-pressure: a slow
 * disk slows the transfer down instead of filling memory); `sink` is not ended. Resolves with the
 * exit code, the bytes written and the standard error (bounded); `stdout` is empty.
 */
export function sshExecTo(host: SshHost, command: string, sink: Writable, opts: SshStreamOptions = {}): Promise<SshResult & { readonly bytes: number }> {
  let bytes = 0;
  return runOnHost(host, command, opts, (stream, done, fail) => {
    let stderr = "";
    const progress = progressReporter(opts);
    stream.on("data", (d: Buffer) => {
      bytes += d.length;
      progress(bytes);
    });
    stream.pipe(sink, { end: false });
    sink.on("error", (e: Error) => fail(new SshError(`${host.name}: cannot write what the command prints: ${e.message}`)));
    stream.stderr.on("data", (d: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += d.toString("utf8");
    });
    stream.on("close", (code: number | null, signal?: string) => done({ code: code ?? null, signal: signal || undefined, stdout: "", stderr }));
    stream.end(opts.stdin ?? "");
  }).then((r) => ({ ...r, bytes }));
}

export interface SshFeedOptions extends SshExecOptions {
  /** Written to the command's standard input before `source` (a secret the command reads first, never an argument). */
  readonly prefix?: string;
  /** Called with the number of bytes of `source` sent so far, at most every `progressMs`. */
  readonly onProgress?: (bytes: number) => void;
  /** @default 10000 */
  readonly progressMs?: number;
}

/**
 * Runs `command` on the host with `prefix` and then `source` piped into its standard input (with
 * back-pressure: nothing is read faster than the host takes it), which is closed at the end of
 * `source`. Resolves with the exit code, the output (bounded) and the bytes of `source` sent.
 */
export function sshExecFrom(host: SshHost, command: string, source: Readable, opts: SshFeedOptions = {}): Promise<SshResult & { readonly bytes: number }> {
  let bytes = 0;
  return runOnHost(host, command, opts, (stream, done, fail) => {
    let stdout = "";
    let stderr = "";
    const progress = progressReporter(opts);
    stream.on("data", (d: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += d.toString("utf8");
    });
    stream.stderr.on("data", (d: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += d.toString("utf8");
    });
    stream.on("close", (code: number | null, signal?: string) => done({ code: code ?? null, signal: signal || undefined, stdout, stderr }));
    source.on("data", (d: Buffer | string) => {
      bytes += d.length;
      progress(bytes);
    });
    source.on("error", (e: Error) => fail(new SshError(`${host.name}: cannot read what the command is given: ${e.message}`)));
    // a command that ends before it read everything: the channel's close reports its exit code
    stream.on("error", () => undefined);
    if (opts.prefix) stream.write(opts.prefix);
    source.pipe(stream);
  }).then(
    (r) => {
      source.destroy();
      return { ...r, bytes };
    },
    (e: unknown) => {
      source.destroy();
      throw e;
    },
  );
}

type ChannelHandler = (stream: ClientChannel, done: (r: SshResult) => void, fail: (e: Error) => void) => void;

/** Connects (host key policy, authentication, bounds) and hands the command's channel to `handle`. */
function runOnHost(host: SshHost, command: string, opts: SshExecOptions, handle: ChannelHandler): Promise<SshResult> {
  const env = opts.env ?? process.env;
  const policy = opts.hostKeyPolicy ?? hostKeyPolicyFromEnv(env);
  const { address } = host;
  const { port, user } = host.ssh;
  const where = `${host.name} (${user}@${address}:${port})`;
  let auth: ReturnType<typeof authConfig>;
  try {
    auth = authConfig(host, env);
  } catch (e) {
    return Promise.reject(e);
  }
  const known = policy.insecure ? [] : knownKeys(readKnownHosts(policy), address, port);
  const algs = policy.insecure ? undefined : hostKeyAlgorithms(known);

  return new Promise<SshResult>((resolvePromise, rejectPromise) => {
    const conn = new Client();
    let hostKeyProblem: string | undefined;
    let settled = false;
    const finish = (err: Error | undefined, result?: SshResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.end();
      if (err) rejectPromise(err);
      else resolvePromise(result!);
    };
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const timer = setTimeout(() => finish(new SshError(`${where}: no answer within ${Math.round(timeoutMs / 1000)} s running: ${command}`)), timeoutMs);

    conn.on("ready", () => {
      conn.exec(command, (err, stream) => {
        if (err) return finish(new SshError(`${where}: cannot start the command: ${err.message}`));
        handle(
          stream,
          (r) => finish(undefined, r),
          (e) => finish(e),
        );
      });
    });
    conn.on("error", (e: Error & { level?: string }) => {
      if (hostKeyProblem) return finish(new SshError(`${where}: refused: ${hostKeyProblem}`));
      const hint = e.level === "client-authentication" ? ` (login as ${user} was refused: check ssh.user and the key)` : "";
      finish(new SshError(`${where}: ${e.message}${hint}`));
    });
    conn.on("close", () => finish(new SshError(`${where}: the connection closed before the command finished`)));

    conn.connect({
      host: address,
      port,
      username: user,
      ...auth,
      readyTimeout: opts.connectTimeoutMs ?? 10_000,
      algorithms: algs ? { serverHostKey: algs as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"] } : undefined,
      hostVerifier: (key: Buffer) => {
        const decision = decideHostKey(policy, known, address, port, key);
        if (!decision.accept) {
          hostKeyProblem = decision.reason;
          return false;
        }
        if (decision.record) {
          try {
            // Parallel first connections to one host (status asks a node several things at once) each
            // saw no key: decide again against the file as it is now, so the key is recorded once, and
            // a second, different first-use key for the same host is refused.
            const now = decideHostKey(policy, knownKeys(readKnownHosts(policy), address, port), address, port, key);
            if (!now.accept) {
              hostKeyProblem = now.reason;
              return false;
            }
            if (now.record) recordHostKey(policy, address, port, key);
          } catch (e) {
            hostKeyProblem = `cannot record the host key in ${policy.knownHostsPath}: ${(e as Error).message}`;
            return false;
          }
        }
        return true;
      },
    });
  });
}

/** Options of a short probe (status): `timeoutMs` per call, the connection made within at most 10 s of it. */
export function probeSshOptions(env: NodeJS.ProcessEnv, timeoutMs = 20_000): SshExecOptions {
  return { env, timeoutMs, connectTimeoutMs: Math.min(timeoutMs, 10_000) };
}

/** Quotes a word for a POSIX shell. */
export { shellQuote } from "../render/shell-quote";
