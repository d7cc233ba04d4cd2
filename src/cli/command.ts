/** The shape of one CLI command. Commands live in src/cli/commands/<name>.ts and are declared with defineCommand. */
import { type FlagSpecs, type Parsed, type PositionalSpec, parseCommandLine, usageText } from "./args";

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

export interface Command {
  readonly name: string;
  /** One line for `ems-ha help`. */
  readonly summary: string;
  /** Generated from the flag declaration. */
  readonly usage: string;
  /** Returns the exit code. Throws ConfigError for bad input (exit 2); UsageError also prints the usage. */
  run(argv: string[], io: CliIo): Promise<number> | number;
}

export interface CommandSpec<F extends FlagSpecs> {
  readonly name: string;
  readonly summary: string;
  readonly positionals?: ReadonlyArray<PositionalSpec>;
  readonly flags: F;
  /** Extra lines under the options (environment variables, examples). */
  readonly notes?: string;
  run(args: Parsed<F>, io: CliIo): Promise<number> | number;
}

/** A command whose flags, parser and usage come from one declaration. */
export function defineCommand<const F extends FlagSpecs>(spec: CommandSpec<F>): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    usage: usageText(spec.name, spec.flags, spec.positionals, spec.notes),
    run: (argv, io) => spec.run(parseCommandLine(argv, spec.flags, spec.positionals), io),
  };
}
