/**
 * Analysis at the maximum node count: `ems-ha scenarios` and `ems-ha report` work on a deployment
 * of MAX_DB_NODES DB nodes (31 data + 1 witness in three locations) and MAX_EMS_NODES EMS nodes.
 * In-process, median of `runs`. The bound itself is unit-tested as a count of evaluated
 * scenarios (test/analysis/scenarios.test.ts); this measures the time it buys.
 */
import singleExample from "../examples/single-region";
import { clusterOf, deploymentScenarioRun } from "../src/analysis/failover";
import { reportMarkdown, topologySvg } from "../src/analysis/report";
import { runRules } from "../src/analysis/rules";
import { parseDeployment } from "../src/config/parse";
import { MAX_DB_NODES, MAX_EMS_NODES } from "../src/config/schema";

export interface AnalysisBench {
  readonly name: string;
  readonly medianMs: number;
  readonly maxMs: number;
  readonly evaluatedScenarios: number;
  readonly outputBytes: number;
}

export function maxSizeDeployment() {
  const s = JSON.parse(JSON.stringify(singleExample));
  s.database.nodes = Array.from({ length: MAX_DB_NODES }, (_, i) => ({
    name: i === MAX_DB_NODES - 1 ? "pgw-1" : `pg-${i + 1}`,
    address: `10.1.0.${i + 1}`,
    role: i === MAX_DB_NODES - 1 ? "witness" : "data",
    location: `dc${i % 3}`,
  }));
  s.emsNodes = Array.from({ length: MAX_EMS_NODES }, (_, i) => ({ name: `ems-${i + 1}`, address: `10.2.0.${i + 1}` }));
  return parseDeployment(s);
}

function time(runs: number, fn: () => { evaluated: number; bytes: number }): { medianMs: number; maxMs: number; evaluated: number; bytes: number } {
  const ms: number[] = [];
  let last = { evaluated: 0, bytes: 0 };
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    last = fn();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return { medianMs: Math.round(ms[Math.floor(ms.length / 2)]!), maxMs: Math.round(ms[ms.length - 1]!), ...last };
}

export function benchAnalysis(runs = 5): AnalysisBench[] {
  const d = maxSizeDeployment();
  const scen = time(runs, () => {
    const run = deploymentScenarioRun(d, "repmgr", clusterOf(d));
    return { evaluated: run.evaluated, bytes: JSON.stringify(run.results.map((r) => r.outcome)).length };
  });
  const report = time(runs, () => {
    const md = reportMarkdown(d, { findings: runRules(d) });
    const svg = topologySvg(d);
    return { evaluated: deploymentScenarioRun(d, "repmgr", clusterOf(d)).evaluated, bytes: md.length + svg.length };
  });
  return [
    { name: `scenarios, ${MAX_DB_NODES} DB nodes`, medianMs: scen.medianMs, maxMs: scen.maxMs, evaluatedScenarios: scen.evaluated, outputBytes: scen.bytes },
    {
      name: `report, ${MAX_DB_NODES} DB + ${MAX_EMS_NODES} EMS nodes`,
      medianMs: report.medianMs,
      maxMs: report.maxMs,
      evaluatedScenarios: report.evaluated,
      outputBytes: report.bytes,
    },
  ];
}
