/** The deployment's `state` field: credentials refused, each backend synthesized, local state kept out of the repository. */
import { DataResource, TerraformStack, Testing } from "cdktf";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import native from "../../examples/native-single-region";
import { stateInRepositoryRule } from "../../src/analysis/rules/state-in-repository";
import { ConfigError } from "../../src/config/errors";
import { parseDeployment } from "../../src/config/parse";
import { localStatePath } from "../../src/config/state";
import { spawnAsync } from "../../src/spawn-async";
import { applyStateBackend } from "../../stacks/backend";
import { tempDir } from "../helpers/tmp";

function deployment(state: unknown) {
  return parseDeployment({ ...structuredClone(native), state });
}

function issues(state: unknown): string[] {
  try {
    deployment(state);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  throw new Error("the deployment validated");
}

function backendJson(state: unknown, env: NodeJS.ProcessEnv = {}, cwd = "/nonexistent-cwd"): any {
  const stack = new TerraformStack(Testing.app(), "prod-eu");
  new DataResource(stack, "x", { input: { v: "1" } });
  applyStateBackend(stack, "prod-eu", deployment(state), cwd, env);
  return JSON.parse(Testing.synth(stack)).terraform;
}

describe("state: credentials are never config fields", () => {
  it.each([
    [{ kind: "pg", connStr: "postgres://u:p@h/db" }, "state.connStr", "PG_CONN_STR"],
    [{ kind: "pg", password: "x" }, "state.password", "PGPASSWORD"],
    [{ kind: "s3", bucket: "ems-state", region: "eu-west-1", accessKey: "AKIA..." }, "state.accessKey", "AWS_ACCESS_KEY_ID"],
    [{ kind: "s3", bucket: "ems-state", region: "eu-west-1", secretKey: "x" }, "state.secretKey", "AWS_SECRET_ACCESS_KEY"],
    [{ kind: "http", address: "https://state.example.com/x", password: "x" }, "state.password", "TF_HTTP_PASSWORD"],
    [{ kind: "http", address: "https://user:pw@state.example.com/x" }, "state.address", "TF_HTTP_USERNAME"],
    [{ kind: "remote", organization: "acme", token: "x" }, "state.token", "TF_TOKEN_app_terraform_io"],
  ])("%j is refused, naming the environment variable", (state, path, envVar) => {
    const found = issues(state);
    expect(found.some((i) => i.startsWith(`${path}:`) && i.includes(envVar))).toBe(true);
  });
});

describe("state: cdktf backends", () => {
  it("s3: a key per stack, a lock file, encryption", () => {
    expect(backendJson({ kind: "s3", bucket: "ems-state", region: "eu-west-1" }).backend.s3).toEqual({
      bucket: "ems-state",
      key: "ems-ha/prod-eu/terraform.tfstate",
      region: "eu-west-1",
      encrypt: true,
      use_lockfile: true,
    });
    const ddb = backendJson({ kind: "s3", bucket: "ems-state", region: "eu-west-1", dynamodbTable: "tf-locks" }).backend.s3;
    expect(ddb.dynamodb_table).toBe("tf-locks");
    expect(ddb.use_lockfile).toBeUndefined();
  });

  it("pg: a schema per stack, the connection from the environment", () => {
    expect(backendJson({ kind: "pg" }).backend).toEqual({ pg: { schema_name: "ems_ha_prod_eu" } });
  });

  it("http: {stack} in the address", () => {
    expect(
      backendJson({ kind: "http", address: "https://state.example.com/{stack}", lockAddress: "https://state.example.com/{stack}/lock" }).backend.http,
    ).toMatchObject({
      address: "https://state.example.com/prod-eu",
      lock_address: "https://state.example.com/prod-eu/lock",
    });
  });

  it("remote: an HCP Terraform workspace per stack", () => {
    expect(backendJson({ kind: "remote", organization: "acme" }).cloud).toEqual({
      hostname: "app.terraform.io",
      organization: "acme",
      workspaces: { name: "prod-eu" },
    });
  });

  it("local: outside the source tree by default, one directory per stack", () => {
    const t = backendJson(undefined, { XDG_STATE_HOME: "/var/lib/someone/state", HOME: "/home/x" });
    expect(t.backend.local.path).toBe("/var/lib/someone/state/ems-ha/prod-eu/terraform.tfstate");
    expect(backendJson({ kind: "local" }, { HOME: "/home/x" }).backend.local.path).toBe("/home/x/.local/state/ems-ha/prod-eu/terraform.tfstate");
    expect(backendJson({ kind: "local", dir: "/srv/tfstate" }, { HOME: "/home/x" }).backend.local.path).toBe("/srv/tfstate/prod-eu/terraform.tfstate");
  });

  it("local: a state already at cdktf's old default (the working directory) is kept, never abandoned", () => {
    const cwd = tempDir("ems-ha-legacy-");
    writeFileSync(join(cwd, "terraform.prod-eu.tfstate"), "{}");
    expect(localStatePath(undefined, "prod-eu", cwd, { HOME: "/home/x" })).toBe(join(cwd, "terraform.prod-eu.tfstate"));
  });
});

describe("rule state-in-repository", () => {
  function repo(): string {
    const r = tempDir("ems-ha-repo-");
    mkdirSync(join(r, ".git"));
    return r;
  }
  it("warns when state.dir is inside the repository", () => {
    const r = repo();
    const hits = stateInRepositoryRule(
      () => r,
      () => ({ HOME: "/home/x" }),
    ).check(deployment({ kind: "local", dir: "./state" }));
    expect(hits).toHaveLength(1);
    expect(hits[0]!.message).toContain(join(r, "state"));
    expect(hits[0]!.fix).toContain("outside the repository");
  });
  it("warns on a state file left at cdktf's old default in the repository", () => {
    const r = repo();
    writeFileSync(join(r, "terraform.native-single-region.tfstate"), "{}");
    const hits = stateInRepositoryRule(
      () => r,
      () => ({ HOME: "/home/x" }),
    ).check(deployment(undefined));
    expect(hits[0]!.fix).toContain("move");
  });
  it("is quiet for the default location and for remote backends", () => {
    const r = repo();
    expect(
      stateInRepositoryRule(
        () => r,
        () => ({ HOME: "/home/x" }),
      ).check(deployment(undefined)),
    ).toEqual([]);
    expect(
      stateInRepositoryRule(
        () => r,
        () => ({ HOME: r }),
      ).check(deployment({ kind: "pg" })),
    ).toEqual([]);
  });
  it("warns when HOME (so the default) is inside the repository", () => {
    const r = repo();
    expect(
      stateInRepositoryRule(
        () => r,
        () => ({ HOME: r }),
      ).check(deployment(undefined)),
    ).toHaveLength(1);
  });
});

describe("ems-ha check", () => {
  it("warns when the deployment's state would be written inside the repository", async () => {
    const r = tempDir("ems-ha-check-repo-");
    mkdirSync(join(r, ".git"));
    const inRepo = { ...structuredClone(native), state: { kind: "local", dir: "./tfstate" } };
    writeFileSync(join(r, "d.json"), JSON.stringify(inRepo));
    writeFileSync(join(r, "ok.json"), JSON.stringify({ ...structuredClone(native), state: { kind: "pg" } }));
    const run = (f: string) =>
      spawnAsync(process.execPath, [join(__dirname, "..", "..", "bin", "ems-ha.js"), "check", "--config", f], {
        cwd: r,
        env: { PATH: process.env.PATH, HOME: "/nonexistent-home" },
        timeoutMs: 60_000,
      });
    const bad = await run("d.json");
    expect(bad.status).toBe(0); // a warning
    expect(bad.stdout).toContain("[Warning] state-in-repository");
    expect(bad.stdout).toContain(join(r, "tfstate"));
    const ok = await run("ok.json");
    expect(ok.stdout).not.toContain("state-in-repository");
  });
});
