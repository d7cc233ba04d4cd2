import { clusterOf } from "../../analysis/failover/cluster";
import { shortOutcome } from "../../analysis/failover/model";
import { deploymentScenarios, disagreements, scenarioJson, scenarioTable } from "../../analysis/failover/scenarios";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment } from "../deployment-file";
import { MODEL_FLAG, modelOf } from "./failover";

export const scenariosCommand = defineCommand({
  name: "scenarios",
  summary: "The failover table: every single node, pair and location outage for each possible primary",
  flags: { config: CONFIG_FLAG, model: MODEL_FLAG, json: { type: "boolean", description: "print the scenarios as JSON" } },
  run({ flags }, io) {
    const { deployment: d } = readDeployment(flags.config, io);
    const model = modelOf(flags.model);
    const nodes = clusterOf(d);
    const results = deploymentScenarios(d, model, nodes);
    if (flags.json) {
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
              ...diff.map(
                (r) =>
                  `  - primary ${r.scenario.primary}, down ${r.scenario.down.join(", ")}: ${model}: ${shortOutcome(r.outcome)}; ${r.other.model}: ${shortOutcome(r.other)}`,
              ),
            ].join("\n"),
      ].join("\n"),
    );
    return 0;
  },
});
