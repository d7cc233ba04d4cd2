/**
 * The package's entry points export what exists: every value exported by a module of
 * src/config, src/render and constructs/ is reachable from its barrel (ems-ha/config,
 * ems-ha/render, ems-ha/constructs), and the root entry point (ems-ha) re-exports all three.
 * A new module that is not added to its barrel fails here, naming it.
 */
import { basename, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import * as root from "../../index";
import { filesUnder } from "../helpers/files";
import { REPO_ROOT } from "./pack";

const BARRELS = [
  { entry: "ems-ha/config", dir: "src/config" },
  { entry: "ems-ha/render", dir: "src/render" },
  { entry: "ems-ha/constructs", dir: "constructs" },
] as const;

function modulesUnder(dir: string): string[] {
  return filesUnder(REPO_ROOT, dir, ".ts").filter((f) => basename(f) !== "index.ts");
}

describe("entry points", () => {
  for (const { entry, dir } of BARRELS) {
    it(`${entry} (${dir}/index.ts) exports every value of every module in ${dir}/`, async () => {
      const barrel = (await import(join(REPO_ROOT, dir, "index.ts"))) as Record<string, unknown>;
      const missing: string[] = [];
      const modules = modulesUnder(dir);
      expect(modules.length).toBeGreaterThan(2);
      for (const file of modules) {
        const mod = (await import(join(REPO_ROOT, file))) as Record<string, unknown>;
        for (const name of Object.keys(mod)) {
          if (name === "default" || name === "__esModule") continue;
          if (!(name in barrel)) missing.push(`${relative(REPO_ROOT, join(REPO_ROOT, file))}: ${name}`);
        }
      }
      expect(missing, `add these modules to ${dir}/index.ts`).toEqual([]);
    });

    it(`the root entry point re-exports ${entry}`, async () => {
      const barrel = (await import(join(REPO_ROOT, dir, "index.ts"))) as Record<string, unknown>;
      const absent = Object.keys(barrel).filter((n) => n !== "__esModule" && !(n in root));
      expect(absent).toEqual([]);
    });
  }
});
