/**
 * The package works for someone else: `npm pack` builds and packs ems-ha, npm installs the tarball
 * into a copy of examples/existing-repo (an unrelated cdktf app), the app type-checks against the
 * shipped declarations, synthesizes with its own ids and providers, and the packaged CLI runs.
 * Needs npm, git and terraform (cdktf's App.synth runs `terraform version`).
 */
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConsumer, pack, requireTool, run, stageRepository, type PackResult } from "./pack";

type Json = Record<string, any>;

const CANARY = {
  TF_VAR_db_password: "canary-db-Zq81",
  TF_VAR_repmgr_password: "canary-repmgr-Kx27",
  TF_VAR_fortigate_token: "canary-token-Wp55",
};
const TF_ENV = { CHECKPOINT_DISABLE: "1" };

let work = "";
let consumer = "";
let packed: PackResult;
let synthText = "";
let tf: Json = {};

/** The one resource of `type` whose logical id starts with `<constructId>_<child>_`. */
function resourceOf(type: string, constructId: string, child: string): [string, Json] {
  const all = Object.entries((tf.resource?.[type] ?? {}) as Record<string, Json>);
  const hits = all.filter(([id]) => new RegExp(`^${constructId}_${child}_[0-9A-F]{8}$`).test(id));
  expect(
    hits.map(([id]) => id),
    `${type} of ${constructId}/${child} among ${all.map(([id]) => id).join(", ")}`,
  ).toHaveLength(1);
  return hits[0]!;
}

describe("ems-ha as an npm package in another cdktf app", () => {
  beforeAll(async () => {
    requireTool("npm", ["--version"], "to pack and install ems-ha");
    requireTool("git", ["--version"], "to list the files of the working tree");
    requireTool("terraform", ["version"], "because cdktf's App.synth validates with `terraform version`");
    work = mkdtempSync(join(tmpdir(), "ems-ha-package-"));
    const staging = join(work, "ems-ha");
    stageRepository(staging);
    packed = await pack(staging, join(work, "packed"));
    consumer = join(work, "acme-infra");
    await createConsumer(consumer, packed.tarball);
    await run(join(consumer, "node_modules", ".bin", "tsc"), ["-p", "."], consumer, 120_000);
    await run("node", ["main.js"], consumer, 120_000, { ...TF_ENV, ...CANARY, CDKTF_OUTDIR: join(consumer, "out") });
    synthText = readFileSync(join(consumer, "out", "stacks", "acme-ledger", "cdk.tf.json"), "utf8");
    tf = JSON.parse(synthText) as Json;
  }, 600_000);

  afterAll(() => {
    if (work && !process.env.EMS_HA_KEEP_PACKAGE_TEST) rmSync(work, { recursive: true, force: true });
  });

  it("ships the compiled package and its declarations, and no sources or tests", () => {
    for (const f of [
      "package.json",
      "bin/ems-ha.js",
      "CHANGELOG.md",
      "LICENSE",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/src/config/index.d.ts",
      "dist/src/render/index.d.ts",
      "dist/constructs/index.d.ts",
      "dist/src/cli/main.js",
    ]) {
      expect(packed.files, f).toContain(f);
    }
    // examples/ ships as TypeScript on purpose (ems-ha init copies them); nothing else does.
    const stray = packed.files.filter(
      (f) => /^(src|constructs|stacks|test|lab|scripts)\//.test(f) || (/\.ts$/.test(f) && !/\.d\.ts$/.test(f) && !f.startsWith("examples/")),
    );
    expect(stray).toEqual([]);
    // The lab examples import the lab tool (lab/) and the test stand-ins, which do not ship.
    for (const f of ["examples/lab.ts", "examples/lab-docker.ts", "examples/lab-geo-docker.ts"])
      expect(packed.files, `${f} needs the lab tool`).not.toContain(f);
  });

  it("ships docs/ and examples/: every relative link of the shipped Markdown resolves inside the package", () => {
    expect(packed.files).toContain("README.md");
    expect(packed.files).toContain("docs/configuration.md");
    expect(packed.files).toContain("examples/single-region.ts");
    const shipped = new Set(packed.files);
    const broken: string[] = [];
    for (const md of packed.files.filter((f) => f.endsWith(".md"))) {
      const text = readFileSync(join(work, "ems-ha", md), "utf8");
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split("#")[0]!;
        if (!target || /^[a-z]+:/.test(target)) continue;
        const path = normalize(join(dirname(md), target)).replace(/\/$/, "");
        if (!shipped.has(path) && ![...shipped].some((f) => f.startsWith(`${path}/`))) broken.push(`${md} -> ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("`ems-ha init` in the consumer writes a deployment that checks and type-checks against the installed package", async () => {
    const bin = join(consumer, "node_modules", ".bin", "ems-ha");
    await run(bin, ["init", "--topology", "single-region", "--out", "starter.ts"], consumer, 60_000);
    const { stderr } = await run(bin, ["check", "--config", "starter.ts"], consumer, 60_000);
    expect(stderr).toContain(`ems-ha: deployment ${join(consumer, "starter.ts")} (from --config)`);
    writeFileSync(
      join(consumer, "tsconfig.starter.json"),
      JSON.stringify({ extends: "./tsconfig.json", include: [], files: ["starter.ts"], compilerOptions: { noEmit: true } }),
    );
    await run(join(consumer, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.starter.json"], consumer, 120_000);
  });

  it("is installed by npm from the tarball, with the peers resolved in the consumer", () => {
    const installed = join(consumer, "node_modules", "ems-ha");
    expect(lstatSync(installed).isSymbolicLink()).toBe(false);
    const pkg = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as Json;
    expect(pkg.name).toBe("ems-ha");
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(["@cdktf/provider-docker", "cdktf", "constructs"]);
    for (const peer of ["cdktf", "constructs", "@cdktf/provider-docker"]) {
      expect(existsSync(join(consumer, "node_modules", peer, "package.json")), peer).toBe(true);
      expect(existsSync(join(installed, "node_modules", peer)), `${peer} must not be nested inside ems-ha`).toBe(false);
    }
    expect(existsSync(join(consumer, "main.js")), "tsc compiled the consumer against the declarations").toBe(true);
  });

  it("synthesizes the consumer's own stack, backend and provider settings", () => {
    expect(tf.terraform.backend).toEqual({ local: { path: "state/ledger.tfstate" } });
    const dockers = tf.provider.docker as Json[];
    expect(dockers).toContainEqual({ alias: "acme_ops", host: "tcp://ops.acme.example:2376" });
    const sshHosts = dockers.map((p) => p.host).filter((h: string) => h.startsWith("ssh://"));
    expect(sshHosts.sort()).toEqual(["ssh://deploy@10.40.2.21:22", "ssh://deploy@10.40.2.22:22", "ssh://deploy@10.40.2.23:22"]);
    expect(tf.provider.fortios).toEqual([expect.objectContaining({ hostname: "10.40.0.1", vdom: "dc1", token: "${var.fortigate_token}" })]);
    expect(Object.keys(tf.variable).sort()).toEqual(["db_password", "fortigate_token", "repmgr_password"]);
    expect(Object.keys(tf.output).sort()).toEqual(["acme_db_addresses", "acme_docker_run"]);
  });

  it("builds the containers under the consumer's construct ids, in the guide's order", () => {
    const expected: Array<[string, string]> = [
      ["ledger-db-primary", "ledger-db-1"],
      ["ledger-db-standby", "ledger-db-2"],
      ["ledger-db-witness", "ledger-dbw-3"],
    ];
    const addr: Record<string, string> = {};
    for (const [id, nodeName] of expected) {
      const [logical, c] = resourceOf("docker_container", id, "container");
      addr[id] = `docker_container.${logical}`;
      expect(c.name).toBe(nodeName);
      expect(c.image).toMatch(/^\$\{docker_image\..+\.image_id\}$/);
      expect(c.provider).toBe(`docker.${nodeName.replace(/-/g, "_")}`);
      const [, volume] = resourceOf("docker_volume", id, "data");
      expect(volume.lifecycle).toEqual({ prevent_destroy: true });
      const [, image] = resourceOf("docker_image", id, "image");
      expect(image.name).toBe("registry.acme.example/fortinet/ems-postgres-ha:7.4.4");
    }
    expect(resourceOf("docker_container", "ledger-db-standby", "container")[1].depends_on).toContain(addr["ledger-db-primary"]);
    const [emsA, installA] = resourceOf("terraform_data", "ledger-ems-a", "install");
    const [, installB] = resourceOf("terraform_data", "ledger-ems-b", "install");
    const [ready] = resourceOf("terraform_data", "ledger-db-ready", "wait");
    expect(installA.depends_on).toEqual([`terraform_data.${ready}`]);
    expect(installB.depends_on).toEqual([`terraform_data.${emsA}`]);
    expect(resourceOf("fortios_firewall_vip", "ledger-edge", "vip-443")[1].name).toMatch(/^ledger-/);
    // The consumer's own container reads the primary's address and waits for its container.
    const exporter = tf.resource.docker_container["acme-db-exporter"] as Json;
    expect(exporter.provider).toBe("docker.acme_ops");
    expect(exporter.env).toEqual(["DATA_SOURCE_URI=10.40.2.21:5432/postgres?sslmode=disable"]);
    expect(exporter.depends_on).toEqual([addr["ledger-db-primary"]]);
    // Nothing of the toolkit's own stacks leaks in.
    expect(synthText).not.toContain("single-region/");
  });

  it("keeps the secrets out of the synthesized JSON even when they are in the environment", () => {
    for (const v of Object.values(CANARY)) expect(synthText).not.toContain(v);
    expect(synthText).toContain("${var.db_password}");
  });

  it("validates input with ems-ha/config alone, without loading cdktf, and hides internal paths", async () => {
    const script = [
      "const c = require('ems-ha/config');",
      "const bad = c.safeParseDeployment({ topology: 'single-region', emsNodes: [] });",
      "const good = c.parseDeployment(require('./deployment').default);",
      "const cdktfLoaded = Object.keys(require.cache).some((p) => p.includes('/node_modules/cdktf/'));",
      "let deep = 'allowed';",
      "try { require('ems-ha/dist/src/config/schema'); } catch (e) { deep = e.code; }",
      "console.log(JSON.stringify({ ok: bad.ok, paths: bad.issues.map((i) => i.path), name: good.name, cdktfLoaded, deep }));",
    ].join("\n");
    const out = JSON.parse((await run("node", ["-e", script], consumer, 60_000)).stdout) as Json;
    expect(out.ok).toBe(false);
    expect(out.paths).toEqual(expect.arrayContaining(["database", "installer"]));
    expect(out.name).toBe("ledger-ems");
    expect(out.cdktfLoaded).toBe(false);
    expect(out.deep).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });

  it("offers whole topologies from ems-ha/stacks", async () => {
    const script = [
      "const { App, Testing } = require('cdktf');",
      "const { STACKS, SingleRegionStack } = require('ems-ha/stacks');",
      "const { parseDeployment } = require('ems-ha/config');",
      "const d = parseDeployment(require('./deployment').default);",
      "const stack = new SingleRegionStack(Testing.app(), 'whole', d);",
      "const json = JSON.parse(Testing.synth(stack));",
      "console.log(JSON.stringify({ topologies: Object.keys(STACKS).sort(), containers: Object.keys(json.resource.docker_container).length }));",
    ].join("\n");
    const out = JSON.parse((await run("node", ["-e", script], consumer, 60_000)).stdout) as Json;
    expect(out.topologies).toEqual(["geo-redundant", "native-single-region", "single-region", "standalone-db", "upgrade-7-4-4", "vm-appliances"]);
    expect(out.containers).toBeGreaterThan(0);
  });

  it("runs the packaged CLI on the consumer's TypeScript deployment", async () => {
    const { stdout } = await run(join(consumer, "node_modules", ".bin", "ems-ha"), ["checklist", "--config", "deployment.ts"], consumer, 60_000);
    expect(stdout).toContain("ledger-ems-1");
    expect(stdout).toContain("ems.acme.example");
  });
});
