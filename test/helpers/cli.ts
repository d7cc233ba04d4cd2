/** The ems-ha CLI run in-process (runCli), its output captured: what tests of the commands assert on. */
import type { CliIo } from "../../src/cli/command";
import { runCli } from "../../src/cli/main";

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export async function runCliCaptured(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CliRun> {
  let out = "";
  let err = "";
  const io: CliIo = { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), cwd, env };
  const code = await runCli(argv, io);
  return { code, out, err };
}
