import { loadDeployment, resolveConfigPath } from "../../config/load";
import { renderChecklist } from "../../render/checklist";
import { fortigateObjects, renderFortiOsCli } from "../../render/fortios";
import { parseArgs, stringFlag, usageError } from "../args";
import type { Command } from "../command";

export function requireConfig(argv: ReturnType<typeof parseArgs>, cwd: string, env: NodeJS.ProcessEnv): string {
  const p = resolveConfigPath(stringFlag(argv, "config"), cwd, env);
  if (!p) throw usageError("--config", undefined, "no deployment given", "pass --config path/to/deployment.ts (or .json), set EMS_HA_CONFIG, or create ems-ha.config.ts");
  return p;
}

export const checklistCommand: Command = {
  name: "checklist",
  summary: "Print the EMS GUI steps that have no automation, with the deployment's values",
  usage: "ems-ha checklist --config X",
  run(argv, io) {
    const d = loadDeployment(requireConfig(parseArgs(argv), io.cwd, io.env));
    io.out(renderChecklist(d));
    return 0;
  },
};

export const fortiosCliCommand: Command = {
  name: "fortios-cli",
  summary: "Print the FortiGate load-balancer configuration as FortiOS CLI commands",
  usage: "ems-ha fortios-cli --config X",
  run(argv, io) {
    const d = loadDeployment(requireConfig(parseArgs(argv), io.cwd, io.env));
    if (!d.fortigate) throw usageError("fortigate", undefined, "the deployment has no fortigate section", "add fortigate: { address, incomingInterface, outgoingInterface }");
    io.out(renderFortiOsCli(fortigateObjects(d, d.fortigate), d.fortigate.vdom));
    return 0;
  },
};
