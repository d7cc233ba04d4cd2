import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { reportMarkdown } from "../../analysis/report/markdown";
import { topologySvg } from "../../analysis/report/topology-svg";
import { runRules } from "../../analysis/rules";
import { resolveDeployments } from "../../config/deployments";
import { loadDeployment } from "../../config/load";
import type { Deployment } from "../../config/schema";
import { parseArgs, stringFlag, usageError } from "../args";
import type { Command } from "../command";
import { configPath } from "../config-arg";
import { modelFlag } from "./failover";

export const reportCommand: Command = {
  name: "report",
  summary: "Write report.md and topology.svg for a pull-request review",
  usage: "ems-ha report --config X --out DIR [--model repmgr|vendor]\n       ems-ha report --all | --stack S --out DIR   (deployments/ or $EMS_HA_DEPLOYMENTS: DIR/<stack>/report.md)",
  run(argv, io) {
    const args = parseArgs(argv, ["all"]);
    const model = modelFlag(args);
    const outText = stringFlag(args, "out");
    if (!outText) throw usageError("--out", undefined, "is required", "add --out DIR (created if missing)");
    const stack = stringFlag(args, "stack");
    const many = args.flags.all === true || stack !== undefined;
    let targets: Array<{ deployment: Deployment; dir: string }>;
    const out = resolve(io.cwd, outText);
    if (many) {
      const entries = resolveDeployments(stringFlag(args, "config"), io.cwd, io.env) ?? [];
      const chosen = stack === undefined ? entries : entries.filter((e) => e.stackId === stack);
      if (chosen.length === 0) throw usageError(stack ? "--stack" : "--all", stack, "matches no deployment", `add deployments/<name>.ts or use one of: ${entries.map((e) => e.stackId).join(", ") || "(none)"}`);
      targets = chosen.map((e) => ({ deployment: e.deployment, dir: join(out, e.stackId) }));
    } else {
      targets = [{ deployment: loadDeployment(configPath(args, io)), dir: out }];
    }
    // Everything is computed before anything is written.
    const rendered = targets.map((t) => ({ ...t, svg: topologySvg(t.deployment), md: reportMarkdown(t.deployment, { model, findings: runRules(t.deployment), svgName: "topology.svg" }) }));
    for (const r of rendered) {
      mkdirSync(r.dir, { recursive: true });
      writeFileSync(join(r.dir, "topology.svg"), r.svg);
      writeFileSync(join(r.dir, "report.md"), r.md);
      io.out(`wrote ${join(r.dir, "report.md")} and ${join(r.dir, "topology.svg")}`);
    }
    return 0;
  },
};
