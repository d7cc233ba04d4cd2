import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { reportMarkdown } from "../../analysis/report/markdown";
import { topologySvg } from "../../analysis/report/topology-svg";
import { runRules } from "../../analysis/rules";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment } from "../deployment-file";
import { MODEL_FLAG, modelOf } from "./failover";

export const reportCommand = defineCommand({
  name: "report",
  summary: "Write report.md and topology.svg for a pull-request review",
  flags: {
    config: CONFIG_FLAG,
    out: { type: "string", required: true, placeholder: "DIR", description: "directory to write report.md and topology.svg to (created if missing)" },
    model: MODEL_FLAG,
  },
  run({ flags }, io) {
    const { deployment: d } = readDeployment(flags.config, io);
    const model = modelOf(flags.model);
    // Everything is computed before anything is written.
    const svg = topologySvg(d);
    const md = reportMarkdown(d, { model, findings: runRules(d), svgName: "topology.svg" });
    const out = resolve(io.cwd, flags.out);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "topology.svg"), svg);
    writeFileSync(join(out, "report.md"), md);
    io.out(`wrote ${join(out, "report.md")} and ${join(out, "topology.svg")}`);
    return 0;
  },
});
