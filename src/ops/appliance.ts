/**
 * Drives one EMS VM appliance through its interactive SSH CLI (it is not a POSIX shell, so
 * Terraform's remote-exec cannot): opens a shell channel, waits for the prompt, and runs the
 * guide's steps: `execute ping <db>`, `system set hostname`, `redirect ... --yes`, `ha get nodes`.
 * Success is decided from what the appliance prints. Every wait is bounded, and every secret is
 * masked in the transcript, the log and the error.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import { expandHome, hostKeyAlgorithms, knownKeys } from "./known-hosts";
import {
  alreadyRedirected,
  cleanTerminal,
  commandRejected,
  errorLines,
  HA_GET_NODES,
  haProblem,
  hostnameCommand,
  maskSecrets,
  parseHaGetNodes,
  passwordChangeRequested,
  pingCommand,
  pingSucceeded,
  redirectCommand,
  redirectSucceeded,
  type ApplianceRole,
  type HaNodes,
  type RedirectTarget,
} from "../render/appliance";

export interface ApplianceRunOptions extends RedirectTarget {
  readonly host: string;
  /** @default 22 */
  readonly port?: number;
  /** The appliance's CLI user. @default "ems" */
  readonly user?: string;
  /** Login password (after the first-login change). */
  readonly password?: string;
  /** Private key (PEM/OpenSSH text). */
  readonly privateKey?: string;
  readonly dbPassword: string;
  readonly role: ApplianceRole;
  /** What `system set hostname` sets, and the name `ha get nodes` must show. */
  readonly hostname: string;
  /** Matches the CLI prompt on the last line of output. */
  readonly prompt: RegExp;
  readonly loginTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly redirectTimeoutMs: number;
  /** known_hosts to check the host key against; undefined turns the check off. */
  readonly knownHostsPath?: string;
  /** Redirect even when `ha get nodes` shows the node already redirected. @default false */
  readonly force?: boolean;
  /** Attempts of the final `ha get nodes` check. @default 6 */
  readonly haAttempts?: number;
  /** Pause between those attempts. @default 5000 */
  readonly haIntervalMs?: number;
  /** Progress lines (already masked). */
  readonly log?: (line: string) => void;
}

export interface ApplianceRunResult {
  /** "redirected", or "unchanged" when the node already used this DB in this role. */
  readonly outcome: "redirected" | "unchanged";
  readonly nodes: HaNodes;
  /** Masked transcript of the session. */
  readonly transcript: string;
}

/** A failed run; the message and transcript are masked. */
export class ApplianceError extends Error {
  constructor(
    message: string,
    public readonly transcript: string,
  ) {
    super(message);
    this.name = "ApplianceError";
  }
}

/** Quiet time after a prompt-looking last line before it counts as the prompt. */
const SETTLE_MS = 250;

export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** One interactive CLI session: send a line, collect output until the prompt returns (bounded). */
class CliSession {
  private buffer = "";
  private transcriptRaw = "";
  private waiter?: () => void;
  private closed = false;

  constructor(
    private readonly channel: ClientChannel,
    private readonly prompt: RegExp,
    private readonly secrets: string[],
  ) {
    channel.on("data", (d: Buffer) => this.onData(d));
    channel.stderr.on("data", (d: Buffer) => this.onData(d));
    channel.on("close", () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  get transcript(): string {
    return maskSecrets(cleanTerminal(this.transcriptRaw), this.secrets);
  }

  private onData(d: Buffer): void {
    const text = d.toString("utf8");
    this.buffer += text;
    this.transcriptRaw += text;
    this.waiter?.();
  }

  private atPrompt(): boolean {
    const clean = cleanTerminal(this.buffer);
    const last = clean.slice(clean.lastIndexOf("\n") + 1);
    return last.trim().length > 0 && this.prompt.test(last);
  }

  /** Waits for the prompt; returns the output before it. Throws on timeout or close. */
  async waitPrompt(timeoutMs: number, what: string, earlyFail?: (out: string) => string | undefined): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const clean = cleanTerminal(this.buffer);
      const early = earlyFail?.(clean);
      if (early) throw new ApplianceError(maskSecrets(early, this.secrets), this.transcript);
      if (this.atPrompt()) {
        const before = this.buffer.length;
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        if (this.buffer.length === before && this.atPrompt()) {
          const out = cleanTerminal(this.buffer);
          this.buffer = "";
          return out.slice(0, out.lastIndexOf("\n") + 1);
        }
        continue;
      }
      if (this.closed) throw new ApplianceError(`the appliance closed the session during ${what}`, this.transcript);
      const left = deadline - Date.now();
      if (left <= 0) throw new ApplianceError(`no prompt within ${Math.round(timeoutMs / 1000)} s during ${what}`, this.transcript);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** Sends one command line and returns its output (without the echoed command). */
  async run(command: string, timeoutMs: number, what: string): Promise<string> {
    this.buffer = "";
    this.channel.write(`${command}\r`);
    const out = await this.waitPrompt(timeoutMs, what);
    const lines = out.split("\n");
    // Drop the echo of the command itself.
    const echo = lines.findIndex((l) => l.includes(command.split(" ")[0]!));
    return (echo >= 0 && echo < 2 ? lines.slice(echo + 1) : lines).join("\n");
  }

  end(): void {
    if (!this.closed) {
      this.channel.write("exit\r");
      this.channel.end();
    }
  }
}

function connect(o: ApplianceRunOptions, secrets: string[]): Promise<{ client: Client; channel: ClientChannel }> {
  const port = o.port ?? 22;
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKeyProblem: string | undefined;
    // Stricter than the operations commands: an appliance not yet in known_hosts is refused, since a DB password follows.
    const path = o.knownHostsPath === undefined ? undefined : expandHome(o.knownHostsPath);
    const known = path && existsSync(path) ? knownKeys(readFileSync(path, "utf8"), o.host, port) : [];
    const algorithms = hostKeyAlgorithms(known);
    const config: ConnectConfig = {
      host: o.host,
      port,
      username: o.user ?? "ems",
      readyTimeout: o.loginTimeoutMs,
      password: o.password,
      privateKey: o.privateKey,
      tryKeyboard: o.password !== undefined,
      ...(algorithms ? { algorithms: { serverHostKey: algorithms as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"] } } : {}),
      hostVerifier: (key: Buffer) => {
        if (path === undefined) return true;
        if (known.some((k) => k.key.equals(key))) return true;
        hostKeyProblem =
          known.length > 0
            ? `the host key of ${o.host}:${port} (${fingerprint(key)}) differs from the one in ${o.knownHostsPath}: refusing to send credentials`
            : `the host key of ${o.host}:${port} (${fingerprint(key)}) is not in ${o.knownHostsPath}; after checking the fingerprint on the appliance's console, add it: ssh-keyscan -p ${port} ${o.host} >> ${o.knownHostsPath}`;
        return false;
      },
    };
    if (o.password !== undefined) {
      client.on("keyboard-interactive", (_n, _i, _l, prompts, finish) => finish(prompts.map(() => o.password!)));
    }
    client.on("ready", () => {
      client.shell({ term: "vt100", cols: 250, rows: 50 }, (err, channel) => {
        if (err) {
          client.end();
          reject(new ApplianceError(`could not open the CLI on ${o.host}: ${err.message}`, ""));
        } else resolve({ client, channel });
      });
    });
    client.on("error", (err) => {
      reject(new ApplianceError(maskSecrets(hostKeyProblem ?? `ssh to ${o.user ?? "ems"}@${o.host}:${port} failed: ${err.message}`, secrets), ""));
    });
    client.connect(config);
  });
}

/**
 * Redirects one appliance to the remote DB as the guide does. Idempotent: when `ha get nodes`
 * already shows this node, in this role, on this DB, nothing is sent but the checks.
 */
export async function runAppliance(o: ApplianceRunOptions): Promise<ApplianceRunResult> {
  const secrets = [o.dbPassword, o.password].filter((s): s is string => !!s);
  const log = (line: string) => o.log?.(maskSecrets(line, secrets));
  const { client, channel } = await connect(o, secrets);
  const session = new CliSession(channel, o.prompt, secrets);
  const failure = (message: string) => new ApplianceError(maskSecrets(message, secrets), session.transcript);
  try {
    await session.waitPrompt(o.loginTimeoutMs, "login", (out) =>
      passwordChangeRequested(out)
        ? `${o.host} asks for the first-login password change: log in once by hand (ssh ${o.user ?? "ems"}@${o.host}), set a new password, and give that one to ems-ha (TF_VAR_appliance_password)`
        : undefined,
    );
    log(`${o.host}: CLI prompt seen`);

    if (!o.force) {
      const before = parseHaGetNodes(await session.run(HA_GET_NODES, o.commandTimeoutMs, HA_GET_NODES));
      if (alreadyRedirected(before, o.role, o.hostname, o)) {
        log(`${o.host}: already ${o.role} on ${o.dbHost}:${o.dbPort} as ${o.hostname}; nothing to do`);
        return { outcome: "unchanged", nodes: before, transcript: session.transcript };
      }
    }

    const ping = await session.run(pingCommand(o.dbHost), o.commandTimeoutMs, "execute ping");
    if (!pingSucceeded(ping)) throw failure(`${o.host} cannot reach the DB host ${o.dbHost} (execute ping); check the appliance's network settings`);
    log(`${o.host}: reaches ${o.dbHost}`);

    const hn = await session.run(hostnameCommand(o.hostname), o.commandTimeoutMs, "system set hostname");
    if (commandRejected(hn)) throw failure(`${o.host} refused the hostname ${o.hostname}: ${hn.trim()}`);
    log(`${o.host}: hostname ${o.hostname}`);

    log(`${o.host}: redirect to ${o.dbHost}:${o.dbPort} as ${o.role} (may take minutes)`);
    const redirect = await session.run(redirectCommand(o, o.role, o.dbPassword), o.redirectTimeoutMs, "redirect");
    if (!redirectSucceeded(redirect)) {
      const errs = errorLines(redirect);
      throw failure(`redirect on ${o.host} did not end with "Exit Success"${errs.length ? `: ${errs.slice(0, 3).join(" / ")}` : ""}`);
    }
    log(`${o.host}: redirect ended with Exit Success`);

    const attempts = o.haAttempts ?? 6;
    let nodes: HaNodes = { ems: [], db: [] };
    let problem: string | undefined;
    for (let i = 1; i <= attempts; i++) {
      nodes = parseHaGetNodes(await session.run(HA_GET_NODES, o.commandTimeoutMs, HA_GET_NODES));
      problem = haProblem(nodes, o.role, o.hostname);
      if (!problem) break;
      if (i < attempts) await new Promise((r) => setTimeout(r, o.haIntervalMs ?? 5000));
    }
    if (problem) throw failure(`after the redirect, ${o.host}: ${problem}`);
    log(`${o.host}: ha get nodes shows ${o.hostname} as ${o.role === "primary" ? "primary" : "standby"}, online`);
    return { outcome: "redirected", nodes, transcript: session.transcript };
  } catch (e) {
    if (e instanceof ApplianceError) throw e;
    throw failure(`${o.host}: ${(e as Error).message}`);
  } finally {
    session.end();
    client.end();
  }
}
