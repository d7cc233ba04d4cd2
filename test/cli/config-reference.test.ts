/**
 * docs/configuration.md lists every field of the deployment schema with its default. The field
 * list is walked from the zod schema at run time, so a new field (or a new default) fails this test
 * until its row is added; a row for a field the schema no longer has fails it too.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { deploymentSchema } from "../../src/config/schema";
import { schemaFields } from "./schema-fields";

const DOC = join(__dirname, "..", "..", "docs", "configuration.md");

/** Rows of every `| field | default | meaning |` table: field path -> default cell. */
export function referenceRows(markdown: string): Map<string, string> {
  const rows = new Map<string, string>();
  let inTable = false;
  for (const line of markdown.split("\n")) {
    if (/^\|\s*field\s*\|\s*default\s*\|/.test(line)) {
      inTable = true;
      continue;
    }
    if (!line.startsWith("|")) {
      inTable = false;
      continue;
    }
    if (!inTable || /^\|\s*-/.test(line)) continue;
    const cells = line
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim());
    const m = /^`([A-Za-z][\w.[\]]*)`$/.exec(cells[0] ?? "");
    if (!m) throw new Error(`docs/configuration.md: a field row must start with one \`path\`: ${line}`);
    if (rows.has(m[1]!)) throw new Error(`docs/configuration.md lists ${m[1]} twice`);
    rows.set(m[1]!, cells[1] ?? "");
  }
  return rows;
}

const squash = (s: string) => s.replace(/[\s`]/g, "");
function rendered(value: unknown): string {
  return squash(typeof value === "string" ? value : JSON.stringify(value));
}

describe("docs/configuration.md", () => {
  const rows = referenceRows(readFileSync(DOC, "utf8"));
  const fields = schemaFields(deploymentSchema);
  // Objects are described by their fields; an object or list with a meaningful default is listed too.
  const required = fields.filter((f) => !f.container || (f.hasDefault && JSON.stringify(f.defaultValue) !== "{}"));

  it("walks a schema of the expected size (the walk itself works)", () => {
    expect(fields.length).toBeGreaterThan(90);
    expect(fields.map((f) => f.path)).toEqual(
      expect.arrayContaining(["topology", "database.nodes[].ssh.port", "database.image.source.sha256", "standalone.mode"]),
    );
  });

  it("has a row for every schema field", () => {
    const missing = required.map((f) => f.path).filter((p) => !rows.has(p));
    expect(missing, "add a row `| \\`path\\` | default | meaning |` in the section of the field").toEqual([]);
  });

  it("gives every default as the schema has it", () => {
    const wrong = required
      .filter((f) => f.hasDefault && rows.has(f.path))
      .filter((f) => !squash(rows.get(f.path)!).includes(rendered(f.defaultValue)))
      .map((f) => `${f.path}: schema default ${JSON.stringify(f.defaultValue)}, documented "${rows.get(f.path)}"`);
    expect(wrong).toEqual([]);
  });

  it("documents no default for a field that has none, and no field the schema lacks", () => {
    const byPath = new Map(fields.map((f) => [f.path, f]));
    expect(
      [...rows.keys()].filter((p) => !byPath.has(p)),
      "rows for fields that do not exist",
    ).toEqual([]);
    const invented = [...rows.entries()].filter(([p, cell]) => cell !== "" && byPath.get(p)?.hasDefault === false).map(([p, cell]) => `${p}: "${cell}"`);
    expect(invented, "a field without a schema default has an empty default cell (say what absence means in the meaning column)").toEqual([]);
  });
});
