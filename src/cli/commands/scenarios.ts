import { clusterOf } from "../../analysis/failover/cluster";
import { shortOutcome } from "../../analysis/failover/model";
import { deploymentScenarios, disagreements, scenarioJson, scenarioTable } from "../../analysis/failover/scenarios";
import { loadDeployment } from "../../config/load";
import { parseArgs } from "../args";
import type { Command } from "../command";
import { configPath } from "../config-arg";
import { modelFlag } from "./failover";

export const scenariosCommand: Command = {
  name: "scenarios",
  summary: "The failover table: every single node, pair and location outage for each possible primary",
  usage: "ems-ha scenarios --config X [--model repmgr|vendor] [--json]",
  run(argv, io) {
    const args = parseArgs(argv, ["json"]);
    const d = loadDeployment(configPath(args, io));
    const model = modelFlag(args);
    const nodes = clusterOf(d);
    const results = deploymentScenarios(d, model, nodes);
    if (args.flags.json) {
      io.out(JSON.stringify(scenarioJson(results), null, 2));
      return 0;
    }
    const diff = disagreements(results);
    io.out(
      [
        `Failover scenarios of ${d.name} (${d.topology}), ${model} model: ${results.length} scenarios.`,
        "",
        scenarioTable(nodes, results),
        "",
        diff.length === 0
          ? `The ${model} and ${results[0]?.other.model ?? "other"} models agree on every scenario.`
          : [
              `The models disagree on ${diff.length} scenario(s):`,
              ...diff.map((r) => `  - primary ${r.scenario.primary}, down ${r.scenario.down.join(", ")}: ${model}: ${shortOutcome(r.outcome)}; ${r.other.model}: ${shortOutcome(r.other)}`),
            ].join("\n"),
      ].join("\n"),
    );
    return 0;
  },
};
