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
    writeFileSync(join(dir, `${d.name}.json`), JSON.stringify(withStandInFiles(d, dir)));
  }
}

/**
 * The deployment with every local file it names (installer, extensions, private keys, CA bundle,
 * known_hosts) pointed at a stand-in file in `dir/files/`, each sha256 matching: synth checks
 * that they exist (src/config/local-files.ts), as it would for a user's deployment. The examples
 * name files next to themselves and the user's own key, which a bench machine need not have.
 */
function withStandInFiles<T>(deployment: T, dir: string): T {
  const files = join(dir, "files");
  mkdirSync(files, { recursive: true });
  const standIn = (name: string): { path: string; sha256: string } => {
    const text = `bench: a stand-in for ${name}, not the real file\n`;
    writeFileSync(join(files, name), text);
    return { path: `files/${name}`, sha256: createHash("sha256").update(text).digest("hex") };
  };
  // files on this machine named by these keys anywhere (the defaults and each node's ssh settings)
  const fileKeys = new Set(["privateKeyPath", "caBundleFile", "knownHostsFile"]);
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== "object") return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === "string" && fileKeys.has(k) ? standIn(k).path : walk(x)]));
  };
  const d = walk(deployment) as {
    installer?: { source?: { kind?: string } };
    native?: { extensions?: object };
    standalone?: { extensions?: object };
  };
  // a file with its checksum (not database.image.source, a path on the hosts)
  if (d.installer?.source?.kind === "file") d.installer.source = { ...d.installer.source, ...standIn("installer.bin") };
  if (d.native?.extensions) d.native.extensions = { ...d.native.extensions, ...standIn("native-extensions.tar.gz") };
  if (d.standalone?.extensions) d.standalone.extensions = { ...d.standalone.extensions, ...standIn("standalone-extensions.tar.gz") };
  return d as T;
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
    // Offline synth would skip the local files' check: stand-in files beside big.json, so the
    // measured synth checks them as a user's would.
    const deployment = scaledDeployment(10);
    writeFileSync(big, JSON.stringify(withStandInFiles(deployment, dir)));
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
