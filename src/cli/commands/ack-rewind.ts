import { ackRewind } from "../../ops/rewind";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment } from "../deployment-file";

export const ackRewindCommand = defineCommand({
  name: "ack-rewind",
  summary: "Print and remove a data node's rewind records (what a self-healing rewind discarded) once reviewed",
  positionals: [{ name: "NODE", description: "the data node whose rewind records to acknowledge" }],
  flags: {
    config: CONFIG_FLAG,
    "remove-wal": {
      type: "boolean",
      description: "also remove the node's saved WAL segments (rewind-NODE-<time>.wal/), once inspected; without it they are kept and listed by status",
    },
  },
  async run({ flags, positionals }, io) {
    const node = positionals[0]!;
    const { deployment: d } = readDeployment(flags.config, io);
    const r = await ackRewind(d, node, { env: io.env, removeWal: flags["remove-wal"] });
    if (r.records.trim()) io.err(r.records.trimEnd());
    (r.ok ? io.out : io.err)(r.message);
    return r.ok ? 0 : 1;
  },
});
