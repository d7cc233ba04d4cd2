/**
 * What docs/cdk-terrain.md claims about the CDK Terrain fork (cdktn), checked: with the import
 * `from "cdktf"` replaced by `from "cdktn"`, src/ and the constructs that need no prebuilt provider
 * type-check against cdktn, and the native-single-region stack and an EmsNode + FortiGateLb
 * composition synthesize the same Terraform JSON under cdktn as under cdktf.
 * Installs cdktn 0.24.0 and constructs 10.7.2 (cdktn's peer range is >=10.6.0 <10.8.0) from the
 * npm registry or the local npm cache into a temporary directory; needs npm.
 */
import { Testing, TerraformStack } from "cdktf";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDeployment } from "../../src/config/parse";
import { EmsNode } from "../../constructs/ems-node";
import { FortiGateLb } from "../../constructs/fortigate-lb";
import { DeploymentSecrets } from "../../constructs/secrets";
import { NativeSingleRegionStack } from "../../stacks/native-single-region";
import nativeExample from "../../examples/native-single-region";
import singleRegionExample from "../../examples/single-region";
import { REPO_ROOT, requireTool, run } from "./pack";

const CDKTN_VERSION = "0.24.0";
const CONSTRUCTS_FOR_CDKTN = "10.7.2";

/** Files of the tree that a cdktn port keeps: everything but what needs @cdktf/provider-docker. */
function portableFiles(): string[] {
  const list = (dir: string): string[] =>
    readdirSync(join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? list(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
    );
  const needsDocker = (f: string) => /@cdktf\/|\.\/pg-ha-node"/.test(readFileSync(join(REPO_ROOT, f), "utf8"));
  return [
    ...list("src"),
    ...list("constructs").filter((f) => f !== join("constructs", "index.ts") && !needsDocker(f)),
    join("stacks", "native-single-region.ts"),
    join("examples", "native-single-region.ts"),
    join("examples", "single-region.ts"),
  ];
}

/** The same two compositions as synthWithCdktf below, against the ported tree and cdktn. */
const SYNTH_SCRIPT = `
import { Testing, TerraformStack } from "cdktn";
import { parseDeployment } from "./tree/src/config/parse";
import { EmsNode } from "./tree/constructs/ems-node";
import { FortiGateLb } from "./tree/constructs/fortigate-lb";
import { DeploymentSecrets } from "./tree/constructs/secrets";
import { NativeSingleRegionStack } from "./tree/stacks/native-single-region";
import nativeExample from "./tree/examples/native-single-region";
import singleRegionExample from "./tree/examples/single-region";

const native = Testing.synth(new NativeSingleRegionStack(Testing.app(), "native-single-region", parseDeployment(nativeExample)));
const d = parseDeployment(singleRegionExample);
const edge = new TerraformStack(Testing.app(), "edge");
const secrets = new DeploymentSecrets(edge, "secrets", { fortigateToken: true });
const ems = new EmsNode(edge, "ems-1", { deployment: d, node: d.emsNodes[0]!, primary: true, secrets });
new FortiGateLb(edge, "fortigate", { deployment: d, secrets, dependsOn: [ems.resource] });
let cdktf = "not resolvable";
try { cdktf = require.resolve("cdktf"); } catch { /* expected: only cdktn is installed here */ }
process.stdout.write(JSON.stringify({
  cdktn: require("cdktn/package.json").version,
  cdktf,
  native: JSON.parse(native),
  edge: JSON.parse(Testing.synth(edge)),
}));
`;

function synthWithCdktf(): { native: unknown; edge: unknown } {
  const native = Testing.synth(new NativeSingleRegionStack(Testing.app(), "native-single-region", parseDeployment(nativeExample)));
  const d = parseDeployment(singleRegionExample);
  const edge = new TerraformStack(Testing.app(), "edge");
  const secrets = new DeploymentSecrets(edge, "secrets", { fortigateToken: true });
  const ems = new EmsNode(edge, "ems-1", { deployment: d, node: d.emsNodes[0]!, primary: true, secrets });
  new FortiGateLb(edge, "fortigate", { deployment: d, secrets, dependsOn: [ems.resource] });
  return { native: JSON.parse(native), edge: JSON.parse(Testing.synth(edge)) };
}

let work = "";

describe("moving to CDK Terrain (cdktn) changes only the imports of the provider-free constructs", () => {
  beforeAll(async () => {
    requireTool("npm", ["--version"], "to install cdktn");
    work = mkdtempSync(join(tmpdir(), "ems-ha-cdktn-"));
    const zod = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies.zod!;
    writeFileSync(
      join(work, "package.json"),
      JSON.stringify({ name: "ems-ha-cdktn-port", private: true, dependencies: { cdktn: CDKTN_VERSION, constructs: CONSTRUCTS_FOR_CDKTN, zod } }),
    );
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], work, 300_000);
    for (const f of portableFiles()) {
      const dest = join(work, "tree", f);
      mkdirSync(dirname(dest), { recursive: true });
      writeFileSync(dest, readFileSync(join(REPO_ROOT, f), "utf8").replace(/from "cdktf"/g, 'from "cdktn"'));
    }
    writeFileSync(join(work, "synth.ts"), SYNTH_SCRIPT);
    writeFileSync(
      join(work, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022", module: "commonjs", moduleResolution: "node", lib: ["ES2022"], strict: true, esModuleInterop: true,
          skipLibCheck: true, noEmit: true, types: ["node"], typeRoots: [join(REPO_ROOT, "node_modules", "@types")],
        },
        include: ["tree/src/config/**/*.ts", "tree/src/render/**/*.ts", "tree/constructs/**/*.ts", "tree/stacks/**/*.ts", "tree/examples/**/*.ts", "synth.ts"],
      }),
    );
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("ports by rewriting the import path only: no cdktf left in the port, and no cdktf installed next to cdktn", () => {
    const ported = portableFiles().filter((f) => /from "cdktf"/.test(readFileSync(join(REPO_ROOT, f), "utf8")));
    expect(ported.length, "constructs that import cdktf").toBeGreaterThan(3);
    for (const f of portableFiles()) {
      const text = readFileSync(join(work, "tree", f), "utf8");
      expect(text, f).not.toMatch(/["']cdktf["']|@cdktf\//);
    }
    expect(existsSync(join(work, "node_modules", "cdktf")), "cdktf must not be installed next to cdktn").toBe(false);
  });

  it("type-checks against cdktn", async () => {
    await run(join(REPO_ROOT, "node_modules", ".bin", "tsc"), ["-p", work], work, 180_000);
  }, 200_000);

  it("synthesizes the same Terraform JSON with cdktn as with cdktf", async () => {
    const tsx = require.resolve("tsx/cjs");
    // Run from the repository root so paths the constructs resolve against the working directory agree.
    const { stdout } = await run("node", ["-r", tsx, join(work, "synth.ts")], REPO_ROOT, 120_000);
    const fork = JSON.parse(stdout) as { cdktn: string; cdktf: string; native: unknown; edge: unknown };
    expect(fork.cdktn).toBe(CDKTN_VERSION);
    expect(fork.cdktf, `cdktf resolved from ${relative(work, fork.cdktf)}`).toBe("not resolvable");
    const ours = synthWithCdktf();
    expect(fork.native).toEqual(ours.native);
    expect(fork.edge).toEqual(ours.edge);
  }, 200_000);
});
