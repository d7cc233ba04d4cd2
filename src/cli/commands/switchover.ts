import { DOCKER_TOPOLOGIES } from "../../config/semantics";
import { dockerSwitchover } from "../../ops/docker-switchover";
import { switchover } from "../../ops/switchover";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment } from "../deployment-file";

export const switchoverCommand = defineCommand({
  name: "switchover",
  summary:
    "Planned switchover to a standby (native: repmgr standby switchover --siblings-follow; Docker: the same steps over docker exec); refused unless the cluster is healthy",
  flags: {
    config: CONFIG_FLAG,
    to: { type: "string", required: true, placeholder: "NODE", description: "the standby that becomes primary" },
    "dry-run": { type: "boolean", description: "check and print what would run (native: repmgr's own --dry-run), change nothing" },
    "max-lag-bytes": {
      type: "integer",
      min: 0,
      placeholder: "BYTES",
      description: "refuse when the target's replay lag is larger; absent: the built-in limit",
    },
    "max-lag-seconds": { type: "number", min: 0, placeholder: "SECONDS", description: "refuse when the target is further behind; absent: the built-in limit" },
    "verify-timeout": { type: "number", default: 120, min: 1, max: 3600, placeholder: "SECONDS", description: "how long to wait for the new roles" },
  },
  async run({ flags }, io) {
    const { deployment: d } = readDeployment(flags.config, io);
    const r = await (DOCKER_TOPOLOGIES.has(d.topology) ? dockerSwitchover : switchover)(d, flags.to, {
      env: io.env,
      dryRun: flags["dry-run"] === true,
      maxLagBytes: flags["max-lag-bytes"],
      maxLagSeconds: flags["max-lag-seconds"],
      verifyTimeoutMs: flags["verify-timeout"] * 1000,
      onProgress: (l) => io.err(l),
    });
    if (r.output) io.err(r.output);
    (r.ok ? io.out : io.err)(r.message);
    return r.ok ? 0 : 1;
  },
});
