/** Helpers of the topology tests: provisioners of a terraform_data, docker run flags, dependencies. */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../src/config/errors";
import { parseDeployment } from "../../src/config/parse";
import { spawnAsync } from "../../src/spawn-async";
import { tempDir } from "../helpers/tmp";

export type Provisioner = Record<string, Record<string, unknown>>;

export function provisioners(r: Record<string, unknown> | undefined): Provisioner[] {
  if (!r) throw new Error("resource not found");
  return r.provisioner as Provisioner[];
}

/** The content of the file provisioner that writes `destination` (or whose destination matches). */
export function fileContent(r: Record<string, unknown> | undefined, destination: string | RegExp): string {
  const f = provisioners(r)
    .map((p) => p.file)
    .find((f) => f && (typeof destination === "string" ? f.destination === destination : destination.test(f.destination as string)));
  if (!f) throw new Error(`no file provisioner for ${String(destination)}`);
  // What the host receives: Terraform turns the escaped $${ and %%{ back into ${ and %{.
  return (f.content as string).replace(/\$\$\{/g, "${").replace(/%%\{/g, "%{");
}

export function dependsOn(r: Record<string, unknown> | undefined): string[] {
  return (r?.depends_on as string[] | undefined) ?? [];
}

/** The logical id prefix cdktf gives a construct path's resource, e.g. "pg-1_container". */
export function refersTo(deps: string[], type: string, idPrefix: string): boolean {
  return deps.some((d) => d.startsWith(`${type}.${idPrefix}_`) || d === `${type}.${idPrefix}`);
}

export { parseDockerRun, type DockerFlags } from "../helpers/docker-run";

/** The ConfigError a deployment raises (fails the test when it validates). */
export function configError(input: unknown): ConfigError {
  try {
    parseDeployment(input);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("the deployment validated, but an error was expected");
}

export const TERRAFORM = "/usr/local/bin/terraform";

/** Runs real `terraform init` and `terraform plan` on a synthesized stack (terraform_data only: no provider download). */
export async function terraformPlan(stackJson: string, vars: Record<string, string>): Promise<{ status: number | null; output: string }> {
  if (!existsSync(TERRAFORM)) throw new Error(`terraform is needed at ${TERRAFORM} for this test`);
  const dir = tempDir("ems-ha-tf-plan-");
  writeFileSync(join(dir, "main.tf.json"), stackJson);
  const env: NodeJS.ProcessEnv = { ...process.env, CHECKPOINT_DISABLE: "1", TF_CLI_CONFIG_FILE: join(dir, "none.tfrc"), TF_IN_AUTOMATION: "1" };
  for (const [k, v] of Object.entries(vars)) env[`TF_VAR_${k}`] = v;
  let output = "";
  for (const args of [
    ["init", "-input=false"],
    ["plan", "-input=false"],
  ]) {
    const r = await spawnAsync(TERRAFORM, [...args, "-no-color"], { cwd: dir, env, timeoutMs: 120_000 });
    output += r.stdout + r.stderr;
    if (r.status !== 0) return { status: r.status, output };
  }
  return { status: 0, output };
}
