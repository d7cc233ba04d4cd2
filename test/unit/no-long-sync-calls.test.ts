/**
 * No test may block its worker's event loop for long: vitest's worker answers the main process
 * over an RPC with a fixed 60 s timeout, and a worker blocked longer than that (a synchronous
 * terraform, synth or image build) fails the whole run with "Timeout calling onTaskUpdate" even
 * when every test passed. So:
 *  - test/ and lab/: every spawnSync / execFileSync / execSync states a `timeout` of at most
 *    30 s (numbers written out: `timeout: 20_000`, or `Math.min(x, 30_000)` in a helper), and
 *    lab/lib/exec.ts's run() / runOk() are never given a longer timeoutMs; anything longer is
 *    awaited (src/spawn-async.ts, runStreaming).
 *  - src/: no synchronous child process at all (tests run the CLI in-process).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..", "..");
const MAX_SYNC_MS = 30_000;
const SYNC_CALL = /\b(spawnSync|execFileSync|execSync)\(/g;
const EXEC_RUN_CALL = /\b(run|runOk)\(/g;

/** Allowed on purpose, with the reason. */
const ALLOWED: Record<string, string> = {
  // This file's own examples of bad calls are strings.
  "test/unit/no-long-sync-calls.test.ts": "the scanner's own test cases",
  // examples/lab-docker.ts computes the stand-in image's sha256 when the module loads (a deployment
  // module is loaded synchronously); it builds the image only when it is not cached yet. In tests it
  // never does: test/helpers/standin-first.mjs builds it, awaited, before such a file loads.
  "test/standins/ems-postgres-ha/sync.ts": "image build for a deployment module that loads synchronously",
};

export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly problem: string;
}

/** The text from `open` (an opening parenthesis) to its matching one; strings are skipped. */
function callText(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' || c === "'" || c === "`") {
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === "\\") i++;
    } else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return text.slice(open, i + 1);
  }
  return text.slice(open);
}

const lineOf = (text: string, index: number): number => text.slice(0, index).split("\n").length;
const numbers = (expr: string): number[] => (expr.match(/\b\d[\d_]*\b/g) ?? []).map((n) => Number(n.replace(/_/g, "")));

/** The expression after `timeout:` up to the next comma or brace outside parentheses. */
function timeoutValue(call: string): string | undefined {
  const m = /\btimeout\s*:/.exec(call);
  if (!m) return undefined;
  let depth = 0;
  let i = m.index + m[0].length;
  for (; i < call.length; i++) {
    const c = call[i]!;
    if (c === "(") depth++;
    else if (c === ")" && depth-- === 0) break;
    else if ((c === "," || c === "}") && depth === 0) break;
  }
  return call.slice(m.index + m[0].length, i);
}

/** What is wrong with the `timeout` a synchronous call states, or undefined when it is fine. */
function timeoutProblem(call: string): string | undefined {
  const value = timeoutValue(call);
  if (value === undefined) return /[{,]\s*timeout\s*[,}]/.test(call) ? "its timeout is a variable, not a number ≤ 30000" : "no timeout";
  const ns = numbers(value);
  if (ns.length === 0) return `timeout ${value.trim()} is not a number ≤ ${MAX_SYNC_MS}`;
  const max = Math.max(...ns);
  return max > MAX_SYNC_MS ? `timeout ${max} ms > ${MAX_SYNC_MS}: make it asynchronous (spawnAsync)` : undefined;
}

/** Calls of lab/lib/exec.ts's synchronous run() / runOk() with a timeoutMs above the limit. */
function longExecRuns(file: string, text: string): Finding[] {
  const importsExec = /import \{[^}]*\brun(Ok)?\b[^}]*\} from "(\.\/|[^"]*\/lib\/)exec"/.test(text);
  if (!importsExec) return [];
  const out: Finding[] = [];
  for (const m of text.matchAll(EXEC_RUN_CALL)) {
    const call = callText(text, m.index + m[0].length - 1);
    const ms = /\btimeoutMs\s*:\s*([\d_]+)/.exec(call)?.[1];
    if (ms !== undefined && Number(ms.replace(/_/g, "")) > MAX_SYNC_MS)
      out.push({ file, line: lineOf(text, m.index), problem: `${m[1]}() with timeoutMs ${ms} blocks: use runStreaming` });
  }
  return out;
}

/** The findings of one source file; `file` is relative to the repository (src/... or test/... or lab/...). */
export function scanSource(file: string, text: string): Finding[] {
  const out: Finding[] = [];
  for (const m of text.matchAll(SYNC_CALL)) {
    const line = lineOf(text, m.index);
    if (file.startsWith("src/")) {
      out.push({ file, line, problem: `${m[1]} in product code that tests run in-process: use spawnAsync` });
      continue;
    }
    const problem = timeoutProblem(callText(text, m.index + m[0].length - 1));
    if (problem) out.push({ file, line, problem: `${m[1]}: ${problem}` });
  }
  return [...out, ...longExecRuns(file, text)];
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return e.name === "node_modules" ? [] : sources(rel);
    return /\.(ts|js|mjs|cjs)$/.test(e.name) ? [rel] : [];
  });
}

describe("no long synchronous child process in tests, lab code or src", () => {
  it("every synchronous call in test/ and lab/ is bounded at 30 s; src/ has none", () => {
    const files = ["src", "test", "lab"].flatMap(sources).filter((f) => !(f in ALLOWED));
    expect(files.length).toBeGreaterThan(100);
    const findings = files.flatMap((f) => scanSource(f, readFileSync(join(ROOT, f), "utf8")));
    expect(findings.map((f) => `${f.file}:${f.line}: ${f.problem}`)).toEqual([]);
  });

  it("the allowed files still exist (an entry for a removed file is dropped)", () => {
    for (const f of Object.keys(ALLOWED)) expect(sources(f.slice(0, f.lastIndexOf("/")))).toContain(f);
  });

  it("reports a call without a timeout, with a long one, with a variable one, and any in src/", () => {
    const text = [
      'import { spawnSync, execFileSync } from "node:child_process";',
      'spawnSync("bash", ["-n"], { input: s, encoding: "utf8" });',
      'const r = spawnSync("terraform", ["plan", "(x)"], {',
      "  cwd: dir,",
      "  timeout: 120_000,",
      "});",
      "execFileSync(tf, args, { timeout });",
      'spawnSync("sleep", ["1"], { timeout: 10_000 });',
      'spawnSync(c, a, { timeout: Math.min(opts.timeoutMs, 30_000), cwd: "/" });',
      "spawnSync(c, a, { timeout: Math.max(opts.timeoutMs, 60_000) });",
    ].join("\n");
    expect(scanSource("test/x.test.ts", text)).toEqual([
      { file: "test/x.test.ts", line: 2, problem: "spawnSync: no timeout" },
      { file: "test/x.test.ts", line: 3, problem: "spawnSync: timeout 120000 ms > 30000: make it asynchronous (spawnAsync)" },
      { file: "test/x.test.ts", line: 7, problem: "execFileSync: its timeout is a variable, not a number ≤ 30000" },
      { file: "test/x.test.ts", line: 10, problem: "spawnSync: timeout 60000 ms > 30000: make it asynchronous (spawnAsync)" },
    ]);
    expect(scanSource("src/review/x.ts", 'spawnSync("terraform", ["init"], { timeout: 1000 });')).toEqual([
      { file: "src/review/x.ts", line: 1, problem: "spawnSync in product code that tests run in-process: use spawnAsync" },
    ]);
  });

  it("reports lab/lib/exec.ts's run() and runOk() given more than 30 s, not the awaited runStreaming", () => {
    const text = [
      'import { run, runOk, runStreaming } from "../../lab/lib/exec";',
      'run("ip", ["link"], { timeoutMs: 20_000 });',
      'runOk("terraform", ["init"], { timeoutMs: 300_000 });',
      'await runStreaming("terraform", ["apply"], { timeoutMs: 1_200_000 });',
    ].join("\n");
    expect(scanSource("lab/lib/x.ts", text)).toEqual([{ file: "lab/lib/x.ts", line: 3, problem: "runOk() with timeoutMs 300_000 blocks: use runStreaming" }]);
  });
});
