/**
 * STAND-IN for the SSH CLI of a FortiClient EMS VM appliance. It is NOT the real product.
 *
 * An ssh2 server on a loopback address that logs the user "ems" in to an interactive prompt ("s> ")
 * and answers the commands the guide uses, printing output shaped like the guide's samples:
 *   execute ping <host>         replies when <host> is in `reachable`, else 100% packet loss
 *   system set hostname "<n>"   sets the name shown by `ha get nodes`
 *   redirect --db_host H --db_pass P --db_port N --db_user U (--is_primary_node|--is_secondary_node) --yes
 *                               succeeds ("... Exit Success") when H:N/U/P match the shared
 *                               StandinDatabase; a secondary needs a primary deployed first
 *   ha get nodes                the EMS and DB tables of the guide
 * Behaviours for failure tests: `redirectBehaviour` "hang" (never returns the prompt),
 * `mustChangePassword` (first-login password change prompt).
 */
import { Server, utils, type Connection, type ServerChannel } from "ssh2";

/** The remote PostgreSQL server the stand-in appliances share (where EMS nodes register). */
export class StandinDatabase {
  /** EMS nodes registered in the EMS database, in redirect order. */
  readonly emsNodes: Array<{ name: string; role: "primary" | "standby" }> = [];
  deployed = false;
  constructor(
    readonly host: string,
    readonly port: number,
    readonly user: string,
    /** What a redirect's --db_pass must be; a test changes it to rotate the password. */
    public password: string,
  ) {}
}

export interface StandinApplianceOptions {
  readonly db: StandinDatabase;
  /** Login password of the "ems" user. */
  readonly password: string;
  /** Hosts `execute ping` reaches. @default [db.host] */
  readonly reachable?: ReadonlyArray<string>;
  /** @default "ok" */
  readonly redirectBehaviour?: "ok" | "hang";
  /** Ask for the first-login password change instead of showing the prompt. @default false */
  readonly mustChangePassword?: boolean;
  /** @default "FortiClientEMS" */
  readonly hostname?: string;
  /** Loopback address to listen on. @default "127.0.0.1" */
  readonly listenAddress?: string;
}

const PROMPT = "s> ";

function stamp(): string {
  return new Date().toISOString().replace("T", " ").slice(0, 19);
}

/** Splits a command line into words, honouring double quotes. */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/**
 * An ed25519 key pair that ssh2 itself can parse. ssh2's generator strips leading zero bytes from
 * the public key, so about one pair in 256 is one its own parser rejects ("Malformed OpenSSH ...
 * key"; mscdex/ssh2 issues 1390 and 1513): such a pair is drawn again, a bounded number of times.
 */
export function ed25519KeyPair(): { public: string; private: string } {
  for (let i = 0; i < 20; i++) {
    const pair = utils.generateKeyPairSync("ed25519");
    if (!(utils.parseKey(pair.public) instanceof Error) && !(utils.parseKey(pair.private) instanceof Error)) return pair;
  }
  throw new Error("ssh2 generated 20 ed25519 key pairs in a row that it cannot parse");
}

export class StandinAppliance {
  hostname: string;
  /** DB the appliance uses: its local one until redirected. */
  dbHost = "localhost";
  role: "primary" | "standby" = "primary";
  /** Every command line received (raw, for assertions about what was sent). */
  readonly received: string[] = [];
  private server?: Server;
  private readonly hostKey = ed25519KeyPair();
  port = 0;

  constructor(private readonly o: StandinApplianceOptions) {
    this.hostname = o.hostname ?? "FortiClientEMS";
  }

  /** The host key line for a known_hosts file. */
  knownHostsLine(): string {
    const [type, key] = this.hostKey.public.trim().split(/\s+/);
    return `[${this.o.listenAddress ?? "127.0.0.1"}]:${this.port} ${type} ${key}`;
  }

  async start(): Promise<void> {
    this.server = new Server({ hostKeys: [this.hostKey.private] }, (client) => this.onClient(client));
    await new Promise<void>((resolve) => this.server!.listen(0, this.o.listenAddress ?? "127.0.0.1", () => resolve()));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private onClient(client: Connection): void {
    client.on("authentication", (ctx) => {
      if (ctx.username === "ems" && ctx.method === "password" && ctx.password === this.o.password) ctx.accept();
      else ctx.reject(["password"]);
    });
    client.on("ready", () => {
      client.on("session", (accept) => {
        const session = accept();
        session.on("pty", (ok) => ok?.());
        session.on("shell", (ok) => this.onShell(ok()));
      });
    });
    client.on("error", () => undefined);
  }

  private onShell(ch: ServerChannel): void {
    const out = (s: string) => ch.write(s.replace(/\n/g, "\r\n"));
    if (this.o.mustChangePassword) {
      out("You are required to change your password immediately (administrator enforced)\nCurrent password: ");
      return;
    }
    out(`Welcome to FortiClient EMS (stand-in)\n${PROMPT}`);
    let line = "";
    ch.on("data", (d: Buffer) => {
      for (const c of d.toString("utf8")) {
        if (c === "\r" || c === "\n") {
          out("\n");
          const cmd = line.trim();
          line = "";
          if (cmd === "exit") {
            ch.end();
            return;
          }
          if (cmd) this.received.push(cmd);
          const reply = cmd ? this.execute(cmd) : "";
          if (reply === undefined) return; // hang: no prompt ever again
          out(reply + PROMPT);
        } else {
          line += c;
          out(c); // a pty echoes what is typed
        }
      }
    });
  }

  /** The reply to one command, or undefined to hang. */
  private execute(cmd: string): string | undefined {
    const w = words(cmd);
    if (w[0] === "execute" && w[1] === "ping" && w[2]) return this.ping(w[2]);
    if (w[0] === "system" && w[1] === "set" && w[2] === "hostname" && w[3]) {
      this.hostname = w[3];
      return "";
    }
    if (w[0] === "redirect") return this.redirect(w.slice(1));
    if (cmd === "ha get nodes") return this.haGetNodes();
    return `Unknown command: ${w[0]}\n`;
  }

  private ping(host: string): string {
    const ok = (this.o.reachable ?? [this.o.db.host]).includes(host);
    const lines = [`PING ${host} (${host}): 56 data bytes`];
    if (ok) for (let i = 0; i < 5; i++) lines.push(`64 bytes from ${host}: icmp_seq=${i} ttl=64 time=0.4 ms`);
    lines.push("", `--- ${host} ping statistics ---`, `5 packets transmitted, ${ok ? 5 : 0} packets received, ${ok ? 0 : 100}% packet loss`);
    return lines.join("\n") + "\n";
  }

  private redirect(args: string[]): string | undefined {
    const flags = new Map<string, string | true>();
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (!a.startsWith("--")) return `ERROR: unexpected argument ${a}\n`;
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        flags.set(a.slice(2), next);
        i++;
      } else flags.set(a.slice(2), true);
    }
    const primary = flags.get("is_primary_node") === true;
    const secondary = flags.get("is_secondary_node") === true;
    const log = (m: string) => `${stamp()} - INFO - ${m}`;
    const out = [
      "DEBUG=0",
      log("Starting EMS DB redirect script"),
      "Single DB port provided for PostgreSQL",
      log("Single DB host provided for PostgreSQL"),
      ...["db_host", "db_port", "db_user"].map((k) => log(`--${k}=${String(flags.get(k) ?? "")}`)),
      log(`--is_primary_node=${primary ? 1 : 0}`),
      log(`--is_secondary_node=${secondary ? 1 : 0}`),
    ];
    const error = (m: string) => [...out, `${stamp()} - ERROR - ${m}`, ""].join("\n");
    if (flags.get("yes") !== true) return error("confirmation required: add --yes");
    if (primary === secondary) return error("exactly one of --is_primary_node and --is_secondary_node is required");
    out.push(log("Stopping EMS services"), log("ORIGIN_PG_PASSWORD=StandinLocalPgPw0123456789abcdef"), log("ORIGIN_PG_USER=postgres"));
    const db = this.o.db;
    if (flags.get("db_host") !== db.host || flags.get("db_port") !== String(db.port))
      return error(`could not connect to server ${String(flags.get("db_host"))}:${String(flags.get("db_port"))}`);
    if (flags.get("db_user") !== db.user || flags.get("db_pass") !== db.password)
      return error(`password authentication failed for user "${String(flags.get("db_user"))}"`);
    if (this.o.redirectBehaviour === "hang") return undefined;
    if (primary) {
      out.push(
        db.deployed
          ? log("EMS DB already deployed on target postgresql server.")
          : log("EMS DB not deployed on target postgresql server. It will be deployed."),
        log("deploying database ..."),
        log("EMS database deployed"),
      );
      db.deployed = true;
    } else if (!db.deployed) {
      return error("EMS DB not deployed on target postgresql server; redirect the primary node first");
    }
    this.dbHost = db.host;
    this.role = primary ? "primary" : "standby";
    const existing = db.emsNodes.find((n) => n.name === this.hostname);
    if (existing) existing.role = this.role;
    else db.emsNodes.push({ name: this.hostname, role: this.role });
    out.push(
      "INSERT 0 1",
      "2025/09/24 22:29:27 DB credentials saved to file",
      `${new Date().toISOString()} INFO installutils/installutils.go:432 Exit Success`,
    );
    return out.join("\n") + "\n";
  }

  private haGetNodes(): string {
    const ems = this.dbHost === "localhost" ? [{ name: this.hostname, role: "primary" }] : this.o.db.emsNodes;
    const dbHost = this.dbHost === "localhost" ? "localhost" : this.o.db.host;
    return [
      "EMS Node(s):",
      "Name | Role | Status | Last Seen",
      "-----|-----|-----|-----",
      ...ems.map((n) => `${n.name}${n.name === this.hostname ? " (*)" : ""} | ${n.role} | online | 2025-09-25 22:09:53.884729`),
      "",
      "DB Node(s):",
      "Host | Port | Role | Status | Latency (ms)",
      "-----|-----|-----|-----|-----",
      `${dbHost} | ${this.o.db.port} | primary | online | 34`,
      "",
    ].join("\n");
  }
}
