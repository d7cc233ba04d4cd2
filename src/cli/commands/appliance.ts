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
import { numberFlag, parseArgs, stringFlag, usageError, type ParsedArgs } from "../args";
import type { CliIo, Command } from "../command";

export const DB_PASSWORD_ENV = "EMS_HA_DB_PASSWORD";
export const APPLIANCE_PASSWORD_ENV = "EMS_HA_APPLIANCE_PASSWORD";

const USAGE = [
  "ems-ha appliance run --host ADDR [--port 22] [--user ems] --role primary|secondary --hostname NAME",
  "    --db-host ADDR [--db-port 5432] [--db-user postgres]",
  "    (--db-password-file FILE | $EMS_HA_DB_PASSWORD)",
  "    [--password-file FILE | $EMS_HA_APPLIANCE_PASSWORD] [--key PRIVATE_KEY]",
  "    [--known-hosts ~/.ssh/known_hosts | --insecure-skip-host-key-check]",
  "    [--prompt REGEX] [--login-timeout 30] [--command-timeout 60] [--redirect-timeout 900] [--force]",
].join("\n");

function required(args: ParsedArgs, name: string, example: string): string {
  const v = stringFlag(args, name);
  if (!v) throw usageError(`--${name}`, undefined, "is required", `add --${name} ${example}`);
  return v;
}

/** Reads a secret file and deletes it (it was written only for this run). */
function takeSecretFile(io: CliIo, path: string, flag: string): string {
  const p = resolve(io.cwd, path);
  if (!existsSync(p)) throw usageError(flag, path, "the file does not exist", "check the path (the vm-appliances stack writes it just before this command)");
  const value = readFileSync(p, "utf8").replace(/\r?\n$/, "");
  rmSync(p, { force: true });
  return value;
}

function secret(io: CliIo, args: ParsedArgs, flag: string, env: string): string | undefined {
  const file = stringFlag(args, flag);
  if (file) return takeSecretFile(io, file, `--${flag}`) || undefined;
  const v = io.env[env];
  return v && v.length > 0 ? v : undefined;
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ["force", "insecure-skip-host-key-check"]);
  const host = required(args, "host", "192.168.1.10");
  const role = required(args, "role", "primary");
  if (role !== "primary" && role !== "secondary") throw usageError("--role", role, "is not a role", "use primary or secondary");
  const hostname = required(args, "hostname", "EMS-1");
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(hostname)) throw usageError("--hostname", hostname, "is not a host name", "use letters, digits and '-', like EMS-1");
  const dbHost = required(args, "db-host", "192.168.1.30");
  const promptText = stringFlag(args, "prompt") ?? "[>#$] ?$";
  let prompt: RegExp;
  try {
    prompt = new RegExp(promptText);
  } catch {
    throw usageError("--prompt", promptText, "is not a regular expression", "use e.g. '[>#$] ?$'");
  }
  const dbPassword = secret(io, args, "db-password-file", DB_PASSWORD_ENV);
  if (!dbPassword) throw usageError("--db-password-file", undefined, "no DB password given", `pass --db-password-file FILE or set ${DB_PASSWORD_ENV}`);
  const password = secret(io, args, "password-file", APPLIANCE_PASSWORD_ENV);
  const keyPath = stringFlag(args, "key");
  const privateKey = keyPath ? readFileSync(keyPath.startsWith("~/") ? `${homedir()}${keyPath.slice(1)}` : resolve(io.cwd, keyPath), "utf8") : undefined;
  if (!password && !privateKey) throw usageError("--password-file", undefined, "no way to log in to the appliance", `set ${APPLIANCE_PASSWORD_ENV} (TF_VAR_appliance_password in the stack) or pass --key`);
  const skipHostKey = args.flags["insecure-skip-host-key-check"] === true;
  const seconds = (name: string, dflt: number) => (numberFlag(args, name, 1, 7200) ?? dflt) * 1000;

  try {
    const r = await runAppliance({
      host,
      port: numberFlag(args, "port", 1, 65535) ?? 22,
      user: stringFlag(args, "user") ?? "ems",
      password,
      privateKey,
      dbHost,
      dbPort: numberFlag(args, "db-port", 1, 65535) ?? 5432,
      dbUser: stringFlag(args, "db-user") ?? "postgres",
      dbPassword,
      role,
      hostname,
      prompt,
      loginTimeoutMs: seconds("login-timeout", 30),
      commandTimeoutMs: seconds("command-timeout", 60),
      redirectTimeoutMs: seconds("redirect-timeout", 900),
      knownHostsPath: skipHostKey ? undefined : (stringFlag(args, "known-hosts") ?? "~/.ssh/known_hosts"),
      force: args.flags.force === true,
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

export const applianceCommand: Command = {
  name: "appliance",
  summary: "Drive an EMS VM appliance's SSH CLI: `appliance run` redirects it to the remote DB",
  usage: USAGE,
  run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub !== "run") throw usageError("appliance", sub ?? "(none)", "unknown subcommand", "use `ems-ha appliance run ...`");
    return run(rest, io);
  },
};
