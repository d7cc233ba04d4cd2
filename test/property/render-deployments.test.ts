/**
 * Property test of the renderers on hostile deployments (seeded; figures in docs/reliability.md,
 * "Rendering"). Each generated deployment is a valid example with string fields replaced by
 * hostile values, after validation (the renderers are tested on their own, not behind the schema).
 *
 * For every rendered script:
 * - `bash -n` accepts it;
 * - traced in bash (test/render/lib/shell-trace.ts: bash parses and expands it for real, no command
 *   runs), it runs exactly the commands, with exactly the words, of its benign twin (the same
 *   deployment with a placeholder word in each field), the hostile values in place of the
 *   placeholders: a value that escapes its quoting adds, splits or changes a command, and a `$(...)`
 *   or backquote that runs shows up as a command of its own;
 * - as Terraform file content (terraformLiteral), it has no `${` or `%{` Terraform would interpolate.
 * The FortiOS CLI parses (test/render/lib/fortios-cli.ts) to the twin's commands, values in place.
 * A renderer may refuse a value (UnsafeValueError: control characters in FortiOS names, line-based
 * files); refusals are counted, and every other error fails the test.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { terraformLiteral, UnsafeValueError } from "../../src/render/escape";
import type { ExampleName } from "../render/lib/deployments";
import { tokenizeFortiOs } from "../render/lib/fortios-cli";
import { syntaxErrors, traceScripts } from "../render/lib/shell-trace";
import { terraformLiteralDecode } from "./lib/terraform";
import { deploymentWith, FIELDS, hostileValue, placeholder, renderAll, substitute, type Rendered } from "./lib/hostile-render";

const SEED = 20261126;
/**
 * Deployments per topology (2,000 in total for the full run) and how many of them get their shell checked: one
 * script each, chosen by the generator, gets `bash -n` and the trace (bash processes are the cost;
 * the native scripts are the slowest to trace). Every rendered script gets the Terraform check and
 * every FortiOS CLI is parsed.
 */
const FULL: Record<ExampleName, { readonly deployments: number; readonly shellEvery: number }> = {
  "single-region": { deployments: 800, shellEvery: 1 },
  "upgrade-7-4-4": { deployments: 500, shellEvery: 1 },
  "standalone-db": { deployments: 400, shellEvery: 1 },
  "native-single-region": { deployments: 300, shellEvery: 3 },
};
/**
 * `npm test` renders a quarter of them (500: the suite's time budget, docs/lab.md); with
 * EMS_HA_PROPERTY_FULL=1 all 2,000 (the figures in docs/reliability.md, "Rendering").
 */
const SCALE = process.env["EMS_HA_PROPERTY_FULL"] === "1" ? 1 : 4;
const COUNTS = Object.fromEntries(Object.entries(FULL).map(([t, c]) => [t, { ...c, deployments: Math.ceil(c.deployments / SCALE) }])) as typeof FULL;
const TRACED_PER_DEPLOYMENT = 1;

interface Stats {
  deployments: number;
  syntax: number;
  refused: number;
  scripts: number;
  traced: number;
  fortios: number;
  failures: string[];
}

const stats: Stats = { deployments: 0, syntax: 0, refused: 0, scripts: 0, traced: 0, fortios: 0, failures: [] };

async function runTopology(topology: ExampleName, count: number, shellEvery: number, seed: number): Promise<void> {
  const fields = FIELDS[topology];
  const benignValues = fields.map((_, i) => placeholder(i));
  const benign = renderAll(topology, deploymentWith(topology, benignValues));
  const benignTraces = await traceScripts(benign.scripts.map((s) => s.text));
  benignTraces.forEach((t, i) => {
    if (t.commands.length === 0) throw new Error(`the benign ${benign.scripts[i]!.name} traced no command: ${t.stderr}`);
  });
  const benignCli = benign.fortios === undefined ? undefined : tokenizeFortiOs(benign.fortios);

  const arb = fc.tuple(
    fc.tuple(...fields.map((fl) => hostileValue(fl))),
    // one deployment in ten: every field may hold any character (the renderer renders it or refuses it)
    fc.nat(9).map((n) => n !== 0),
    fc.array(fc.nat(), { minLength: TRACED_PER_DEPLOYMENT, maxLength: TRACED_PER_DEPLOYMENT }),
  );
  const samples = fc
    .sample(arb, { seed, numRuns: count })
    .map(([makers, strict, picks]) => [makers.map((m, i) => (fields[i]!.name ? `${m(strict)}@${i}` : m(strict))), picks] as const);

  const toSyntaxCheck: Array<{ label: string; text: string }> = [];
  const toTrace: Array<{ label: string; text: string; expected: string[][] }> = [];
  for (const [values, picks] of samples) {
    stats.deployments++;
    const checkShell = stats.deployments % shellEvery === 0;
    let r: Rendered;
    try {
      r = renderAll(topology, deploymentWith(topology, values));
    } catch (e) {
      if (e instanceof UnsafeValueError) {
        stats.refused++;
        continue;
      }
      stats.failures.push(`${topology}: render threw ${String(e)} for ${JSON.stringify(values)}`);
      continue;
    }
    const label = (name: string) => `${topology} ${name} with ${JSON.stringify(values)}`;
    expect(r.scripts.map((s) => s.name).length).toBe(benign.scripts.length);
    r.scripts.forEach((s) => {
      stats.scripts++;
      try {
        if (terraformLiteralDecode(terraformLiteral(s.text)) !== s.text) stats.failures.push(`${label(s.name)}: terraformLiteral does not round-trip`);
      } catch (e) {
        stats.failures.push(`${label(s.name)}: ${String(e)}`);
      }
    });
    for (const p of checkShell ? picks : []) {
      const i = p % r.scripts.length;
      toSyntaxCheck.push({ label: label(r.scripts[i]!.name), text: r.scripts[i]!.text });
      toTrace.push({
        label: label(r.scripts[i]!.name),
        text: r.scripts[i]!.text,
        expected: benignTraces[i]!.commands.map((c) => c.map((w) => substitute(w, values))),
      });
    }
    if (r.fortios !== undefined && benignCli) {
      stats.fortios++;
      const got = tokenizeFortiOs(r.fortios);
      const want = benignCli.map((c) => c.map((w) => substitute(w, values)));
      if (JSON.stringify(got) !== JSON.stringify(want)) stats.failures.push(`${topology} FortiOS CLI differs for ${JSON.stringify(values)}`);
    }
  }

  stats.syntax += toSyntaxCheck.length;
  for (const bad of await syntaxErrors(toSyntaxCheck.map((s) => s.text))) stats.failures.push(`bash -n: ${toSyntaxCheck[bad.index]!.label}: ${bad.message}`);

  const BATCH = 150;
  for (let b = 0; b < toTrace.length; b += BATCH) {
    const batch = toTrace.slice(b, b + BATCH);
    const traces = await traceScripts(
      batch.map((x) => x.text),
      120_000,
    );
    traces.forEach((t, i) => {
      stats.traced++;
      // As multisets: the commands of a pipeline run concurrently, so their order in the log varies.
      // /proc/<pid> entries list the tracer's own processes (stop_stray_repmgrd), not values.
      const norm = (c: string[]) => JSON.stringify(c).replace(/\/proc\/\d+\//g, "/proc/N/");
      const got = t.commands.map(norm).sort();
      const want = batch[i]!.expected.map(norm).sort();
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        const extra = got.filter((c) => !want.includes(c));
        const missing = want.filter((c) => !got.includes(c));
        stats.failures.push(`${batch[i]!.label}: commands not in the twin ${extra.slice(0, 3).join(" ")}; missing ${missing.slice(0, 3).join(" ")}`);
      }
    });
  }
}

describe("renderers on hostile deployments (property, seeded)", () => {
  for (const [topology, { deployments: count, shellEvery }] of Object.entries(COUNTS) as Array<[ExampleName, (typeof COUNTS)[ExampleName]]>) {
    it(`${topology}: ${count} deployments`, async () => {
      const before = { ...stats, failures: stats.failures.length };
      await runTopology(topology, count, shellEvery, SEED + count);
      const failures = stats.failures.slice(before.failures);
      console.log(
        `[render property] ${topology}: deployments ${stats.deployments - before.deployments}, refused ${stats.refused - before.refused}, ` +
          `scripts rendered (Terraform check) ${stats.scripts - before.scripts}, bash -n ${stats.syntax - before.syntax}, traced ${stats.traced - before.traced}, FortiOS CLIs ${stats.fortios - before.fortios}, failures ${failures.length}`,
      );
      expect(failures.slice(0, 5)).toEqual([]);
      // the property must have been exercised, not refused away
      expect(stats.deployments - before.deployments - (stats.refused - before.refused)).toBeGreaterThan(count / 2);
    }, 300_000);
  }
});
