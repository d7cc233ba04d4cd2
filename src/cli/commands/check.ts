import { checkDeployment } from "../../analysis/check";
import { formatFinding } from "../../analysis/rules";
import { readDeploymentInput } from "../../config/load";
import { ConfigError } from "../../config/errors";
import { parseArgs } from "../args";
import type { Command } from "../command";
import { configPath } from "../config-arg";

export const checkCommand: Command = {
  name: "check",
  summary: "Validate a deployment and run the topology rules; exit 2 on an unacknowledged error, print warnings",
  usage: "ems-ha check --config X [--json]",
  run(argv, io) {
    const args = parseArgs(argv, ["json"]);
    const path = configPath(args, io);
    // Schema errors, cross-field errors and (for a valid deployment) warnings, all in one run.
    const { findings, errors, warnings } = checkDeployment(readDeploymentInput(path));
    if (args.flags.json) io.out(JSON.stringify(findings, null, 2));
    else {
      for (const f of findings) (f.level === "error" && f.acknowledged === undefined ? io.err : io.out)(formatFinding(f));
      io.out(`${path}: ${errors.length} error(s), ${warnings.length} warning(s), ${findings.length - errors.length - warnings.length} acknowledged.`);
    }
    return errors.length > 0 ? ConfigError.EXIT_CODE : 0;
  },
};
