/**
 * What docs/cdk-terrain.md claims about the CDK Terrain fork (cdktn), checked: with the import
 * `from "cdktf"` replaced by `from "cdktn"`, src/ and the constructs that need no prebuilt provider
 * type-check against cdktn, and the native-single-region stack and an EmsNode + FortiGateLb
 * composition synthesize the same Terraform JSON under cdktn as under cdktf.
 * Installs cdktn 0.24.0 and constructs 10.7.2 (cdktn's peer range is >=10.6.0 <10.8.0) from the
 * npm registry or the local npm cache into a temporary directory; needs npm.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { filesUnder } from "../helpers/files";
import { REPO_ROOT, requireTool, run } from "./pack";

const CDKTN_VERSION = "0.24.0";
const CONSTRUCTS_FOR_CDKTN = "10.7.2";

/** Files of the tree that a cdktn port keeps: everything but what needs @cdktf/provider-docker. */
function portableFiles(): string[] {
  const list = (dir: string): string[] => filesUnder(REPO_ROOT, dir, ".ts");
  // A file needs the docker provider bindings when it, or a local module it imports, imports them.
  const needsDocker = (f: string, seen = new Set<string>([f])): boolean => {
    const text = readFileSync(join(REPO_ROOT, f), "utf8");
    if (/@cdktf\//.test(text)) return true;
    return [...text.matchAll(/from "(\.\.?\/[^"]+)"/g)].some((m) => {
      const dep = `${join(dirname(f), m[1]!)}.ts`;
      if (seen.has(dep) || !existsSync(join(REPO_ROOT, dep))) return false;
      seen.add(dep);
      return needsDocker(dep, seen);
    });
  };
  return [
    ...list("src"),
    ...list("constructs").filter((f) => f !== join("constructs", "index.ts") && !needsDocker(f)),
    join("stacks", "native-single-region.ts"),
    join("examples", "native-single-region.ts"),
    join("examples", "single-region.ts"),
    // The examples' pinned host keys (ssh.knownHostsFile): the same host_key in both outputs.
    join("examples", "known_hosts"),
  ];
}

/**
 * A script that synthesizes the two compositions with the CDK library `cdk` (a module name or
 * path) and the toolkit tree at `tree`, and prints the JSON with the versions it loaded.
 */
function synthScript(cdk: string, tree: string): string {
  return `
import { Testing, TerraformStack } from ${JSON.stringify(cdk)};
import { parseDeployment } from "${tree}/src/config/parse";
import { EmsNode } from "${tree}/constructs/ems-node";
import { FortiGateLb } from "${tree}/constructs/fortigate-lb";
import { DeploymentSecrets } from "${tree}/constructs/secrets";
import { NativeSingleRegionStack } from "${tree}/stacks/native-single-region";
import nativeExample from "${tree}/examples/native-single-region";
import singleRegionExample from "${tree}/examples/single-region";

const native = Testing.synth(new NativeSingleRegionStack(Testing.app(), "native-single-region", parseDeployment(nativeExample)));
const d = parseDeployment(singleRegionExample);
const edge = new TerraformStack(Testing.app(), "edge");
const secrets = new DeploymentSecrets(edge, "secrets", { fortigateToken: true });
const ems = new EmsNode(edge, "ems-1", { deployment: d, node: d.emsNodes[0]!, primary: true, secrets });
new FortiGateLb(edge, "fortigate", { deployment: d, secrets, dependsOn: [ems.resource] });
const resolvable = (m: string) => { try { return require.resolve(m); } catch { return "not resolvable"; } };
process.stdout.write(JSON.stringify({
  library: require.resolve(${JSON.stringify(cdk)}),
  cdktfFromHere: resolvable("cdktf"),
  native: JSON.parse(native),
  edge: JSON.parse(Testing.synth(edge)),
}));
`;
}

interface SynthOutput {
  /** The file the script's cdk import resolved to. */
  readonly library: string;
  /** Where `cdktf` resolves from the script's directory. */
  readonly cdktfFromHere: string;
  readonly native: unknown;
  readonly edge: unknown;
}

/** Runs a synth script under tsx from the repository root (paths resolved against the working directory then agree). */
async function runSynth(script: string): Promise<SynthOutput> {
  const { stdout } = await run("node", ["-r", require.resolve("tsx/cjs"), script], REPO_ROOT, 120_000);
  return JSON.parse(stdout) as SynthOutput;
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
    writeFileSync(join(work, "synth.ts"), synthScript("cdktn", "./tree"));
    writeFileSync(join(work, "synth-cdktf.ts"), synthScript(join(REPO_ROOT, "node_modules", "cdktf"), REPO_ROOT));
    writeFileSync(
      join(work, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "commonjs",
          moduleResolution: "node",
          lib: ["ES2022"],
          strict: true,
          esModuleInterop: true,
          skipLibCheck: true,
          noEmit: true,
          types: ["node"],
          typeRoots: [join(REPO_ROOT, "node_modules", "@types")],
          // The examples import their type by the package's name, as a user's copy does.
          paths: { "ems-ha/config": ["./tree/src/config/index.ts"] },
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
    const fork = await runSynth(join(work, "synth.ts"));
    expect(fork.library).toBe(join(work, "node_modules", "cdktn", "lib", "index.js"));
    expect(fork.cdktfFromHere, "cdktf must not be reachable from the cdktn port").toBe("not resolvable");
    const installed = JSON.parse(readFileSync(join(work, "node_modules", "cdktn", "package.json"), "utf8")) as { version: string };
    expect(installed.version).toBe(CDKTN_VERSION);
    const ours = await runSynth(join(work, "synth-cdktf.ts"));
    expect(ours.library).toBe(join(REPO_ROOT, "node_modules", "cdktf", "lib", "index.js"));
    expect(fork.native).toEqual(ours.native);
    expect(fork.edge).toEqual(ours.edge);
  }, 200_000);
});
