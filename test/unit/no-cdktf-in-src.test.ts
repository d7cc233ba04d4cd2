/**
 * src/ is the framework-independent core: nothing in it may import cdktf, constructs or a
 * @cdktf/* package, directly or through a relative import that leaves src/ (constructs/,
 * stacks/). That keeps `ems-ha/config` and `ems-ha/render` usable without cdktf and a move to
 * another CDK (docs/cdk-terrain.md) confined to constructs/ and stacks/.
 */
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { filesUnder } from "../helpers/files";

const SRC = resolve(__dirname, "..", "..", "src");
const FORBIDDEN_PACKAGES = /^(cdktf|cdktf-cli|cdktn|cdktn-cli|constructs|@cdktf\/.+|@cdktn\/.+)(\/.*)?$/;

/** Module specifiers of import/export-from/require/import() in a TypeScript source. */
export function moduleSpecifiers(source: string): string[] {
  const patterns = [
    /\b(?:import|export)\s[^'";]*?\sfrom\s*["']([^"']+)["']/g, // import x from "m", export * from "m", import type {..} from "m"
    /\bimport\s*["']([^"']+)["']/g, // import "m"
    /\b(?:require|import)\s*\(\s*["']([^"']+)["']\s*\)/g, // require("m"), import("m")
  ];
  return patterns.flatMap((re) => [...source.matchAll(re)].map((m) => m[1]!));
}

/** Why a specifier in `file` breaks the rule, or undefined. */
export function violation(file: string, spec: string): string | undefined {
  if (FORBIDDEN_PACKAGES.test(spec)) return `imports ${spec}`;
  if (spec.startsWith(".")) {
    const target = resolve(dirname(file), spec);
    if (target !== SRC && !target.startsWith(SRC + sep)) return `imports ${spec}, outside src/ (${relative(SRC, target)})`;
  }
  return undefined;
}

describe("src/ is free of cdktf", () => {
  it("recognises the forms a violation can take (self-check of the scanner)", () => {
    const sample = [
      'import { App } from "cdktf";',
      'import type { Construct } from "constructs";',
      'export * from "@cdktf/provider-docker/lib/container";',
      'const x = require("cdktn");',
      'import "../../constructs/pg-ha-node";',
      'const y = await import("../../stacks/registry");',
      'import { z } from "zod";',
      'import { a } from "./schema";',
    ].join("\n");
    const file = join(SRC, "render", "sample.ts");
    const found = moduleSpecifiers(sample).filter((s) => violation(file, s));
    expect(found.sort()).toEqual(
      ["../../constructs/pg-ha-node", "../../stacks/registry", "@cdktf/provider-docker/lib/container", "cdktf", "cdktn", "constructs"].sort(),
    );
  });

  it("has no file under src/ that imports cdktf, constructs, @cdktf/* or code outside src/", () => {
    const files = filesUnder(SRC, ".", ".ts").map((f) => join(SRC, f));
    expect(files.length).toBeGreaterThan(10);
    const problems = files.flatMap((f) =>
      moduleSpecifiers(readFileSync(f, "utf8")).flatMap((s) => {
        const why = violation(f, s);
        return why ? [`src/${relative(SRC, f)}: ${why}`] : [];
      }),
    );
    expect(problems).toEqual([]);
  });
});
