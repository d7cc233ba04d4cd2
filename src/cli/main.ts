/** ems-ha command line entry point. */
import { ConfigError } from "../config/errors";
import { UsageError } from "./args";
import type { CliIo, Command } from "./command";
import { COMMANDS } from "./commands";

export function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "ems-ha: FortiClient EMS HA deployments as Terraform, and the tools to run them",
    "",
    "Usage: ems-ha <command> [options]",
    "",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `ems-ha help <command>` for a command's options.",
  ].join("\n");
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    const which = rest[0] && COMMANDS.find((c) => c.name === rest[0]);
    if (rest[0] && !which) {
      io.err(`Unknown command "${rest[0]}". Fix: run \`ems-ha help\` for the list of commands.`);
      return 2;
    }
    io.out(which ? `${which.summary}\n\nUsage: ${which.usage}` : helpText());
    return 0;
  }
  const cmd: Command | undefined = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    io.err(`Unknown command "${name}". Fix: run \`ems-ha help\` for the list of commands.`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(`${cmd.summary}\n\nUsage: ${cmd.usage}`);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${e.message}\n\nUsage: ${cmd.usage}`);
      return ConfigError.EXIT_CODE;
    }
    if (e instanceof ConfigError) {
      io.err(e.message);
      return ConfigError.EXIT_CODE;
    }
    io.err(`ems-ha ${name}: ${(e as Error).message}`);
    return 1;
  }
}

export const processIo: CliIo = {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
  cwd: process.cwd(),
  env: process.env,
};

if (require.main === module) {
  runCli(process.argv.slice(2), processIo).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`${(e as Error).stack ?? e}\n`);
      process.exitCode = 1;
    },
  );
}
