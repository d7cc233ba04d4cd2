/**
 * The two tiers of tests (docs/lab.md, "Two tiers of lab tests"): `npm test` runs every test file
 * except the long lab drills in test/drills/, and `npm run test:drills` runs exactly those. Asked of
 * vitest itself (`vitest list --filesOnly` with each configuration), so a pattern that drops a file
 * from both tiers, or runs a drill in CI, fails here. Every drill is listed in the docs' table.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnAsync } from "../../src/spawn-async";
import { filesUnder } from "../helpers/files";
import { REPO_ROOT } from "./pack";

async function listed(config: string): Promise<string[]> {
  const vitest = join(REPO_ROOT, "node_modules", ".bin", "vitest");
  const r = await spawnAsync(vitest, ["list", "--filesOnly", "--config", config], { cwd: REPO_ROOT, timeoutMs: 180_000 });
  expect(r.error, `vitest list --config ${config}: ${r.error?.message}`).toBeUndefined();
  expect(r.status, `vitest list --config ${config} failed:\n${r.stderr}`).toBe(0);
  return r.stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.endsWith(".test.ts"))
    .sort();
}

describe("test tiers", () => {
  const all = filesUnder(REPO_ROOT, "test", ".test.ts").sort();
  const drills = all.filter((f) => f.startsWith("test/drills/"));

  it("npm test runs every test file but the drills; npm run test:drills runs exactly the drills", async () => {
    expect(drills.length).toBeGreaterThan(5);
    const [main, drillTier] = await Promise.all([listed("vitest.config.ts"), listed("vitest.drills.config.ts")]);
    expect(main).toEqual(all.filter((f) => !drills.includes(f)));
    expect(drillTier).toEqual(drills);
    const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    expect(scripts["test"]).toMatch(/vitest run$/);
    expect(scripts["test:drills"]).toMatch(/vitest run --config vitest\.drills\.config\.ts$/);
  }, 240_000);

  it("docs/lab.md lists every drill in its table, and the README names npm run test:drills", () => {
    const doc = readFileSync(join(REPO_ROOT, "docs", "lab.md"), "utf8");
    const start = doc.indexOf("## Two tiers of lab tests");
    expect(start, 'docs/lab.md has no "## Two tiers of lab tests" section').toBeGreaterThanOrEqual(0);
    const section = doc.slice(start, doc.indexOf("\n## ", start + 5));
    const rows = [...section.matchAll(/^\| `([a-z0-9-]+\.test\.ts)` \|/gm)].map((m) => `test/drills/${m[1]}`);
    expect(
      drills.filter((f) => !rows.includes(f)),
      "add these to docs/lab.md's table of drills",
    ).toEqual([]);
    expect(
      rows.filter((f) => !drills.includes(f)),
      "rows of docs/lab.md's table with no such drill",
    ).toEqual([]);
    expect(readFileSync(join(REPO_ROOT, "README.md"), "utf8")).toContain("npm run test:drills");
  });
});
