/**
 * npm publish refuses a package without the repository links (scripts/check-publish.js, run by
 * npm's prepublishOnly): the packed docs point readers at the repository for what is not shipped.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/tmp";

const ROOT = resolve(__dirname, "../..");
const dir = tempDir("ems-ha-publish-guard-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(pkg: Record<string, unknown>): { code: number | null; err: string } {
  const file = join(dir, `package-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(pkg));
  const r = spawnSync(process.execPath, [join(ROOT, "scripts/check-publish.js"), file], { encoding: "utf8", timeout: 20_000 });
  return { code: r.status, err: r.stderr };
}

describe("the publish guard", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Record<string, unknown> & { scripts: Record<string, string> };

  it("is npm's prepublishOnly step", () => {
    expect(pkg.scripts.prepublishOnly).toBe("node scripts/check-publish.js");
  });

  it("refuses a package without repository and homepage, naming each field, its value and the fix (exit 2)", () => {
    const r = check({ ...pkg, repository: undefined, homepage: "TODO" });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/repository = null: the published package would link to no repository\. Fix: set repository to the project's public address/);
    expect(r.err).toMatch(/homepage = "TODO": .* Fix: set homepage/);
  });

  it("lets a package with both through", () => {
    expect(check({ ...pkg, repository: { type: "git", url: "git+https://example.org/ems-ha.git" }, homepage: "https://example.org/ems-ha" })).toEqual({
      code: 0,
      err: "",
    });
  });
});
