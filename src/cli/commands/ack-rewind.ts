import { loadDeployment } from "../../config/load";
import { ackRewind } from "../../ops/rewind";
import { parseArgs, usageError } from "../args";
import type { Command } from "../command";
import { configPath } from "../config-arg";

export const ackRewindCommand: Command = {
  name: "ack-rewind",
  summary: "Print and remove a data node's rewind records (what a self-healing rewind discarded) once reviewed",
  usage: "ems-ha ack-rewind NODE --config X",
  async run(argv, io) {
    const args = parseArgs(argv);
    const [node, ...extra] = args.positional;
    if (!node) throw usageError("NODE", undefined, "the data node whose rewind records to acknowledge is missing", "write ems-ha ack-rewind <node name> --config X");
    if (extra.length > 0) throw usageError("NODE", args.positional, "only one node at a time", "name a single data node");
    const d = loadDeployment(configPath(args, io));
    const r = await ackRewind(d, node, { env: io.env });
    if (r.records.trim()) io.err(r.records.trimEnd());
    (r.ok ? io.out : io.err)(r.message);
    return r.ok ? 0 : 1;
  },
};
