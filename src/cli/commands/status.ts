import { loadDeployment } from "../../config/load";
import { gatherStatus, renderStatusTable } from "../../ops/status";
import { numberFlag, parseArgs } from "../args";
import type { Command } from "../command";
import { configPath } from "../config-arg";

export const statusCommand: Command = {
  name: "status",
  summary: "Show each DB node's role, lag and repmgr view and each EMS node's services; exit 1 when degraded",
  usage: "ems-ha status --config X [--json] [--connect-timeout 4]   (DB password: EMS_HA_DB_PASSWORD or TF_VAR_db_password)",
  async run(argv, io) {
    const args = parseArgs(argv, ["json"]);
    const d = loadDeployment(configPath(args, io));
    const connectSeconds = numberFlag(args, "connect-timeout", 1, 60) ?? 4;
    const status = await gatherStatus(d, { env: io.env, connectMs: connectSeconds * 1000 });
    io.out(args.flags.json === true ? JSON.stringify(status, null, 2) : renderStatusTable(status));
    return status.degraded ? 1 : 0;
  },
};
