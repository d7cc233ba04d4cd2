import { checkDeployment } from "../../analysis/check";
import { formatFinding } from "../../analysis/rules";
import { readDeploymentInput } from "../../config/load";
import { ConfigError } from "../../config/errors";
import { defineCommand } from "../command";
import { CONFIG_FLAG, deploymentFile } from "../deployment-file";

export const checkCommand = defineCommand({
  name: "check",
  summary: "Validate a deployment and run the topology rules; exit 2 on an unacknowledged error, print warnings",
  flags: { config: CONFIG_FLAG, json: { type: "boolean", description: "print the findings as JSON" } },
  notes: "Exit codes: 0 no open error (warnings may print), 2 bad input or an unacknowledged rule error.",
  run({ flags }, io) {
    const path = deploymentFile(flags.config, io);
    // Schema errors, cross-field errors and (for a valid deployment) warnings, all in one run.
    const { findings, errors, warnings } = checkDeployment(readDeploymentInput(path));
    if (flags.json) io.out(JSON.stringify(findings, null, 2));
    else {
      for (const f of findings) (f.level === "error" && f.acknowledged === undefined ? io.err : io.out)(formatFinding(f));
      io.out(`${path}: ${errors.length} error(s), ${warnings.length} warning(s), ${findings.length - errors.length - warnings.length} acknowledged.`);
    }
    return errors.length > 0 ? ConfigError.EXIT_CODE : 0;
  },
});
