import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { reportMarkdown } from "../../analysis/report/markdown";
import { topologySvg } from "../../analysis/report/topology-svg";
import { runRules } from "../../analysis/rules";
import { loadDeployment } from "../../config/load";
import { parseArgs, stringFlag, usageError } from "../args";
import type { Command } from "../command";
import { configPath } from "../config-arg";
import { modelFlag } from "./failover";

export const reportCommand: Command = {
  name: "report",
  summary: "Write report.md and topology.svg for a pull-request review",
  usage: "ems-ha report --config X --out DIR [--model repmgr|vendor]",
  run(argv, io) {
    const args = parseArgs(argv);
    const d = loadDeployment(configPath(args, io));
    const model = modelFlag(args);
    const outText = stringFlag(args, "out");
    if (!outText) throw usageError("--out", undefined, "is required", "add --out DIR (created if missing)");
    // Everything is computed before anything is written.
    const svg = topologySvg(d);
    const md = reportMarkdown(d, { model, findings: runRules(d), svgName: "topology.svg" });
    const out = resolve(io.cwd, outText);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "topology.svg"), svg);
    writeFileSync(join(out, "report.md"), md);
    io.out(`wrote ${join(out, "report.md")} and ${join(out, "topology.svg")}`);
    return 0;
  },
};
