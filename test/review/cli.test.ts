/** `ems-ha plan-review` on a plan JSON file or stdin: Markdown or --json, exit 0 / 1 / 2, bad input exit 2. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import example from "../../examples/single-region";
import { runCli } from "../../src/cli/main";
import { spawnAsync } from "../../src/spawn-async";
import { tempDir } from "../helpers/tmp";
import { dockerPlan } from "./lib/docker-plan";

const S = { db_password: "Cli-DB-pass-4410", repmgr_password: "Cli-repmgr-pass-2231", fortigate_token: "Cli-fgt-7781" };

async function run(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t), cwd, env });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("ems-ha plan-review (CLI)", () => {
  const dir = tempDir("ems-ha-plan-review-cli-");
  const v2 = structuredClone(example) as any;
  v2.database.nodes[1].name = "pg-3";
  writeFileSync(join(dir, "refused.json"), JSON.stringify(dockerPlan(example, v2, S)));
  // one standby's container replaced for a new password (applied per node, -target): review, not refused
  const rotation = dockerPlan(example, example, S, { ...S, db_password: "Cli-new-9" });
  const perNode = { ...rotation, resource_changes: rotation.resource_changes!.filter((c) => !/^docker_container\.(pg-1|pgw-1)_/.test(c.address)) };
  writeFileSync(join(dir, "review.json"), JSON.stringify(perNode));
  writeFileSync(join(dir, "safe.json"), JSON.stringify(dockerPlan(example, example, S)));
  writeFileSync(
    join(dir, "v2.json"),
    JSON.stringify({
      ...v2,
      acknowledgements: [
        { rule: "plan-data-loss", reason: "pg-2 is renamed pg-3 on purpose" },
        { rule: "plan-docker-membership", reason: "pg-2 is renamed pg-3, by hand" },
      ],
    }),
  );

  it("exit 2 for unacknowledged data loss, 1 for review, 0 for safe", async () => {
    expect((await run(["plan-review", "refused.json"], dir)).code).toBe(2);
    const review = await run(["plan-review", "review.json"], dir);
    expect(review.code).toBe(1);
    expect(review.out).not.toContain("Cli-new-9");
    expect(review.out).not.toContain(S.db_password);
    const safe = await run(["plan-review", "safe.json"], dir);
    expect(safe.code).toBe(0);
    expect(safe.out).toContain("✅ safe to apply");
  });

  it("--config brings the deployment's acknowledgement: exit 1", async () => {
    const r = await run(["plan-review", "refused.json", "--config", "v2.json", "--json"], dir);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.verdict).toBe("review");
    expect(j.findings[0].severity).toBe("acknowledged");
  });

  it("without --config, the repository's single deployment (ems-ha.config.json) is used", async () => {
    const repo = tempDir("ems-ha-plan-review-repo-");
    writeFileSync(join(repo, "ems-ha.config.json"), readFileSync(join(dir, "v2.json"), "utf8"));
    const r = await run(["plan-review", join(dir, "refused.json"), "--json"], repo);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).findings[0].severity).toBe("acknowledged");
  });

  it("--out writes the Markdown to a file", async () => {
    const r = await run(["plan-review", "review.json", "--out", "comment.md"], dir);
    expect(r.code).toBe(1);
    expect(readFileSync(join(dir, "comment.md"), "utf8")).toContain("### ems-ha plan review");
  });

  it("reads the plan from stdin with -", async () => {
    const r = await spawnAsync(process.execPath, [join(__dirname, "..", "..", "bin", "ems-ha.js"), "plan-review", "-", "--json"], {
      cwd: dir,
      input: readFileSync(join(dir, "refused.json"), "utf8"),
      timeoutMs: 60_000,
    });
    expect(r.status).toBe(2);
    const kinds = (JSON.parse(r.stdout).findings as Array<{ kind: string; severity: string }>).filter((f) => f.severity === "refused").map((f) => f.kind);
    expect(kinds).toContain("standby-reclone");
    expect(kinds).toContain("membership");
  });

  it("bad input: not a plan, missing arguments -> exit 2 with a fix", async () => {
    writeFileSync(join(dir, "state.json"), JSON.stringify({ version: 4, resources: [] }));
    const notPlan = await run(["plan-review", "state.json"], dir);
    expect(notPlan.code).toBe(2);
    expect(notPlan.err).toContain("terraform show -json plan.out");
    writeFileSync(join(dir, "text.txt"), "Terraform will perform the following actions:");
    expect((await run(["plan-review", "text.txt"], dir)).err).toContain("not JSON");
    const none = await run(["plan-review"], dir);
    expect(none.code).toBe(2);
    expect(none.err).toContain("--stack S");
  });
});
