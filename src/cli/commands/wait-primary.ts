import { loadDeployment } from "../../config/load";
import { waitForPrimary } from "../../ops/wait";
import { numberFlag, parseArgs } from "../args";
import type { Command } from "../command";
import { configPath } from "../config-arg";

export const waitPrimaryCommand: Command = {
  name: "wait-primary",
  summary: "Wait (bounded) until exactly one writable primary answers; exit 1 on timeout",
  usage: "ems-ha wait-primary --config X [--timeout 300] [--interval 2] [--json]",
  async run(argv, io) {
    const args = parseArgs(argv, ["json"]);
    const d = loadDeployment(configPath(args, io));
    const timeout = numberFlag(args, "timeout", 1, 86_400) ?? 300;
    const interval = numberFlag(args, "interval", 0.1, 600) ?? 2;
    const r = await waitForPrimary(d, { env: io.env, timeoutMs: timeout * 1000, intervalMs: interval * 1000, onProgress: (l) => io.err(l) });
    if (args.flags.json === true) io.out(JSON.stringify(r, null, 2));
    else if (r.ok) io.out(`primary: ${r.primary}`);
    else {
      io.out(`no single writable primary after ${timeout} s. Last observed:`);
      for (const n of r.last.dbNodes) io.out(`  ${n.name} (${n.address}): ${n.reachable ? n.role : `unreachable: ${n.error ?? "no answer"}`}`);
      for (const reason of r.last.reasons) io.out(`  - ${reason}`);
    }
    return r.ok ? 0 : 1;
  },
};
