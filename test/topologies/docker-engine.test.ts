/**
 * database.docker.engine = "ssh" in the Docker stacks: no docker provider and no docker_* resource
 * in the synthesized JSON, the provider engine's order (prepare -> primary -> other data nodes ->
 * witnesses -> primary ready -> EMS), passwords only in the env file provisioner, and a real
 * `terraform init && terraform plan` (terraform_data only: nothing to download).
 */
import { describe, expect, it } from "vitest";
import example from "../../examples/single-region";
import geo from "../../examples/geo-redundant";
import { parseDeployment } from "../../src/config/parse";
import type { DeploymentInput } from "../../src/config/schema";
import { parseDockerRun, TCP_SYSCTLS } from "../helpers/docker-run";
import { resourcesByPath, synthDeployment, type TfJson } from "../helpers/synth";
import { dependsOn, fileContent, provisioners, refersTo, terraformPlan } from "./helpers";

const SECRETS = { db_password: "Plan-Db-Pw-5b1f", repmgr_password: "Plan-Repmgr-Pw-77c2" };

function ssh(input: DeploymentInput, withFortigate = true): DeploymentInput {
  const key = "/nonexistent/ems-ha-test/id_ed25519";
  const withKey = <T extends { ssh?: object }>(n: T) => ({ ...n, ssh: { ...n.ssh, privateKeyPath: key } });
  return {
    ...input,
    emsNodes: input.emsNodes.map(withKey),
    database: { ...input.database, docker: { engine: "ssh" }, nodes: input.database.nodes.map(withKey) },
    ...(withFortigate ? {} : { fortigate: undefined }),
  };
}

function dockerFree(json: TfJson, text: string): void {
  expect(Object.keys(json.resource).filter((t) => t.startsWith("docker_"))).toEqual([]);
  expect(Object.keys(json.provider ?? {})).not.toContain("docker");
  expect(JSON.stringify(json.terraform ?? {})).not.toContain("kreuzwerker");
  expect(text).not.toMatch(/docker_(container|volume|image)\./);
}

describe("database.docker.engine", () => {
  it("defaults to provider (what ran before), and accepts ssh", () => {
    expect(parseDeployment(example).database.docker.engine).toBe("provider");
    expect(parseDeployment(ssh(example)).database.docker.engine).toBe("ssh");
    expect(() => parseDeployment({ ...example, database: { ...example.database, docker: { engine: "ansible" } } } as unknown as DeploymentInput)).toThrow(
      /database\.docker\.engine/,
    );
  });
});

for (const [topology, input] of [
  ["single-region", example],
  ["geo-redundant", geo],
] as const) {
  describe(`${topology} with the ssh engine`, () => {
    const { json, text, deployment } = synthDeployment(ssh(input));
    const steps = resourcesByPath(json, "terraform_data");
    const step = (path: string) => {
      const s = steps.get(`${topology}/${path}`);
      if (!s) throw new Error(`no terraform_data ${path}`);
      return s;
    };
    const nodes = deployment.database.nodes;
    const data = nodes.filter((n) => n.role === "data");
    const witnesses = nodes.filter((n) => n.role === "witness");
    const primary = data[0]!;

    it("has no docker provider and no docker_* resource", () => {
      dockerFree(json, text);
      // Each node: the shared prepare step and a container step.
      for (const n of nodes) {
        expect(step(`${n.name}/prepare`)).toBeDefined();
        expect(step(`${n.name}/container`)).toBeDefined();
      }
    });

    it("keeps the provider engine's prepare step as it is (same address, same content), so switching engines does not re-run it", () => {
      const provider = synthDeployment({ ...ssh(input), database: { ...ssh(input).database, docker: { engine: "provider" } } }).json;
      for (const n of nodes) {
        const id = Object.keys(provider.resource.terraform_data!).find((k) => k.startsWith(`${n.name}_prepare_`))!;
        expect(json.resource.terraform_data![id], n.name).toEqual(provider.resource.terraform_data![id]);
      }
    });

    it("orders the steps like the provider engine", () => {
      for (const n of nodes) expect(refersTo(dependsOn(step(`${n.name}/container`)), "terraform_data", `${n.name}_prepare`), n.name).toBe(true);
      // One chain, the primary first, data nodes, then witnesses: one container step at a time (a rolling change).
      const chain = [primary, ...data.filter((n) => n.name !== primary.name), ...witnesses];
      for (let i = 1; i < chain.length; i++) {
        const deps = dependsOn(step(`${chain[i]!.name}/container`));
        expect(refersTo(deps, "terraform_data", `${chain[i - 1]!.name}_container`), `${chain[i]!.name} after ${chain[i - 1]!.name}`).toBe(true);
        expect(deps.filter((x) => x.includes("_container_")).length, `${chain[i]!.name} waits for one step`).toBe(1);
      }
      const ready = dependsOn(step("primary-ready/wait"));
      for (const n of nodes) expect(refersTo(ready, "terraform_data", `${n.name}_container`), `primary-ready after ${n.name}`).toBe(true);
      expect(refersTo(dependsOn(step(`${deployment.emsNodes[0]!.name}/install`)), "terraform_data", "primary-ready_wait")).toBe(true);
    });

    it("puts the passwords only into the env file provisioner and the line-break precondition", () => {
      for (const n of nodes) {
        const s = step(`${n.name}/container`);
        const provs = provisioners(s);
        const withVars = provs.filter((p) => JSON.stringify(p).includes("var."));
        // The step's one secret file, uploaded into its 0700 secrets/ directory; the runner places it
        // (0600, root-only directory) where the script reads it.
        expect(withVars.map((p) => p.file?.destination)).toEqual([`.ems-ha/run/container-${n.name}/secrets/env`]);
        expect(withVars[0]!.file!.content).toBe("POSTGRESQL_PASSWORD=${var.db_password}\nREPMGR_PASSWORD=${var.repmgr_password}\n");
        const runner = fileContent(s, `.ems-ha/run/container-${n.name}/run.sh`);
        expect(runner).toContain(`install -m 0600 "$here/secrets/"env /var/lib/ems-ha/secrets/container-${n.name}.env`);
        expect(fileContent(s, `.ems-ha/run/container-${n.name}/script.sh`)).toMatch(
          new RegExp(`^ENV_FILE='?/var/lib/ems-ha/secrets/container-${n.name}\\.env'?$`, "m"),
        );
        expect(JSON.stringify((s.lifecycle as { precondition: unknown[] }).precondition)).toContain("must not contain line breaks");
        expect(JSON.stringify(s.triggers_replace)).not.toContain("var.");
        expect(JSON.stringify(s.connection)).not.toContain("var.");
      }
    });

    it("keeps docker_run_commands as documentation", () => {
      const out = json.output!.docker_run_commands!.value as string[];
      expect(out).toHaveLength(nodes.length);
      expect(out[0]).toContain(`--name ${primary.name}`);
      // The text people paste creates the same containers: the TCP settings included (docs/reliability.md#a-location-cut-and-tcp).
      for (const cmd of out) expect(parseDockerRun(cmd).sysctls.sort()).toEqual(TCP_SYSCTLS);
    });
  });
}

describe("terraform plan with the ssh engine (real Terraform, no provider)", () => {
  for (const [topology, input, resources] of [
    // 3 nodes x (prepare + container + reconcile) + primary ready + 2 EMS installs
    ["single-region", example, 12],
    // 5 nodes x 3 + primary ready + 3 EMS installs
    ["geo-redundant", geo, 19],
  ] as const) {
    it(`${topology}: plans every step, prints no secret, downloads nothing`, async () => {
      const { text } = synthDeployment(ssh(input, false));
      const r = await terraformPlan(text, SECRETS);
      expect(r.status, r.output.slice(-3000)).toBe(0);
      expect(r.output).toContain(`Plan: ${resources} to add, 0 to change, 0 to destroy`);
      for (const v of Object.values(SECRETS)) expect(r.output).not.toContain(v);
      expect(r.output).not.toMatch(/Installing|registry\.terraform\.io/);
    }, 240_000);
  }

  it("refuses a password with a line break (LF or CR) at plan time, without printing it", async () => {
    const { text } = synthDeployment(ssh(example, false));
    for (const vars of [
      { ...SECRETS, db_password: "Broken-Line-Pw\nREPMGR_NODE_PRIORITY=0" },
      { ...SECRETS, repmgr_password: "Broken-Line-Pw\r" },
    ]) {
      const r = await terraformPlan(text, vars);
      expect(r.status).not.toBe(0);
      expect(r.output).toContain("must not contain line breaks");
      expect(r.output).not.toContain("Broken-Line-Pw");
    }
  }, 240_000);
});
