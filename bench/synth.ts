/**
 * Synthesis benchmark: time and peak memory of synthesizing every stack of the examples,
 * a ten-times-larger deployment, and a minimal cdktf app (one terraform_data) as the baseline.
 * Each case runs in a fresh process, as `cdktf synth` does, N times; the median is reported.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import example from "../examples/single-region";
import native from "../examples/native-single-region";
import standalone from "../examples/standalone-db";
import { MAX_EMS_NODES, type DeploymentInput } from "../src/config/schema";

const ROOT = join(__dirname, "..");
const TSX = join(ROOT, "node_modules/tsx/dist/cli.mjs");

export interface SynthCase {
  readonly name: string;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly peakRssMb: number;
  readonly runs: number;
}

/** A single-region deployment `factor` times larger: more data nodes, witnesses and EMS nodes (EMS nodes capped at the schema's maximum). */
export function scaledDeployment(factor: number): DeploymentInput {
  const data = Array.from({ length: 2 * factor }, (_, i) => ({
    name: `pg-${i + 1}`,
    address: `10.${20 + Math.floor(i / 250)}.${i % 250}.21`,
    role: "data" as const,
    priority: 100,
  }));
  const witnesses = Array.from({ length: factor }, (_, i) => ({ name: `pgw-${i + 1}`, address: `10.40.${i}.23`, role: "witness" as const }));
  const ems = Array.from({ length: Math.min(2 * factor, MAX_EMS_NODES) }, (_, i) => ({ name: `ems-${i + 1}`, address: `10.50.${i}.10` }));
  return { ...example, emsNodes: ems, database: { ...example.database, nodes: [...data, ...witnesses] } };
}

/**
 * A deployments directory of `n` deployments (docs/ci.md#many-deployments): single-region,
 * native-single-region and standalone-db in turn, each with its own name and addresses.
 */
export function writeDeploymentsDir(dir: string, n: number, stateDir: string): void {
  mkdirSync(dir, { recursive: true });
  const bases = [example, native, standalone] as DeploymentInput[];
  for (let i = 0; i < n; i++) {
    // A deployment input being edited: only addresses, name and state change.
    const d = structuredClone(bases[i % bases.length]!) as unknown as {
      name: string;
      state: object;
      emsNodes: Array<{ address: string }>;
      database: { nodes: Array<{ address: string }> };
    };
    const octet = (x: string) => x.replace(/^(\d+)\.(\d+)\.(\d+)\./, `10.${100 + Math.floor(i / 200)}.${i % 200}.`);
    d.name = `site-${String(i + 1).padStart(3, "0")}`;
    d.state = { kind: "local", dir: stateDir };
    d.emsNodes = d.emsNodes.map((e) => ({ ...e, address: octet(e.address) }));
    d.database.nodes = d.database.nodes.map((x) => ({ ...x, address: octet(x.address) }));
    writeFileSync(join(dir, `${d.name}.json`), JSON.stringify(d));
  }
}

const MINIMAL_APP = `
const { App, TerraformStack, DataResource } = require("cdktf");
const app = new App();
const stack = new TerraformStack(app, "minimal");
new DataResource(stack, "one", { input: "x" });
app.synth();
`;

/** One run in a fresh process: wall time, and peak RSS through GNU time when `hasTime`. */
function timeOnce(args: string[], env: Record<string, string>, hasTime: boolean): { ms: number; rssMb: number } {
  const cmd = hasTime ? "/usr/bin/time" : process.execPath;
  const cmdArgs = hasTime ? ["-f", "%M", process.execPath, ...args] : args;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, cmdArgs, { encoding: "utf8", cwd: ROOT, env: { ...process.env, ...env } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`benchmark run failed (${args.join(" ")}): ${r.stderr}`);
  const rssKb = hasTime ? Number(r.stderr.trim().split("\n").pop()) : NaN;
  return { ms, rssMb: rssKb / 1024 };
}

function measure(name: string, args: string[], env: Record<string, string>, runs: number): SynthCase {
  const hasTime = spawnSync("/usr/bin/time", ["-f", "%M", "true"]).status === 0;
  const samples = Array.from({ length: runs }, () => timeOnce(args, env, hasTime));
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  return {
    name,
    medianMs: Math.round(ms[Math.floor(ms.length / 2)]!),
    minMs: Math.round(ms[0]!),
    maxMs: Math.round(ms[ms.length - 1]!),
    peakRssMb: Math.round(Math.max(...samples.map((s) => s.rssMb)) * 10) / 10,
    runs,
  };
}

/** Synthesis of deployments directories of growing size (one stack each): time and peak memory. */
export function benchDeployments(runs = 3, sizes: ReadonlyArray<number> = [1, 10, 25, 50]): SynthCase[] {
  const dir = mkdtempSync(join(tmpdir(), "ems-ha-bench-deployments-"));
  try {
    // One unmeasured run first: tsx's compile cache is cold on a fresh machine.
    writeDeploymentsDir(join(dir, "warm"), 1, join(dir, "state"));
    measure(
      "warm-up",
      [TSX, join(ROOT, "stacks/main.ts")],
      { CHECKPOINT_DISABLE: "1", EMS_HA_CONFIG: "", EMS_HA_DEPLOYMENTS: join(dir, "warm"), CDKTF_OUTDIR: join(dir, "ow") },
      1,
    );
    return sizes.map((n) => {
      const deployments = join(dir, `d${n}`);
      writeDeploymentsDir(deployments, n, join(dir, "state"));
      const out = join(dir, `o${n}`);
      const c = measure(
        `${n} deployment${n === 1 ? "" : "s"} (deployments/, one stack each)`,
        [TSX, join(ROOT, "stacks/main.ts")],
        { CHECKPOINT_DISABLE: "1", EMS_HA_CONFIG: "", EMS_HA_DEPLOYMENTS: deployments, CDKTF_OUTDIR: out },
        runs,
      );
      const stacks = readdirSync(join(out, "stacks")).length;
      if (stacks !== n) throw new Error(`${n} deployments synthesized ${stacks} stacks`);
      return c;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function benchSynth(runs = 5): SynthCase[] {
  const dir = mkdtempSync(join(tmpdir(), "ems-ha-bench-"));
  try {
    const minimal = join(dir, "minimal.js");
    writeFileSync(minimal, MINIMAL_APP);
    const big = join(dir, "big.json");
    // The example names local files relative to the deployment file: offline synth would skip their
    // check, so stand-in files sit next to big.json and the measured synth checks them as a user's would.
    const installer = "bench: not an installer\n";
    writeFileSync(join(dir, "forticlientems_7.4.4.2034.F.bin"), installer);
    const deployment = scaledDeployment(10);
    const sha256 = createHash("sha256").update(installer).digest("hex");
    writeFileSync(big, JSON.stringify({ ...deployment, installer: { ...deployment.installer, source: { ...deployment.installer?.source, sha256 } } }));
    writeFileSync(join(dir, "fortigate-ca.pem"), "bench: not a certificate\n");
    const env = { CHECKPOINT_DISABLE: "1", EMS_HA_CONFIG: "" };
    return [
      measure("minimal cdktf app (1 terraform_data)", [minimal], { ...env, CDKTF_OUTDIR: join(dir, "o1"), NODE_PATH: join(ROOT, "node_modules") }, runs),
      measure("all example stacks", [TSX, join(ROOT, "stacks/main.ts")], { ...env, CDKTF_OUTDIR: join(dir, "o2") }, runs),
      measure(
        `single-region x10 (20 data, 10 witnesses, ${deployment.emsNodes.length} EMS)`,
        [TSX, join(ROOT, "stacks/main.ts")],
        { ...env, EMS_HA_CONFIG: big, CDKTF_OUTDIR: join(dir, "o3") },
        runs,
      ),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
