/**
 * Hostile input, generated: valid example deployments mutated with shell metacharacters, command
 * substitutions, quotes, newlines, Terraform templates, control characters, out-of-range numbers
 * and odd structures. Every one must be either accepted, and then parse, pass the semantic checks,
 * tune PostgreSQL for every data node and produce a report without throwing, or rejected with a
 * ConfigError whose message names each field path, its value and a fix. `ems-ha check` on the same
 * deployment exits 0 (accepted) or 2 (rejected), never anything else.
 *
 * Seeded (SEED) so a failure replays; the figures are printed at the end and quoted in
 * docs/reliability.md ("Hostile input").
 */
import { writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { checkDeployment } from "../../src/analysis/check";
import { clusterOf, deploymentScenarioRun } from "../../src/analysis/failover";
import { reportMarkdown, topologySvg } from "../../src/analysis/report";
import type { CliIo } from "../../src/cli/command";
import { runCli } from "../../src/cli/main";
import { dataNodes } from "../../src/config/derive";
import { ConfigError, showValue } from "../../src/config/errors";
import { parseDeployment, validateDeployment } from "../../src/config/parse";
import { semanticIssues } from "../../src/config/semantics";
import { pgtuneForNode } from "../../src/render/pgtune";
import { spawnAsync } from "../../src/spawn-async";
import { tempDir } from "../helpers/tmp";
import { BASES, hostileDeployment, type Json, type Path } from "./hostile-deployments";

const SEED = 20261126;
const RUNS = 2000;
const ROOT = resolve(__dirname, "../..");
const dir = tempDir("ems-ha-prop-");

const figures = { generated: 0, accepted: 0, rejected: 0, crashes: 0, cliRuns: 0 };
const crashes: string[] = [];

async function checkExit(input: Json): Promise<{ code: number; err: string }> {
  const p = join(dir, `d${figures.cliRuns++}.json`);
  // JSON.stringify cannot write a 3,000-deep value here; write it by hand when it fails.
  let text: string;
  try {
    text = JSON.stringify(input);
  } catch {
    text = JSON.stringify({ ...input, name: "__DEEP__" }).replace('"__DEEP__"', `${'{"a":'.repeat(3000)}"x"${"}".repeat(3000)}`);
  }
  writeFileSync(p, text);
  let err = "";
  const io: CliIo = { out: () => undefined, err: (t) => void (err += `${t}\n`), cwd: dir, env: {} };
  return { code: await runCli(["check", "--config", p], io), err };
}

function overlaps(a: string, b: string): boolean {
  const inside = (x: string, y: string) => y === "(root)" || x === y || x.startsWith(`${y}.`) || x.startsWith(`${y}[`);
  return inside(a, b) || inside(b, a);
}

function pathText(path: Path): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${p}` : p;
  return out || "(root)";
}

/** What an accepted deployment guarantees, whatever was generated. */
function assertSafe(d: Json): void {
  const strings: Array<[string, string]> = [];
  const walk = (v: Json, path: string) => {
    if (typeof v === "string") strings.push([path, v]);
    else if (v !== null && typeof v === "object") for (const k of Object.keys(v)) walk(v[k], `${path}.${k}`);
  };
  walk(d, "");
  for (const [path, v] of strings) {
    expect(v, path).not.toMatch(/\$\{|%\{/);
    // eslint-disable-next-line no-control-regex -- the point: no control character survives validation
    expect(v, path).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
  }
  for (const p of [d.installer.installDir, d.database.confDir, d.database.repmgrConfDir, d.database.image.source.path].filter((x) => x !== undefined)) {
    expect(p).toMatch(/^\/[^'"`$\\]*$/);
    expect(p.split("/")).not.toContain("..");
  }
  for (const n of [...d.emsNodes, ...d.database.nodes]) {
    expect(n.ssh.user).toMatch(/^[a-z_][a-z0-9_-]{0,31}$/);
    expect(n.ssh.privateKeyPath ?? "").not.toMatch(/['"`$]/);
    // A dotted all-numeric address is a real IPv4 address.
    if (/^[0-9.]+$/.test(n.address)) expect(isIP(n.address), n.address).toBe(4);
  }
  expect(isIP(d.ems.vip)).toBe(4);
  for (const n of d.database.nodes) {
    if (n.nodeId !== undefined) expect(String(n.nodeId)).toMatch(/^[1-9]\d{0,9}$/);
    const conf = pgtuneForNode(n, d.database.maxConnections);
    const m = /maintenance_work_mem = (\d+)(kB|MB|GB)/.exec(conf)!;
    expect(m[2] === "kB" ? Number(m[1]) >= 1024 : true, conf).toBe(true);
  }
  for (const c of [...(d.native?.clientNetworks ?? []), ...(d.standalone?.clientNetworks ?? [])]) {
    const [addr, prefix] = c.split("/");
    expect(isIP(addr), c).not.toBe(0);
    expect(Number(prefix), c).toBeLessThanOrEqual(isIP(addr) === 4 ? 32 : 128);
  }
}

afterAll(() => {
  // The figures docs/reliability.md quotes.
  console.log(`hostile-input property: ${JSON.stringify(figures)}`);
});

describe("hostile deployments (fast-check, seeded)", () => {
  it(`every one of ${RUNS} generated deployments is accepted cleanly or rejected with path, value and fix; check exits 0 or 2`, async () => {
    await fc.assert(
      fc.asyncProperty(hostileDeployment, async ({ input, mutations }) => {
        figures.generated++;
        let v: ReturnType<typeof validateDeployment>;
        try {
          v = validateDeployment(input);
        } catch (e) {
          figures.crashes++;
          crashes.push(`${(e as Error).stack}`);
          throw e;
        }
        if (v.ok) {
          figures.accepted++;
          const d = parseDeployment(input);
          assertSafe(d);
          expect(semanticIssues(d)).toEqual([]);
          for (const n of dataNodes(d)) pgtuneForNode(n, d.database.maxConnections);
          checkDeployment(input);
          reportMarkdown(d, { findings: checkDeployment(input).findings });
          topologySvg(d);
          expect(deploymentScenarioRun(d, "repmgr", clusterOf(d)).evaluated).toBeGreaterThan(0);
        } else {
          figures.rejected++;
          expect(() => parseDeployment(input)).toThrow(ConfigError);
          const message = new ConfigError(v.issues).message;
          for (const i of v.issues) {
            expect(i.path.length).toBeGreaterThan(0);
            expect(i.fix.trim().length).toBeGreaterThan(0);
            expect(message).toContain(`  - ${i.path}: ${i.message} (got ${showValue(i.value)}). Fix: ${i.fix}`);
          }
          // The rejection is about what was changed: a mutated field (or its container), or a cross-field rule.
          // A deletion from an array shifts the later elements: the whole array counts as touched.
          const touched = mutations.map((m) => pathText(m.kind === "add-key" ? [...m.path, m.key] : m.kind === "delete" ? m.path.slice(0, -1) : m.path));
          expect(v.issues.some((i) => i.rule !== undefined || i.path === "(root)" || touched.some((t) => overlaps(i.path, t)))).toBe(true);
        }
        const { code, err } = await checkExit(input);
        expect(code).toBe(v.ok ? 0 : 2);
        expect(err).not.toMatch(/\n\s+at .*:\d+:\d+/);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    expect(figures.crashes).toBe(0);
    // The generator reaches both outcomes (a generator that only produced rejects would prove little).
    expect(figures.accepted).toBeGreaterThan(RUNS / 50);
    expect(figures.rejected).toBeGreaterThan(RUNS / 2);
  }, 120_000);
});

describe("hostile deployments through the real binary", () => {
  async function run(file: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
    // `npx tsx src/cli/main.ts check --config FILE`, as a user runs it from a clone.
    const r = await spawnAsync("npx", ["tsx", "src/cli/main.ts", "check", "--config", file], { cwd: ROOT, timeoutMs: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const cases: Array<[string, string, string, number]> = [
    ["valid", "ok.json", JSON.stringify(BASES[0]), 0],
    ["command substitution in a path", "subst.json", JSON.stringify({ ...BASES[0], installer: { ...BASES[0].installer, installDir: "/opt/$(reboot)" } }), 2],
    ["unknown extension", "deploy.yaml", "topology: single-region\n", 2],
    ["a module that throws", "throws.ts", "throw new Error('loader boom');\nexport default {};\n", 2],
    ["10,000-deep value", "deep.json", JSON.stringify(BASES[0]).replace('"name":"ems"', `"name":${'{"a":'.repeat(10_000)}"x"${"}".repeat(10_000)}`), 2],
  ];
  it.each(cases)("%s: exit code as expected, no stack trace", async (_name, file, text, want) => {
    const p = join(dir, file);
    writeFileSync(p, text);
    const r = await run(p);
    expect(r.status, r.stderr).toBe(want);
    expect(r.stderr).not.toMatch(/\n\s+at .*:\d+:\d+/);
    if (want === 2) expect(r.stderr).toMatch(/Fix: /);
  });
});
