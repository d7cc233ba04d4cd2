import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { reportMarkdown } from "../../analysis/report/markdown";
import { topologySvg } from "../../analysis/report/topology-svg";
import { runRules } from "../../analysis/rules";
import { resolveDeployments } from "../../config/deployments";
import type { Deployment } from "../../config/schema";
import { usageError } from "../args";
import { electionRepair } from "../../render/election-repair";
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
    all: { type: "boolean", description: "every deployment of deployments/ (or $EMS_HA_DEPLOYMENTS): DIR/<stack>/report.md" },
    stack: { type: "string", placeholder: "S", description: "the deployment of stack S from deployments/: DIR/<stack>/report.md" },
  },
  run({ flags }, io) {
    const model = modelOf(flags.model);
    const out = resolve(io.cwd, flags.out);
    let targets: Array<{ deployment: Deployment; dir: string }>;
    if (flags.all === true || flags.stack !== undefined) {
      const entries = resolveDeployments(flags.config, io.cwd, io.env) ?? [];
      const chosen = flags.stack === undefined ? entries : entries.filter((e) => e.stackId === flags.stack);
      if (chosen.length === 0)
        throw usageError(
          flags.stack ? "--stack" : "--all",
          flags.stack,
          "matches no deployment",
          `add deployments/<name>.ts or use one of: ${entries.map((e) => e.stackId).join(", ") || "(none)"}`,
        );
      targets = chosen.map((e) => ({ deployment: e.deployment, dir: join(out, e.stackId) }));
    } else {
      targets = [{ deployment: readDeployment(flags.config, io).deployment, dir: out }];
    }
    // Everything is computed before anything is written.
    const rendered = targets.map((t) => ({
      ...t,
      svg: topologySvg(t.deployment),
      md: reportMarkdown(t.deployment, {
        model,
        findings: runRules(t.deployment),
        svgName: "topology.svg",
        ...(electionRepair(t.deployment).enabled ? { electionRepairAfterSeconds: electionRepair(t.deployment).afterSeconds } : {}),
      }),
    }));
    for (const r of rendered) {
      mkdirSync(r.dir, { recursive: true });
      writeFileSync(join(r.dir, "topology.svg"), r.svg);
      writeFileSync(join(r.dir, "report.md"), r.md);
      io.out(`wrote ${join(r.dir, "report.md")} and ${join(r.dir, "topology.svg")}`);
    }
    return 0;
  },
});
