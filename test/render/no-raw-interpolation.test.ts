/**
 * Lint: no renderer builds text of a language (shell, SQL, config files, FortiOS CLI) by
 * interpolating a string into an untagged template literal; values go through src/render/escape.ts
 * (`sh\`...\`` for shell), and `raw(...)` gets only constants or text an escaping function built.
 * See test/render/lib/raw-interpolation.ts for the rules and their allowlists.
 * On the code before the escaping module this check reported 135 places.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { findRawInterpolations } from "./lib/raw-interpolation";

describe("no raw interpolation in the renderers", () => {
  it("src/render builds no script or config text from an unescaped string", () => {
    const findings = findRawInterpolations(resolve(__dirname, "../.."));
    expect(findings.map((f) => `${f.file}:${f.line} (${f.function}): ${f.text}`)).toEqual([]);
  }, 180_000);

  it("flags an untagged shell template with a string in it, and nothing else", () => {
    const root = mkdtempSync(join(tmpdir(), "ems-ha-lint-"));
    mkdirSync(join(root, "src", "render"), { recursive: true });
    const file = join(root, "src", "render", "sample.ts");
    writeFileSync(
      file,
      [
        "declare function sh(s: TemplateStringsArray, ...v: unknown[]): string;",
        "declare function raw(s: string): unknown;",
        "declare function shellSingleQuote(s: string): string;",
        'const STATE = "/var/lib/ems-ha";',
        'export function f(d: { dir: string; port: number; role: "a" | "b" }): string[] {',
        "  return [",
        "    `mkdir -p ${d.dir}`,",
        "    sh`mkdir -p ${d.dir}`,",
        "    `${d.dir}/extra.conf`,",
        "    `sleep ${d.port}; mkdir ${STATE} ${d.role}`,",
        "    sh`x ${raw(d.dir)} ${raw(shellSingleQuote(d.dir))} ${raw(STATE)}`,",
        "  ];",
        "}",
        "export function g(x: string): never { throw new Error(`bad value ${x}`); }",
      ].join("\n"),
    );
    const findings = findRawInterpolations(root, [file]);
    expect(findings.map((f) => [f.line, f.function, f.text])).toEqual([
      [7, "f", "`mkdir -p ${d.dir}`"],
      [11, "f", "raw(d.dir)"],
    ]);
  }, 60_000);
});
