import { formatFinding, openFindings, runRules } from "../../analysis/rules";
import { readDeploymentInput } from "../../config/load";
import { ConfigError } from "../../config/errors";
import { zodIssues } from "../../config/parse";
import { deploymentSchema } from "../../config/schema";
import { defineCommand } from "../command";
import { CONFIG_FLAG, deploymentFile } from "../deployment-file";

export const checkCommand = defineCommand({
  name: "check",
  summary: "Run the topology rules; exit 2 on an unacknowledged error, print warnings",
  flags: { config: CONFIG_FLAG, json: { type: "boolean", description: "print the findings as JSON" } },
  notes: "Exit codes: 0 no open error (warnings may print), 2 bad input or an unacknowledged rule error.",
  run({ flags }, io) {
    const path = deploymentFile(flags.config, io);
    const input = readDeploymentInput(path);
    // Schema errors stop here; the cross-field checks run below as rules with ids.
    const parsed = deploymentSchema.safeParse(input);
    if (!parsed.success) throw new ConfigError(zodIssues(parsed.error, input), path);
    const findings = runRules(parsed.data);
    const errors = openFindings(findings, "error");
    const warnings = openFindings(findings, "warning");
    if (flags.json) io.out(JSON.stringify(findings, null, 2));
    else {
      for (const f of findings) (f.level === "error" && f.acknowledged === undefined ? io.err : io.out)(formatFinding(f));
      io.out(`${path}: ${errors.length} error(s), ${warnings.length} warning(s), ${findings.length - errors.length - warnings.length} acknowledged.`);
    }
    return errors.length > 0 ? ConfigError.EXIT_CODE : 0;
  },
});
