/**
 * `npm run bench`: prints the figures as a table and as JSON (last line).
 * Sections: synth (always); analysis at the maximum node count (always); deployments (1/10/25/50
 * deployments of a deployments directory); lab deploy and failover (need root and the lab, see docs/lab.md).
 * Options: --runs N (synth repetitions, default 5), --only synth|analysis|deployments|lab, --json-out FILE.
 */
import { writeFileSync } from "node:fs";
import { benchAnalysis } from "./analysis";
import { benchDeployments, benchSynth } from "./synth";
import { cpus } from "node:os";

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const runs = Number(argv[argv.indexOf("--runs") + 1] ?? 5) || 5;
  const only = argv.includes("--only") ? argv[argv.indexOf("--only") + 1] : undefined;
  const jsonOut = argv.includes("--json-out") ? argv[argv.indexOf("--json-out") + 1] : undefined;
  const result: Record<string, unknown> = { machine: { cpus: cpus().length, node: process.version }, date: new Date().toISOString() };

  if (!only || only === "synth") {
    process.stderr.write(`synth benchmark: ${runs} runs per case...\n`);
    const synth = benchSynth(runs);
    result.synth = synth;
    console.log("\nSynthesis (fresh process per run, median of runs)");
    console.log("| case | median ms | min ms | max ms | peak RSS MB |");
    console.log("|---|---|---|---|---|");
    for (const c of synth)
      console.log(`| ${c.name} | ${c.medianMs} | ${c.minMs} | ${c.maxMs} | ${Number.isNaN(c.peakRssMb) ? "n/a (install GNU time)" : c.peakRssMb} |`);
  }
  if (!only || only === "analysis") {
    const analysis = benchAnalysis(runs);
    result.analysis = analysis;
    console.log("\nAnalysis at the maximum node count (in-process, median of runs)");
    console.log("| case | median ms | max ms | scenarios evaluated | output bytes |");
    console.log("|---|---|---|---|---|");
    for (const c of analysis) console.log(`| ${c.name} | ${c.medianMs} | ${c.maxMs} | ${c.evaluatedScenarios} | ${c.outputBytes} |`);
  }
  if (!only || only === "deployments") {
    process.stderr.write(`deployments benchmark: 1, 10, 25 and 50 deployments, ${runs} runs each...\n`);
    const many = benchDeployments(runs);
    result.deployments = many;
    console.log("\nMany deployments (fresh process per run, median of runs)");
    console.log("| case | median ms | min ms | max ms | peak RSS MB |");
    console.log("|---|---|---|---|---|");
    for (const c of many)
      console.log(`| ${c.name} | ${c.medianMs} | ${c.minMs} | ${c.maxMs} | ${Number.isNaN(c.peakRssMb) ? "n/a (install GNU time)" : c.peakRssMb} |`);
  }
  if (!only || only === "lab") {
    const { benchLab } = await import("./lab");
    result.lab = await benchLab();
  }
  const json = JSON.stringify(result);
  if (jsonOut) writeFileSync(jsonOut, json + "\n");
  console.log("\n" + json);
  return 0;
}

main().then(
  (c) => (process.exitCode = c),
  (e) => {
    process.stderr.write(`bench failed: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
