/**
 * The EMS VM appliance CLI, as data: the commands the guide types on each appliance
 * ("Setting up HA for EMS VM appliances"), how to read what the appliance prints, and how
 * secrets are masked in every transcript.
 */

import { sh, shellQuote, UnsafeValueError } from "./escape";

export type ApplianceRole = "primary" | "secondary";

/**
 * A word of an appliance CLI command. The commands are typed into the appliance's shell over a
 * pty: a line break would run a second command and a space would start another argument, and
 * the CLI's own quoting is not documented, so both are refused (the message never shows a password).
 */
export function applianceWord(value: string, field: string, secret = false): string {
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f"'\\]/.test(value) || value.length === 0) {
    throw new UnsafeValueError(
      `appliance CLI: ${field}${secret ? "" : ` ${JSON.stringify(value)}`} must be one word without spaces, quotes, backslashes or control characters`,
    );
  }
  return value;
}

export interface RedirectTarget {
  readonly dbHost: string;
  readonly dbPort: number;
  readonly dbUser: string;
}

/** Shown instead of a secret. */
export const MASK = "********";

/** `execute ping <db>` (guide steps 3 and 10). */
export function pingCommand(dbHost: string): string {
  return "execute ping " + applianceWord(dbHost, "the DB host");
}

/** `system set hostname "EMS-1"` (guide steps 6 and 11). */
export function hostnameCommand(hostname: string): string {
  return `system set hostname "${applianceWord(hostname, "the appliance hostname")}"`;
}

/** `redirect ...` (guide steps 4 and 12). `password` is the real secret: mask the result before showing it. */
export function redirectCommand(t: RedirectTarget, role: ApplianceRole, password: string): string {
  return [
    "redirect",
    "--db_host",
    applianceWord(t.dbHost, "the DB host"),
    "--db_pass",
    applianceWord(password, "the DB password", true),
    "--db_port",
    String(t.dbPort),
    "--db_user",
    applianceWord(t.dbUser, "the DB user"),
    role === "primary" ? "--is_primary_node" : "--is_secondary_node",
    "--yes",
  ].join(" ");
}

export const HA_GET_NODES = "ha get nodes";

/**
 * Masks secrets in text: every given secret value, whatever follows `--db_pass`, and the
 * appliance's own local DB password that `redirect` prints (ORIGIN_PG_PASSWORD=...).
 */
export function maskSecrets(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length > 0) out = out.split(s).join(MASK);
  }
  return out.replace(/(--db_pass[ =])(?!\*{8})\S+/g, `$1${MASK}`).replace(/(ORIGIN_PG_PASSWORD=)\S+/g, `$1${MASK}`);
}

/** Removes terminal escape sequences and carriage returns from pty output. */
export function cleanTerminal(text: string): string {
  /* eslint-disable no-control-regex -- terminal escape sequences start with ESC */
  return text
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")
    .replace(/\x1b[()][A-Za-z0-9]/g, "")
    .replace(/\r/g, "");
  /* eslint-enable no-control-regex */
}

/** The redirect succeeded: the appliance's installutils ends with "Exit Success". */
export function redirectSucceeded(output: string): boolean {
  return /\bExit Success\b/.test(output);
}

/** Lines that report an error in the appliance's output (for the failure message). */
export function errorLines(output: string): string[] {
  return output.split("\n").filter((l) => /\b(ERROR|FATAL|Exit Failure|[Ee]rror:|failed)\b/.test(l));
}

/** The ping reached the host: a reply line, or a non-zero "received" count. */
export function pingSucceeded(output: string): boolean {
  if (/\b100(\.0+)?% packet loss\b/.test(output)) return false;
  const received = /(\d+) (?:packets )?received/.exec(output);
  if (received) return Number(received[1]) > 0;
  return /bytes from/.test(output);
}

/** The CLI refused a command. */
export function commandRejected(output: string): boolean {
  return /\b(unknown command|invalid (command|input|argument)|command not found|error)\b/i.test(output);
}

/** The appliance demands the first-login password change (guide step 9). */
export function passwordChangeRequested(output: string): boolean {
  return /(\(current\) UNIX password|current password|new password|password has expired|must change your password|change your password)/i.test(output);
}

export interface HaEmsNode {
  readonly name: string;
  /** The row marked (*): the node the command ran on. */
  readonly self: boolean;
  readonly role: string;
  readonly status: string;
}

export interface HaDbNode {
  readonly host: string;
  readonly port: number;
  readonly role: string;
  readonly status: string;
}

export interface HaNodes {
  readonly ems: HaEmsNode[];
  readonly db: HaDbNode[];
}

/** Parses `ha get nodes` (both table layouts the guide shows). */
export function parseHaGetNodes(output: string): HaNodes {
  const ems: HaEmsNode[] = [];
  const db: HaDbNode[] = [];
  let section: "ems" | "db" | undefined;
  for (const raw of output.split("\n")) {
    const line = raw.trim();
    if (/^EMS Node\(s\):/i.test(line)) section = "ems";
    else if (/^DB Node\(s\):/i.test(line)) section = "db";
    if (!section || !line.includes("|")) continue;
    const cells = line.split("|").map((c) => c.trim());
    if (cells.every((c) => /^-*$/.test(c))) continue;
    if (/^(Name|Host)$/i.test(cells[0]!)) continue;
    if (section === "ems" && cells.length >= 3) {
      const self = /\(\*\)\s*$/.test(cells[0]!);
      ems.push({ name: cells[0]!.replace(/\s*\(\*\)\s*$/, ""), self, role: cells[1]!.toLowerCase(), status: cells[2]!.toLowerCase() });
    } else if (section === "db" && cells.length >= 4) {
      db.push({ host: cells[0]!, port: Number(cells[1]), role: cells[2]!.toLowerCase(), status: cells[3]!.toLowerCase() });
    }
  }
  return { ems, db };
}

/** The role `ha get nodes` shows for an EMS node of a role. */
export function haRoleOf(role: ApplianceRole): string {
  return role === "primary" ? "primary" : "standby";
}

/** Why the cluster state is not what a redirected node of this role should show, or undefined when it is. */
export function haProblem(nodes: HaNodes, role: ApplianceRole, hostname: string): string | undefined {
  const self = nodes.ems.find((n) => n.self);
  if (!self) return "ha get nodes shows no row marked (*) for this appliance";
  if (self.name.toLowerCase() !== hostname.toLowerCase()) return `this appliance is listed as ${self.name}, not ${hostname}`;
  if (self.role !== haRoleOf(role)) return `this appliance is ${self.role}, expected ${haRoleOf(role)}`;
  if (self.status !== "online") return `this appliance is ${self.status}, expected online`;
  if (!nodes.db.some((n) => n.status === "online")) return "no DB node is online";
  return undefined;
}

/** The node was redirected to this DB before: a second redirect is not needed. */
export function alreadyRedirected(nodes: HaNodes, role: ApplianceRole, hostname: string, t: RedirectTarget): boolean {
  return haProblem(nodes, role, hostname) === undefined && nodes.db.some((n) => n.host === t.dbHost && n.port === t.dbPort);
}

export interface RunnerArgs extends RedirectTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly role: ApplianceRole;
  readonly hostname: string;
  readonly dbPasswordFile: string;
  readonly loginPasswordFile?: string;
  readonly privateKeyPath?: string;
  readonly promptPattern: string;
  readonly loginTimeoutSeconds: number;
  readonly commandTimeoutSeconds: number;
  readonly redirectTimeoutSeconds: number;
  readonly hostKeyCheck: "known-hosts" | "off";
  readonly knownHostsPath: string;
}

/** The arguments of `ems-ha appliance run` (no secret among them: secrets are files). */
export function runnerArgv(a: RunnerArgs): string[] {
  const argv = [
    "appliance",
    "run",
    "--host",
    a.host,
    "--port",
    String(a.port),
    "--user",
    a.user,
    "--role",
    a.role,
    "--hostname",
    a.hostname,
    "--db-host",
    a.dbHost,
    "--db-port",
    String(a.dbPort),
    "--db-user",
    a.dbUser,
    "--db-password-file",
    a.dbPasswordFile,
  ];
  if (a.loginPasswordFile) argv.push("--password-file", a.loginPasswordFile);
  if (a.privateKeyPath) argv.push("--key", a.privateKeyPath);
  argv.push(
    "--prompt",
    a.promptPattern,
    "--login-timeout",
    String(a.loginTimeoutSeconds),
    "--command-timeout",
    String(a.commandTimeoutSeconds),
    "--redirect-timeout",
    String(a.redirectTimeoutSeconds),
  );
  if (a.hostKeyCheck === "off") argv.push("--insecure-skip-host-key-check");
  else argv.push("--known-hosts", a.knownHostsPath);
  return argv;
}

/**
 * The local-exec command that writes an appliance's secret files on the machine running Terraform:
 * the directory and the files are created under umask 077 (0700 / 0600) before anything is
 * written, the values come from the environment variables EMS_HA_DB_PASSWORD and
 * EMS_HA_APPLIANCE_PASSWORD (never the command line), and every path is quoted.
 */
export function applianceSecretFilesCommand(dir: string, dbFile: string, loginFile: string): string {
  return sh`umask 077 && mkdir -p ${dir} && printf '%s' "$EMS_HA_DB_PASSWORD" > ${dbFile} && printf '%s' "$EMS_HA_APPLIANCE_PASSWORD" > ${loginFile}`;
}

/** POSIX shell quoting for a local-exec command line (the one quoting function of ./escape). */
export const shellWord = shellQuote;
