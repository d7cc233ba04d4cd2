/**
 * Lint: no rendered script pipes a command into a reader that may stop before the writer is done
 * (`| head`, `| grep -q`, `| grep -m N`, `| awk '... exit ...'`). The scripts run with
 * `set -o pipefail`, so a writer killed by SIGPIPE turns the whole pipeline into exit status 141:
 * under load this failed a real node setup once (`merge_block` read a block's first line with
 * `printf | head -n 1`). Read the whole output into a variable, or use parameter expansion.
 * The same holds for the shell files that run beside them: CI once failed in its first second on
 * `terraform version | head -1` in scripts/setup.sh (exit 141).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const EARLY_EXIT_READERS: readonly { name: string; pattern: RegExp }[] = [
  { name: "| head", pattern: /(?<!\|)\|\s*head\b/ },
  { name: "| grep -q / -m", pattern: /(?<!\|)\|\s*grep\s+(?:-[a-zA-Z]*[qm]|--quiet|--max-count)/ },
  { name: "| awk with exit", pattern: /(?<!\|)\|\s*awk\b[^\n]*\bexit\b/ },
  { name: "| sed with q", pattern: /(?<!\|)\|\s*sed\s+(?:-n\s+)?'[^']*[\d;/]q'/ },
];

/** Lines that quote such a pipe as text for a person, never run. */
const ALLOWED: readonly { file: string; contains: string; why: string }[] = [
  {
    file: "src/render/native/setup-lib.ts",
    contains: 'die "symmetric_key must be 20 characters',
    why: "an error message quoting the guide's command",
  },
];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Shell files run with pipefail outside src/render: setup, CI, the stand-ins' scripts. */
function shellFiles(root: string): string[] {
  const underStandins = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) return underStandins(p);
      return /^#!.*\b(ba)?sh\b/.test(readFileSync(p, "utf8").slice(0, 80)) ? [p] : [];
    });
  return [join(root, ".ci", "run"), join(root, "scripts", "setup.sh"), ...underStandins(join(root, "test", "standins"))];
}

export function findEarlyExitPipes(root: string): string[] {
  const found: string[] = [];
  for (const file of [...tsFiles(join(root, "src", "render")), ...shellFiles(root)]) {
    const rel = relative(root, file);
    readFileSync(file, "utf8")
      .split("\n")
      .forEach((line, i) => {
        for (const r of EARLY_EXIT_READERS) {
          if (!r.pattern.test(line)) continue;
          if (ALLOWED.some((a) => a.file === rel && line.includes(a.contains))) continue;
          found.push(`${rel}:${i + 1} (${r.name}): ${line.trim()}`);
        }
      });
  }
  return found;
}

describe("no early-exit readers in piped scripts", () => {
  it("src/render, setup, CI and the stand-ins pipe nothing into head, grep -q, grep -m or an exiting awk", () => {
    expect(findEarlyExitPipes(resolve(__dirname, "../.."))).toEqual([]);
  });

  it("each pattern catches its case and leaves whole-input readers alone", () => {
    const hits = (line: string) => EARLY_EXIT_READERS.filter((r) => r.pattern.test(line)).map((r) => r.name);
    expect(hits(`begin=$(printf '%s\\n' "$block" | head -n 1)`)).toEqual(["| head"]);
    expect(hits(`docker top "$C" | grep -q repmgrd`)).toEqual(["| grep -q / -m"]);
    expect(hits(`x | grep -qx -- a`)).toEqual(["| grep -q / -m"]);
    expect(hits(`pg_controldata | awk '$1 == k { print $2; exit }'`)).toEqual(["| awk with exit"]);
    expect(hits(`x | sed -n '1p;1q'`)).toEqual(["| sed with q"]);
    expect(hits(`x | grep -c pattern`)).toEqual([]);
    expect(hits(`x | awk '{ print tolower($1) }' | sed 's/a/b/'`)).toEqual([]);
    expect(hits(`x | tail -n 1`)).toEqual([]);
    expect(hits(`grep -qx -- "$a" <<< "$units"`)).toEqual([]);
    expect(hits(`grep -qx a "$f" || grep -qx b "$f"`)).toEqual([]);
    expect(hits(`terraform version | head -1`)).toEqual(["| head"]);
  });
});
