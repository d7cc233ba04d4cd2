import { loadDeployment } from "../../config/load";
import { promoteNode } from "../../ops/promote";
import { numberFlag, parseArgs, usageError } from "../args";
import type { Command } from "../command";
import { configPath } from "../config-arg";

export const promoteCommand: Command = {
  name: "promote",
  summary: "Promote a standby (manual failover); refused while another writable primary answers",
  usage: "ems-ha promote NODE --config X [--verify-timeout 60]",
  async run(argv, io) {
    const args = parseArgs(argv);
    const [node, ...extra] = args.positional;
    if (!node) throw usageError("NODE", undefined, "the data node to promote is missing", "write ems-ha promote <node name> --config X");
    if (extra.length > 0) throw usageError("NODE", args.positional, "only one node can be promoted", "name a single data node");
    const d = loadDeployment(configPath(args, io));
    const verify = numberFlag(args, "verify-timeout", 1, 3600) ?? 60;
    const r = await promoteNode(d, node, { env: io.env, verifyTimeoutMs: verify * 1000, onProgress: (l) => io.err(l) });
    if (r.output) io.err(r.output);
    (r.ok ? io.out : io.err)(r.message);
    return r.ok ? 0 : 1;
  },
};
