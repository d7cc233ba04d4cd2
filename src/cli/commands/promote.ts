import { promoteNode } from "../../ops/promote";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment, verifyTimeoutFlag } from "../deployment-file";

export const promoteCommand = defineCommand({
  name: "promote",
  summary: "Promote a standby (manual failover); refused while another writable primary answers",
  positionals: [{ name: "NODE", description: "the data node to promote, e.g. pg-2" }],
  flags: {
    config: CONFIG_FLAG,
    "verify-timeout": verifyTimeoutFlag(60, "how long to wait for the node to answer as primary"),
  },
  notes: "DB password: $EMS_HA_DB_PASSWORD or $TF_VAR_db_password (never a flag).",
  async run({ flags, positionals }, io) {
    const node = positionals[0]!;
    const { deployment: d } = readDeployment(flags.config, io);
    const r = await promoteNode(d, node, { env: io.env, verifyTimeoutMs: flags["verify-timeout"] * 1000, onProgress: (l) => io.err(l) });
    if (r.output) io.err(r.output);
    (r.ok ? io.out : io.err)(r.message);
    return r.ok ? 0 : 1;
  },
});
