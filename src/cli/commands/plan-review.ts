/**
 * ems-ha plan-review: what a Terraform plan does to the running HA deployment, for a
 * pull-request comment. Thin: the work is in src/review.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { resolveDeployments, type DeploymentEntry } from "../../config/deployments";
import { parsePlanJson, reviewMarkdown, reviewPlan, synthAndPlan, type PlanReview } from "../../review";
import { usageError } from "../args";
import { defineCommand } from "../command";
import { CONFIG_FLAG } from "../deployment-file";

export const planReviewCommand = defineCommand({
  name: "plan-review",
  summary: "Review a Terraform plan in HA terms (Markdown or --json); exit 0 safe, 1 review needed, 2 refused",
  positionals: [{ name: "PLAN", required: false, description: "the output of `terraform show -json plan.out` (- reads stdin)" }],
  flags: {
    config: CONFIG_FLAG,
    stack: {
      type: "string",
      placeholder: "S",
      description: "with PLAN: the deployment of stack S (acknowledgements, roles); alone: synthesize, plan and review stack S",
    },
    all: { type: "boolean", description: "synthesize, plan and review every deployment (deployments/ or $EMS_HA_DEPLOYMENTS)" },
    primary: { type: "string", placeholder: "NODE", description: "the node that is primary now (ems-ha status); default: the deployment's initial primary" },
    json: { type: "boolean", description: "print the review as JSON" },
    out: { type: "string", placeholder: "FILE", description: "write the review to FILE instead of stdout" },
  },
  notes: "Give exactly one of: PLAN, --stack S, --all. Exit codes: 0 safe, 1 review needed, 2 refused (data loss without acknowledgement) or bad input.",
  async run({ flags, positionals }, io) {
    const input = positionals[0];
    const stack = flags.stack;
    const all = flags.all === true;
    if ([input !== undefined || stack !== undefined, all].filter(Boolean).length !== 1 || (all && input !== undefined)) {
      throw usageError(
        "plan-review",
        positionals,
        "needs exactly one of: a plan JSON file (or - for stdin), --stack S, --all",
        "run `terraform show -json plan.out > plan.json` and pass plan.json, or use --stack S",
      );
    }
    // --config, $EMS_HA_CONFIG, $EMS_HA_DEPLOYMENTS, ./ems-ha.config.*, ./deployments/ (the app's order)
    const entries: DeploymentEntry[] = resolveDeployments(flags.config, io.cwd, io.env) ?? [];
    let reviews: PlanReview[];
    if (input !== undefined) {
      const text = input === "-" ? readFileSync(0, "utf8") : readFileSync(resolve(io.cwd, input), "utf8");
      const plan = parsePlanJson(text, input === "-" ? "(stdin)" : input);
      const entry = stack !== undefined ? entries.find((e) => e.stackId === stack) : entries.length === 1 ? entries[0] : undefined;
      if (stack !== undefined && !entry && entries.length > 0)
        throw usageError("--stack", stack, "is not a stack of the deployments", `use one of: ${entries.map((e) => e.stackId).join(", ")}`);
      reviews = [reviewPlan(plan, { deployment: entry?.deployment, primary: flags.primary, stack: entry?.stackId ?? stack })];
    } else {
      if (entries.length === 0)
        throw usageError(all ? "--all" : "--stack", stack, "no deployment found", "add deployments/<name>.ts, set EMS_HA_DEPLOYMENTS or pass --config");
      const chosen = all ? entries : entries.filter((e) => e.stackId === stack);
      if (chosen.length === 0)
        throw usageError("--stack", stack, "is not a stack of the deployments", `use one of: ${entries.map((e) => e.stackId).join(", ")}`);
      const planned = await synthAndPlan({ cwd: io.cwd, env: io.env, stacks: chosen.map((e) => e.stackId) });
      reviews = planned.map((p, i) =>
        reviewPlan(parsePlanJson(p.planJson, p.stack), { deployment: chosen[i]!.deployment, primary: flags.primary, stack: p.stack }),
      );
    }
    const text = flags.json ? JSON.stringify(reviews.length === 1 ? reviews[0] : reviews, null, 2) : reviews.map(reviewMarkdown).join("\n---\n\n");
    if (flags.out) writeFileSync(resolve(io.cwd, flags.out), text.endsWith("\n") ? text : `${text}\n`);
    else io.out(text);
    return Math.max(...reviews.map((r) => r.exitCode));
  },
});
