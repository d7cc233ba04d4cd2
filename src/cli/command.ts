/** The shape of one CLI command. Commands live in src/cli/commands/<name>.ts. */
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
  readonly usage: string;
  /** Returns the exit code. Throw ConfigError for bad input (exit 2). */
  run(argv: string[], io: CliIo): Promise<number> | number;
}
