/**
 * Property tests of the escaping functions themselves (seeded): `sh` in every quoting context it
 * supports, traced in real bash; the FortiOS quoted string through the test tokenizer; the
 * Terraform literal through a decoder of Terraform's template escapes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fortiosString, heredoc, sh, shellQuote, terraformLiteral, UnsafeValueError, words } from "../../src/render/escape";
import { tokenizeFortiOs } from "../render/lib/fortios-cli";
import { traceScripts } from "../render/lib/shell-trace";
import { SHELL_PIECES } from "./lib/hostile-render";
import { terraformLiteralDecode } from "./lib/terraform";

const SEED = 4242;

const hostile = fc.oneof(
  fc.array(fc.constantFrom(...SHELL_PIECES), { maxLength: 8 }).map((p) => p.join("")),
  fc.string({ unit: "binary", maxLength: 12 }).map((s) => s.replace(/\0/g, "")),
);

/** Templates covering each context `sh` escapes for; `expect` is the command the value must produce. */
const CASES: Array<{ name: string; build: (v: string) => string; expect: (v: string) => string[][] }> = [
  { name: "word", build: (v) => sh`rec ${v}`, expect: (v) => [["rec", v]] },
  { name: "word joined to text", build: (v) => sh`rec --x=${v}/y`, expect: (v) => [["rec", `--x=${v}/y`]] },
  { name: "words", build: (v) => sh`rec ${words([v, "b", v])}`, expect: (v) => [["rec", v, "b", v]] },
  { name: "double quotes", build: (v) => sh`rec "a ${v} b"`, expect: (v) => [["rec", `a ${v} b`]] },
  { name: "assignment", build: (v) => sh`X=${v}; rec "$X"`, expect: (v) => [["rec", v]] },
  {
    name: "inside $( ) inside quotes",
    build: (v) => sh`rec "$(rec2 ${v})"`,
    expect: (v) => [
      ["rec2", v],
      ["rec", ""],
    ],
  },
  { name: "comment", build: (v) => sh`# a ${v} b\nrec done`, expect: () => [["rec", "done"]] },
  {
    name: "unquoted here-document",
    build: (v) => sh`hd <<EOF_X\n${v}\nEOF_X\nrec done`,
    expect: (v) => [
      ["hd", `${v}\n`],
      ["rec", "done"],
    ],
  },
  {
    name: "quoted here-document (heredoc())",
    build: (v) => `${heredoc("hd", "EMS_HA_EOF", v)}\nrec done`,
    expect: (v) => [
      ["hd", `${v.replace(/\n$/, "")}\n`],
      ["rec", "done"],
    ],
  },
];

const PRELUDE = `rec() { __rec rec "$@"; }\nrec2() { __rec rec2 "$@"; }\nhd() { local x; IFS= read -r -d '' x; __rec hd "$x"; }\n`;

describe("escaping functions (property, seeded)", () => {
  it("sh: in every context the value comes back as one exact word, and nothing runs", async () => {
    const values = fc.sample(hostile, { seed: SEED, numRuns: 120 });
    const scripts: string[] = [];
    const expected: string[][][] = [];
    let refused = 0;
    for (const v of values) {
      for (const c of CASES) {
        let text: string;
        try {
          text = c.build(v);
        } catch (e) {
          // the only refusal: a here-document body that holds its delimiter line
          expect(e, `${c.name} ${JSON.stringify(v)}`).toBeInstanceOf(UnsafeValueError);
          expect(v.split("\n").some((l) => l === "EOF_X" || l === "EMS_HA_EOF")).toBe(true);
          refused++;
          continue;
        }
        scripts.push(PRELUDE + text);
        expected.push(c.expect(v));
      }
    }
    const traces = await traceScripts(scripts, 120_000);
    const failures = traces
      .map((t, i) => ({ i, got: t.commands, want: expected[i]! }))
      .filter((x) => JSON.stringify(x.got) !== JSON.stringify(x.want))
      .map((x) => `${JSON.stringify(scripts[x.i]!.slice(PRELUDE.length))}: ${JSON.stringify(x.got)} != ${JSON.stringify(x.want)}`);
    expect(failures.slice(0, 5)).toEqual([]);
    expect(scripts.length).toBe(values.length * CASES.length - refused);
    console.log(
      `[render property] sh: ${values.length} values x ${CASES.length} contexts: ${scripts.length} snippets traced, ${refused} refused (delimiter line), ${failures.length} failures`,
    );
  }, 120_000);

  it("sh refuses a value inside single quotes (it cannot be escaped there)", () => {
    expect(() => sh`trap 'rm -f ${"/x"}' EXIT`).toThrow(UnsafeValueError);
  });

  it("shellQuote: plain words stay bare, anything else is one single-quoted word", () => {
    expect(shellQuote("/opt/ems-ha/conf.d")).toBe("/opt/ems-ha/conf.d");
    expect(shellQuote("o'brien")).toBe(`'o'\\''brien'`);
    expect(shellQuote("")).toBe("''");
    expect(() => shellQuote("a\0b")).toThrow(UnsafeValueError);
  });

  it("fortiosString: parses back to the value; control characters refused", () => {
    fc.assert(
      fc.property(hostile, (v) => {
        // eslint-disable-next-line no-control-regex
        if (/[\x00-\x1f\x7f]/.test(v)) {
          expect(() => fortiosString(v, "x")).toThrow(/control character/);
          return;
        }
        expect(tokenizeFortiOs(`set name ${fortiosString(v, "x")}\n`)).toEqual([["set", "name", v]]);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it("terraformLiteral: Terraform reads back exactly the text, with no interpolation", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("${", "%{", "$${", "%%{", "$", "%", "{", "}", "a", "\n", "$$"), { maxLength: 12 }).map((p) => p.join("")),
        (v) => {
          expect(terraformLiteralDecode(terraformLiteral(v))).toBe(v);
        },
      ),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
