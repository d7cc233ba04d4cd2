import { loadDeployment } from "../../config/load";
import { switchover } from "../../ops/switchover";
import { numberFlag, parseArgs, stringFlag, usageError } from "../args";
import type { Command } from "../command";
import { configPath } from "../config-arg";

export const switchoverCommand: Command = {
  name: "switchover",
  summary: "Planned switchover to a standby (repmgr standby switchover --siblings-follow); refused unless the cluster is healthy",
  usage: "ems-ha switchover --to NODE --config X [--dry-run] [--max-lag-bytes 16777216] [--max-lag-seconds 30] [--verify-timeout 120]",
  async run(argv, io) {
    const args = parseArgs(argv, ["dry-run"]);
    const to = stringFlag(args, "to");
    if (!to) throw usageError("--to", undefined, "the standby to switch over to is missing", "write ems-ha switchover --to <node name> --config X");
    if (args.positional.length > 0) throw usageError("--to", args.positional, "unexpected arguments", "name the target with --to only");
    const d = loadDeployment(configPath(args, io));
    const r = await switchover(d, to, {
      env: io.env,
      dryRun: args.flags["dry-run"] === true,
      maxLagBytes: numberFlag(args, "max-lag-bytes", 0),
      maxLagSeconds: numberFlag(args, "max-lag-seconds", 0),
      verifyTimeoutMs: (numberFlag(args, "verify-timeout", 1, 3600) ?? 120) * 1000,
      onProgress: (l) => io.err(l),
    });
    if (r.output) io.err(r.output);
    (r.ok ? io.out : io.err)(r.message);
    return r.ok ? 0 : 1;
  },
};
