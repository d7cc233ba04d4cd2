import { setPaused } from "../../ops/pause";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment } from "../deployment-file";

export const resumeCommand = defineCommand({
  name: "resume",
  summary: "Resume repmgrd on every node (repmgr service unpause) after ems-ha pause",
  flags: { config: CONFIG_FLAG },
  async run({ flags }, io) {
    const { deployment: d } = readDeployment(flags.config, io);
    const r = await setPaused(d, false, { env: io.env, onProgress: (l) => io.err(l) });
    if (r.output) io.err(r.output);
    (r.ok ? io.out : io.err)(r.message);
    return r.ok ? 0 : 1;
  },
});
