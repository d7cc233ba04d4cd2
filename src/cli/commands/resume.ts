import { loadDeployment } from "../../config/load";
import { setPaused } from "../../ops/pause";
import { parseArgs } from "../args";
import type { Command } from "../command";
import { configPath } from "../config-arg";

export const resumeCommand: Command = {
  name: "resume",
  summary: "Resume repmgrd on every node (repmgr service unpause) after ems-ha pause",
  usage: "ems-ha resume --config X",
  async run(argv, io) {
    const args = parseArgs(argv);
    const d = loadDeployment(configPath(args, io));
    const r = await setPaused(d, false, { env: io.env, onProgress: (l) => io.err(l) });
    if (r.output) io.err(r.output);
    (r.ok ? io.out : io.err)(r.message);
    return r.ok ? 0 : 1;
  },
};
