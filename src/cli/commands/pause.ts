import { loadDeployment } from "../../config/load";
import { setPaused } from "../../ops/pause";
import { parseArgs } from "../args";
import type { Command } from "../command";
import { configPath } from "../config-arg";

export const pauseCommand: Command = {
  name: "pause",
  summary: "Pause repmgrd on every node (repmgr service pause): no automatic failover until ems-ha resume",
  usage: "ems-ha pause --config X",
  async run(argv, io) {
    const args = parseArgs(argv);
    const d = loadDeployment(configPath(args, io));
    const r = await setPaused(d, true, { env: io.env, onProgress: (l) => io.err(l) });
    if (r.output) io.err(r.output);
    (r.ok ? io.out : io.err)(r.message);
    return r.ok ? 0 : 1;
  },
};
