/**
 * The pipeline examples (ci-examples/github-actions.yml, ci-examples/gitlab-ci.yml) run as CI
 * would run them, so they cannot rot: their `run:` / `script:` commands are extracted from the
 * YAML and executed in order, with bash -eo pipefail, in a temporary copy of the repository that
 * holds a deployments/ directory.
 *
 * What differs from a real runner, and only this:
 * - `uses:` steps (checkout, setup-node, setup-terraform) are not run: the copy is the checkout,
 *   and node and terraform are on this machine.
 * - The commands that talk to the GitHub / GitLab APIs (`gh pr comment`, `curl` to the notes API)
 *   hit stubs on PATH that record what they were asked to post.
 * - `npm ci` hits a stub that links this checkout's node_modules (a full install from the
 *   registry takes minutes on this 2-core machine); every other npm/npx call is real.
 * - The stack is the real app (stacks/main.ts, real deployments, real addresses and triggers)
 *   with every provisioner replaced by a local command through a cdktf Aspect, so that
 *   `terraform apply` runs without hosts. Plans, reviews and applies are real Terraform.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import native from "../../examples/native-single-region";
import { spawnAsync } from "../../src/spawn-async";
import { tempDir } from "../helpers/tmp";
import { terraformOrFail } from "./lib/real-plan";

const ROOT = join(__dirname, "..", "..");
const SECRETS: Record<string, string> = {
  EMS_HA_DB_PASSWORD: "Ci-DB-pass-8812'z",
  EMS_HA_REPMGR_PASSWORD: "Ci-repmgr-pass-2290",
  EMS_HA_SYMMETRIC_KEY: "0a1b2c3d4e5f6a7b8c9d",
  EMS_HA_FORTIGATE_TOKEN: "Ci-fgt-token-5531",
  EMS_HA_STATE_PG_CONN_STR: "",
};

const STANDIN_MAIN = `/** Test stand-in: the real app (main.real.ts), every provisioner replaced by a local command (no hosts needed). */
import { App, Aspects, DataResource, type IAspect } from "cdktf";
import type { IConstruct } from "constructs";
import { buildApp, checkRules, collectDeployments } from "./main.real";
import { cacheBinaryVersionChecks } from "./validation-cache";

class NoHosts implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof DataResource)) return;
    node.provisioners = [{ type: "local-exec", command: 'echo "applied $EMS_HA_CI_STEP" >> "$EMS_HA_CI_APPLY_LOG"' }];
    node.connection = undefined;
  }
}
const input = collectDeployments();
checkRules(input);
cacheBinaryVersionChecks();
const app = new App();
buildApp(app, input);
for (const stack of app.node.children) Aspects.of(stack).add(new NoHosts()); // aspects are invoked from each stack down
app.synth();
`;

interface Sandbox {
  repo: string;
  home: string;
  log: string;
  applyLog: string;
  env: NodeJS.ProcessEnv;
}

function sandbox(): Sandbox {
  const base = tempDir("ems-ha-ci-");
  const repo = join(base, "repo");
  const home = join(base, "home");
  const stubs = join(base, "stubs");
  for (const d of [repo, home, stubs]) mkdirSync(d);
  for (const f of [
    "bin",
    "src",
    "stacks",
    "constructs",
    "examples",
    "index.ts",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "cdktf.json",
    ".gitignore",
  ]) {
    cpSync(join(ROOT, f), join(repo, f), { recursive: true });
  }
  renameSync(join(repo, "stacks", "main.ts"), join(repo, "stacks", "main.real.ts"));
  writeFileSync(join(repo, "stacks", "main.ts"), STANDIN_MAIN);
  mkdirSync(join(repo, "deployments"));
  const log = join(base, "stub-calls.log");
  const applyLog = join(base, "apply.log");
  const stub = (name: string, body: string) => {
    writeFileSync(join(stubs, name), `#!/usr/bin/env bash\n${body}\n`);
    chmodSync(join(stubs, name), 0o755);
  };
  // gh pr comment N --body-file F: record the call and the body it would post
  stub("gh", `echo "gh $*" >> "${log}"\nwhile [ $# -gt 0 ]; do if [ "$1" = --body-file ]; then cat "$2" >> "${log}.body"; fi; shift; done`);
  // curl ... --data-urlencode body@F URL: record the call and the body
  stub("curl", `echo "curl $*" >> "${log}"\nfor a in "$@"; do case "$a" in body@*) cat "\${a#body@}" >> "${log}.body";; esac; done`);
  const realNpm = spawnSync("bash", ["-c", "command -v npm"], { encoding: "utf8", timeout: 10_000 }).stdout.trim();
  stub(
    "npm",
    `if [ "$1" = ci ]; then echo "npm $*" >> "${log}"; [ -f package-lock.json ] || exit 1; [ -e node_modules ] || ln -s "${join(ROOT, "node_modules")}" node_modules; exit 0; fi\nexec "${realNpm}" "$@"`,
  );
  const cli = join(base, "empty.tfrc");
  writeFileSync(cli, "");
  spawnSync("git", ["init", "-q"], { cwd: repo, timeout: 10_000 });
  return {
    repo,
    home,
    log,
    applyLog,
    env: { PATH: `${stubs}:${process.env.PATH}`, HOME: home, TF_CLI_CONFIG_FILE: cli, EMS_HA_CI_APPLY_LOG: applyLog, LANG: "C.UTF-8" },
  };
}

function writeDeployment(s: Sandbox, change: (d: any) => void = () => {}): void {
  const d = structuredClone(native) as any;
  d.name = "site-a";
  change(d);
  writeFileSync(join(s.repo, "deployments", "site-a.json"), JSON.stringify(d, null, 2));
}

/** GitHub expressions of the env blocks, resolved as the runner would (secrets from the test's store). */
function githubExpr(value: unknown): string {
  return String(value).replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, e: string) => {
    const secret = /^secrets\.([A-Z0-9_]+)$/.exec(e);
    if (secret) return SECRETS[secret[1]!] ?? "";
    if (e === "github.token") return "stub-token";
    if (e === "github.event.pull_request.number") return "42";
    throw new Error(`unresolved expression in the workflow: ${e}`);
  });
}

async function runScript(s: Sandbox, script: string, env: Record<string, string>): Promise<{ status: number | null; out: string }> {
  const r = await spawnAsync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], {
    cwd: s.repo,
    env: { ...s.env, ...env },
    timeoutMs: 120_000,
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

/** Runs a GitHub Actions job: every run: step in order; stops at the first failing step. */
async function runGithubJob(s: Sandbox, job: string): Promise<{ failedStep?: string; out: string }> {
  const wf = parse(readFileSync(join(ROOT, "ci-examples", "github-actions.yml"), "utf8"));
  const j = wf.jobs[job];
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...(wf.env ?? {}), ...(j.env ?? {}) })) base[k] = githubExpr(v);
  let out = "";
  for (const step of j.steps as Array<Record<string, any>>) {
    if (step.uses) continue; // checkout / setup-node / setup-terraform: provided by this machine
    const env: Record<string, string> = { ...base, EMS_HA_CI_STEP: `${job}/${step.name}` };
    for (const [k, v] of Object.entries(step.env ?? {})) env[k] = githubExpr(v);
    const r = await runScript(s, step.run, env);
    out += `\n## ${step.name}\n${r.out}`;
    if (r.status !== 0) return { failedStep: step.name, out };
  }
  return { out };
}

/** Runs a GitLab CI job: before_script then script, each entry in order. */
async function runGitlabJob(s: Sandbox, job: string): Promise<{ failedStep?: string; out: string }> {
  const ci = parse(readFileSync(join(ROOT, "ci-examples", "gitlab-ci.yml"), "utf8"));
  const j = ci[job];
  const env: Record<string, string> = {
    ...Object.fromEntries(Object.entries(ci.variables ?? {}).map(([k, v]) => [k, String(v)])),
    TF_VAR_db_password: SECRETS.EMS_HA_DB_PASSWORD!,
    TF_VAR_repmgr_password: SECRETS.EMS_HA_REPMGR_PASSWORD!,
    TF_VAR_symmetric_key: SECRETS.EMS_HA_SYMMETRIC_KEY!,
    EMS_HA_GITLAB_TOKEN: "stub-token",
    CI_API_V4_URL: "https://gitlab.invalid/api/v4",
    CI_PROJECT_ID: "7",
    CI_MERGE_REQUEST_IID: "42",
    EMS_HA_CI_STEP: job,
  };
  let out = "";
  for (const [i, script] of [...(j.before_script ?? []), ...j.script].entries()) {
    const r = await runScript(s, script, env);
    out += `\n## ${job}[${i}]\n${r.out}`;
    if (r.status !== 0) return { failedStep: `${job}[${i}]`, out };
  }
  return { out };
}

const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : "");
const statePath = (s: Sandbox) => join(s.home, ".local", "state", "ems-ha", "site-a", "terraform.tfstate");

function tfstateFilesIn(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === "node_modules" || e.name === ".terraform") continue; // .terraform/terraform.tfstate is the backend settings cache, not state
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.tfstate(\.backup)?$|^plan\.(bin|json)$/.test(e.name)) found.push(p);
    }
  };
  walk(dir);
  return found;
}

function noSecrets(text: string): void {
  for (const v of Object.values(SECRETS)) if (v) expect(text).not.toContain(v);
}

beforeAll(() => {
  terraformOrFail();
});

describe("ci-examples/github-actions.yml, run step by step", () => {
  it("pull request: plan, review, comment; merge: apply; a later PR shows the restart it causes", async () => {
    const s = sandbox();
    writeDeployment(s);
    const pr = await runGithubJob(s, "plan");
    expect(pr.failedStep, pr.out).toBeUndefined();
    expect(read(s.log)).toContain("npm ci --no-audit --no-fund");
    expect(read(s.log)).toContain("gh pr comment 42 --body-file review.md");
    const body = read(`${s.log}.body`);
    expect(body).toContain("### ems-ha plan review: site-a");
    expect(body).toContain("Terraform: 15 to add, 0 to change, 0 to replace, 0 to destroy"); // 3 DB hosts × (prepare + setup), 2 EMS installs, 2 key exchanges, 5 rolling-restart steps
    expect(read(join(s.repo, "review-exit-code")).trim()).toBe("0");
    noSecrets(body + pr.out);
    expect(tfstateFilesIn(s.repo)).toEqual([]); // plan files and their JSON are deleted after the review

    const merge = await runGithubJob(s, "apply");
    expect(merge.failedStep, merge.out).toBeUndefined();
    expect(read(s.applyLog).match(/applied apply\//g)).toHaveLength(15);
    expect(existsSync(statePath(s))).toBe(true); // state outside the repository by default
    expect(tfstateFilesIn(s.repo)).toEqual([]);
    noSecrets(merge.out);

    writeDeployment(s, (d) => (d.database.nodes[1].ramGb = 16));
    const pr2 = await runGithubJob(s, "plan");
    expect(pr2.failedStep, pr2.out).toBeUndefined(); // review needed is not a failure: the comment says it
    expect(read(join(s.repo, "review-exit-code")).trim()).toBe("1");
    const body2 = read(`${s.log}.body`).split("### ems-ha plan review").pop()!;
    expect(body2).toContain("standby dbnode-2 may be restarted");
    expect(body2).toContain("database.nodes\\[1\\].ramGb");

    const merge2 = await runGithubJob(s, "apply");
    expect(merge2.failedStep, merge2.out).toBeUndefined();
    expect(merge2.out).toContain("Resources: 9 added, 0 changed, 9 destroyed"); // dbnode-2 (prepare and setup), the two key exchanges and the five rolling-restart steps
  }, 600_000);

  it("the refuse step fails the job when the review refused the plan", async () => {
    const s = sandbox();
    const wf = parse(readFileSync(join(ROOT, "ci-examples", "github-actions.yml"), "utf8"));
    const refuse = (wf.jobs.plan.steps as Array<Record<string, string>>).find((x) => x.name === "Refuse data loss")!;
    writeFileSync(join(s.repo, "review-exit-code"), "2\n");
    expect((await runScript(s, refuse.run!, {})).status).toBe(1);
    writeFileSync(join(s.repo, "review-exit-code"), "1\n");
    expect((await runScript(s, refuse.run!, {})).status).toBe(0);
  });

  it("uploads nothing and gates the apply behind an environment", () => {
    const wf = parse(readFileSync(join(ROOT, "ci-examples", "github-actions.yml"), "utf8"));
    const uses = Object.values(wf.jobs as Record<string, { steps: Array<{ uses?: string }> }>).flatMap((j) => j.steps.map((x) => x.uses ?? ""));
    expect(uses.filter((u) => /upload-artifact|cache@/.test(u))).toEqual([]);
    expect(wf.jobs.apply.environment).toBe("production");
  });

  it("hands the secrets only to the steps that run terraform, never to npm ci", () => {
    const wf = parse(readFileSync(join(ROOT, "ci-examples", "github-actions.yml"), "utf8"));
    expect(JSON.stringify(wf.env ?? {})).not.toContain("secrets.");
    for (const job of Object.values(wf.jobs as Record<string, { env?: object; steps: Array<{ name?: string; run?: string; env?: object }> }>)) {
      expect(JSON.stringify(job.env ?? {})).not.toContain("secrets.");
      for (const step of job.steps) {
        const hasSecrets = JSON.stringify(step.env ?? {}).includes("secrets.EMS_HA_DB_PASSWORD");
        expect(hasSecrets, step.name).toBe(/terraform .*plan/.test(step.run ?? ""));
      }
    }
  });
});

describe("ci-examples/gitlab-ci.yml, run job by job", () => {
  it("merge request: plan, review, comment through the notes API; default branch: apply", async () => {
    const s = sandbox();
    writeDeployment(s);
    const mr = await runGitlabJob(s, "plan");
    expect(mr.failedStep, mr.out).toBeUndefined();
    const calls = read(s.log);
    expect(calls).toContain("curl --fail --silent --show-error --request POST --header PRIVATE-TOKEN: stub-token");
    expect(calls).toContain("https://gitlab.invalid/api/v4/projects/7/merge_requests/42/notes");
    expect(read(`${s.log}.body`)).toContain("### ems-ha plan review: site-a");
    noSecrets(read(`${s.log}.body`) + mr.out);
    const apply = await runGitlabJob(s, "apply");
    expect(apply.failedStep, apply.out).toBeUndefined();
    expect(existsSync(statePath(s))).toBe(true);
    expect(tfstateFilesIn(s.repo)).toEqual([]);
  }, 600_000);

  it("caches and uploads nothing, and the apply is manual in a protected environment", () => {
    const ci = parse(readFileSync(join(ROOT, "ci-examples", "gitlab-ci.yml"), "utf8"));
    for (const job of ["plan", "apply"]) {
      expect(ci[job].artifacts).toBeUndefined();
      expect(ci[job].cache).toBeUndefined();
    }
    expect(ci.apply.rules[0].when).toBe("manual");
    expect(ci.apply.environment).toBe("production");
  });
});
