import { renderChecklist } from "../../render/checklist";
import { fortigateObjects, renderFortiOsCli } from "../../render/fortios";
import { ConfigError } from "../../config/errors";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment } from "../deployment-file";

export const checklistCommand = defineCommand({
  name: "checklist",
  summary: "Print the EMS GUI steps that have no automation, with the deployment's values",
  flags: { config: CONFIG_FLAG },
  run({ flags }, io) {
    const { deployment } = readDeployment(flags.config, io);
    io.out(renderChecklist(deployment));
    return 0;
  },
});

export const fortiosCliCommand = defineCommand({
  name: "fortios-cli",
  summary: "Print the FortiGate load-balancer configuration as FortiOS CLI commands",
  flags: { config: CONFIG_FLAG },
  run({ flags }, io) {
    const { path, deployment: d } = readDeployment(flags.config, io);
    if (!d.fortigate) {
      throw new ConfigError(
        [
          {
            path: "fortigate",
            value: undefined,
            message: "the deployment has no fortigate section",
            fix: "add fortigate: { address, incomingInterface, outgoingInterface }",
          },
        ],
        path,
      );
    }
    io.out(renderFortiOsCli(fortigateObjects(d, d.fortigate), d.fortigate.vdom));
    return 0;
  },
});
