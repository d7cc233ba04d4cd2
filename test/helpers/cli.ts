/** The ems-ha CLI run in-process (runCli), its output captured: what tests of the commands assert on. */
import type { CliIo } from "../../src/cli/command";
import { runCli } from "../../src/cli/main";

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** `stamped`: each stderr line (the commands' progress) prefixed with the seconds since the start, to see where the time goes. */
export async function runCliCaptured(argv: string[], cwd: string, env: NodeJS.ProcessEnv, o: { readonly stamped?: boolean } = {}): Promise<CliRun> {
  let out = "";
  let err = "";
  const t0 = Date.now();
  const stamp = () => (o.stamped ? `+${((Date.now() - t0) / 1000).toFixed(1)}s ` : "");
  const io: CliIo = { out: (t) => (out += `${t}\n`), err: (t) => (err += `${stamp()}${t}\n`), cwd, env };
  const code = await runCli(argv, io);
  return { code, out, err };
}
