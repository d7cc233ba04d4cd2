import { rollingRestart } from "../../ops/rolling";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment, verifyTimeoutFlag } from "../deployment-file";

export const rollingRestartCommand = defineCommand({
  name: "rolling-restart",
  summary:
    "Restart what waits for a PostgreSQL restart, one node at a time: standbys and witnesses first, then one switchover for the primary (native); refused unless the cluster is healthy",
  flags: {
    config: CONFIG_FLAG,
    "dry-run": { type: "boolean", description: "report what each node would do (repmgr's switchover --dry-run included), change nothing" },
    "verify-timeout": verifyTimeoutFlag(120, "how long to wait for a healthy cluster afterwards"),
  },
  async run({ flags }, io) {
    const { deployment: d } = readDeployment(flags.config, io);
    const r = await rollingRestart(d, {
      env: io.env,
      dryRun: flags["dry-run"] === true,
      verifyTimeoutMs: flags["verify-timeout"] * 1000,
      onProgress: (l) => io.err(l),
    });
    (r.ok ? io.out : io.err)(r.message);
    return r.ok ? 0 : 1;
  },
});
