import { loadDeployment } from "../../config/load";
import { renderChecklist } from "../../render/checklist";
import { fortigateObjects, renderFortiOsCli } from "../../render/fortios";
import { parseArgs, usageError } from "../args";
import type { Command } from "../command";
import { configPath } from "../config-arg";

export const checklistCommand: Command = {
  name: "checklist",
  summary: "Print the EMS GUI steps that have no automation, with the deployment's values",
  usage: "ems-ha checklist --config X",
  run(argv, io) {
    const d = loadDeployment(configPath(parseArgs(argv), io));
    io.out(renderChecklist(d));
    return 0;
  },
};

export const fortiosCliCommand: Command = {
  name: "fortios-cli",
  summary: "Print the FortiGate load-balancer configuration as FortiOS CLI commands",
  usage: "ems-ha fortios-cli --config X",
  run(argv, io) {
    const d = loadDeployment(configPath(parseArgs(argv), io));
    if (!d.fortigate) throw usageError("fortigate", undefined, "the deployment has no fortigate section", "add fortigate: { address, incomingInterface, outgoingInterface }");
    io.out(renderFortiOsCli(fortigateObjects(d, d.fortigate), d.fortigate.vdom));
    return 0;
  },
};
