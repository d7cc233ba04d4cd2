/**
 * `ems-ha appliance run`: redirects one EMS VM appliance to the remote DB through its SSH CLI.
 * The vm-appliances stack calls it from local-exec. Secrets arrive as files (written by a
 * separate provisioner from the sensitive variables) that are deleted once read, or from
 * EMS_HA_DB_PASSWORD / EMS_HA_APPLIANCE_PASSWORD; never as arguments.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import { ApplianceError, runAppliance } from "../../ops/appliance";
import { type FlagValues, usageError } from "../args";
import { type CliIo, defineCommand } from "../command";

export const DB_PASSWORD_ENV = "EMS_HA_DB_PASSWORD";
export const APPLIANCE_PASSWORD_ENV = "EMS_HA_APPLIANCE_PASSWORD";
/**
 * Set to 1 for `--force` from the environment: how a `terraform apply -replace=` of an appliance's
 * step redirects it again (a rotated DB password), since the step's command line is fixed at synth.
 */
export const REDIRECT_AGAIN_ENV = "EMS_HA_APPLIANCE_REDIRECT_AGAIN";

/** Reads a secret file and deletes it (it was written only for this run). */
function takeSecretFile(io: CliIo, path: string, flag: string): string {
  const p = resolve(io.cwd, path);
  if (!existsSync(p)) throw usageError(flag, path, "the file does not exist", "check the path (the vm-appliances stack writes it just before this command)");
  const value = readFileSync(p, "utf8").replace(/\r?\n$/, "");
  rmSync(p, { force: true });
  return value;
}

function secret(io: CliIo, file: string | undefined, flag: string, env: string): string | undefined {
  if (file) return takeSecretFile(io, file, `--${flag}`) || undefined;
  const v = io.env[env];
  return v && v.length > 0 ? v : undefined;
}

const FLAGS = {
  host: { type: "string", required: true, placeholder: "ADDR", description: "the appliance's SSH address" },
  port: { type: "integer", default: 22, description: "the appliance's SSH port", min: 1, max: 65535 },
  user: { type: "string", default: "ems", description: "the appliance's CLI user" },
  role: { type: "string", required: true, choices: ["primary", "secondary"], description: "the appliance's EMS HA role" },
  hostname: { type: "string", required: true, placeholder: "NAME", description: "`system set hostname` value, e.g. EMS-1" },
  "db-host": { type: "string", required: true, placeholder: "ADDR", description: "the remote database's address" },
  "db-port": { type: "integer", default: 5432, description: "the remote database's port", min: 1, max: 65535 },
  "db-user": { type: "string", default: "postgres", description: "the database user EMS connects as" },
  "db-password-file": { type: "string", placeholder: "FILE", description: "file holding the DB password, deleted once read (else $EMS_HA_DB_PASSWORD)" },
  "password-file": {
    type: "string",
    placeholder: "FILE",
    description: "file holding the CLI user's password, deleted once read (else $EMS_HA_APPLIANCE_PASSWORD)",
  },
  key: { type: "string", placeholder: "PRIVATE_KEY", description: "private key file for the SSH login" },
  "known-hosts": { type: "string", default: "~/.ssh/known_hosts", placeholder: "FILE", description: "known_hosts file the appliance's host key must be in" },
  "insecure-skip-host-key-check": { type: "boolean", description: "do not check the appliance's host key" },
  prompt: { type: "string", default: "[>#$] ?$", placeholder: "REGEX", description: "regular expression matching the CLI prompt" },
  "login-timeout": { type: "number", default: 30, placeholder: "SECONDS", description: "login and first prompt", min: 1, max: 7200 },
  "command-timeout": { type: "number", default: 60, placeholder: "SECONDS", description: "ping, hostname, ha get nodes", min: 1, max: 7200 },
  "redirect-timeout": {
    type: "number",
    default: 900,
    placeholder: "SECONDS",
    description: "`redirect` (deploys the EMS database on the primary)",
    min: 1,
    max: 7200,
  },
  force: {
    type: "boolean",
    description: `redirect even when the appliance already points at the database (also ${REDIRECT_AGAIN_ENV}=1)`,
  },
} as const;

async function run(flags: FlagValues<typeof FLAGS>, io: CliIo): Promise<number> {
  const { host, hostname, role } = flags;
  if (role !== "primary" && role !== "secondary") throw usageError("--role", role, "is not a role", "use primary or secondary");
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(hostname))
    throw usageError("--hostname", hostname, "is not a host name", "use letters, digits and '-', like EMS-1");
  const dbHost = flags["db-host"];
  let prompt: RegExp;
  try {
    prompt = new RegExp(flags.prompt);
  } catch {
    throw usageError("--prompt", flags.prompt, "is not a regular expression", "use e.g. '[>#$] ?$'");
  }
  const dbPassword = secret(io, flags["db-password-file"], "db-password-file", DB_PASSWORD_ENV);
  if (!dbPassword) throw usageError("--db-password-file", undefined, "no DB password given", `pass --db-password-file FILE or set ${DB_PASSWORD_ENV}`);
  const password = secret(io, flags["password-file"], "password-file", APPLIANCE_PASSWORD_ENV);
  const keyPath = flags.key;
  const privateKey = keyPath ? readFileSync(keyPath.startsWith("~/") ? `${homedir()}${keyPath.slice(1)}` : resolve(io.cwd, keyPath), "utf8") : undefined;
  if (!password && !privateKey)
    throw usageError(
      "--password-file",
      undefined,
      "no way to log in to the appliance",
      `set ${APPLIANCE_PASSWORD_ENV} (TF_VAR_appliance_password in the stack) or pass --key`,
    );
  const skipHostKey = flags["insecure-skip-host-key-check"];

  try {
    const r = await runAppliance({
      host,
      port: flags.port,
      user: flags.user,
      password,
      privateKey,
      dbHost,
      dbPort: flags["db-port"],
      dbUser: flags["db-user"],
      dbPassword,
      role,
      hostname,
      prompt,
      loginTimeoutMs: flags["login-timeout"] * 1000,
      commandTimeoutMs: flags["command-timeout"] * 1000,
      redirectTimeoutMs: flags["redirect-timeout"] * 1000,
      knownHostsPath: skipHostKey ? undefined : flags["known-hosts"],
      force: flags.force || /^(1|true|yes)$/i.test(io.env[REDIRECT_AGAIN_ENV] ?? ""),
      log: (line) => io.out(`[ems-ha appliance] ${line}`),
    });
    io.out(`[ems-ha appliance] ${host}: ${r.outcome === "unchanged" ? "already configured, nothing changed" : `redirected as ${role}`}`);
    return 0;
  } catch (e) {
    if (e instanceof ApplianceError) {
      io.err(`ems-ha appliance: ${e.message}`);
      if (e.transcript) io.err(`--- appliance transcript (secrets masked) ---\n${e.transcript}\n--- end of transcript ---`);
      return 1;
    }
    throw e;
  }
}

export const applianceCommand = defineCommand({
  name: "appliance",
  summary: "Drive an EMS VM appliance's SSH CLI: `appliance run` redirects it to the remote DB",
  positionals: [{ name: "run", description: "redirect the appliance to the remote database", choices: ["run"] }],
  flags: FLAGS,
  notes: `Secrets come from files (deleted once read) or the environment, never from arguments. ${REDIRECT_AGAIN_ENV}=1 redirects again an appliance that already points at the database (after a DB password rotation).`,
  run: ({ flags }, io) => run(flags, io),
});
