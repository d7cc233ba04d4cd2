import { statusMetrics } from "../../ops/metrics";
import { gatherStatus, renderStatusTable } from "../../ops/status";
import { renderPrometheus } from "../../render/prometheus";
import { usageError } from "../args";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment } from "../deployment-file";

export const statusCommand = defineCommand({
  name: "status",
  summary: "Show each DB node's role, lag and repmgr view and each EMS node's services; exit 1 when degraded",
  flags: {
    config: CONFIG_FLAG,
    json: { type: "boolean", description: "print the status as JSON" },
    prometheus: {
      type: "boolean",
      description: "print the status as Prometheus metrics (text format, for node_exporter's textfile collector); the exit code stays the same",
    },
    "connect-timeout": { type: "number", default: 4, placeholder: "SECONDS", description: "per-node connection timeout", min: 1, max: 60 },
    "ssh-timeout": {
      type: "number",
      default: 20,
      placeholder: "SECONDS",
      description: "bound of each SSH call (EMS services, rewind records, disks); the connection itself within at most 10 s of it",
      min: 2,
      max: 600,
    },
  },
  notes: "DB password: $EMS_HA_DB_PASSWORD or $TF_VAR_db_password (never a flag).",
  async run({ flags }, io) {
    if (flags.json && flags.prometheus) throw usageError("--prometheus", true, "cannot be combined with --json", "choose one of --json and --prometheus");
    const { deployment: d } = readDeployment(flags.config, io);
    const status = await gatherStatus(d, { env: io.env, connectMs: flags["connect-timeout"] * 1000, sshTimeoutMs: flags["ssh-timeout"] * 1000 });
    if (flags.prometheus) io.out(renderPrometheus(statusMetrics(status, new Date())).trimEnd());
    else io.out(flags.json ? JSON.stringify(status, null, 2) : renderStatusTable(status));
    return status.degraded ? 1 : 0;
  },
});
