/**
 * Synthesis benchmark: time and peak memory of synthesizing every stack of the examples,
 * a ten-times-larger deployment, and a minimal cdktf app (one terraform_data) as the baseline.
 * Each case runs in a fresh process, as `cdktf synth` does, N times; the median is reported.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import example from "../examples/single-region";
import type { DeploymentInput } from "../src/config/schema";

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

/** A single-region deployment `factor` times larger: more data nodes, witnesses and EMS nodes. */
export function scaledDeployment(factor: number): DeploymentInput {
  const data = Array.from({ length: 2 * factor }, (_, i) => ({
    name: `pg-${i + 1}`,
    address: `10.${20 + Math.floor(i / 250)}.${i % 250}.21`,
    role: "data" as const,
    priority: 100,
  }));
  const witnesses = Array.from({ length: factor }, (_, i) => ({ name: `pgw-${i + 1}`, address: `10.40.${i}.23`, role: "witness" as const }));
  const ems = Array.from({ length: 2 * factor }, (_, i) => ({ name: `ems-${i + 1}`, address: `10.50.${i}.10` }));
  return { ...example, emsNodes: ems, database: { ...example.database, nodes: [...data, ...witnesses] } };
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

export function benchSynth(runs = 5): SynthCase[] {
  const dir = mkdtempSync(join(tmpdir(), "ems-ha-bench-"));
  try {
    const minimal = join(dir, "minimal.js");
    writeFileSync(minimal, MINIMAL_APP);
    const big = join(dir, "big.json");
    writeFileSync(big, JSON.stringify(scaledDeployment(10)));
    const env = { CHECKPOINT_DISABLE: "1", EMS_HA_CONFIG: "" };
    return [
      measure("minimal cdktf app (1 terraform_data)", [minimal], { ...env, CDKTF_OUTDIR: join(dir, "o1"), NODE_PATH: join(ROOT, "node_modules") }, runs),
      measure("all example stacks", [TSX, join(ROOT, "stacks/main.ts")], { ...env, CDKTF_OUTDIR: join(dir, "o2") }, runs),
      measure("single-region x10 (20 data, 10 witnesses, 20 EMS)", [TSX, join(ROOT, "stacks/main.ts")], { ...env, EMS_HA_CONFIG: big, CDKTF_OUTDIR: join(dir, "o3") }, runs),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
