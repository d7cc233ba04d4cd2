/**
 * The docs stand alone: no file of the repository cites the researchers' notes file (which is not
 * shipped); every relative link of README.md and docs/ resolves, anchors included; every
 * `docs/<page>.md#anchor` a code comment cites exists; every heading of README.md and docs/ follows
 * a blank line (one glued to a table or a paragraph renders as part of it in some viewers).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..", "..");
// Built from parts so this file does not match itself.
const NOTES = ["FAC", "TS"].join("");

function trackedFiles(): string[] {
  return execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8", timeout: 30_000 })
    .split("\0")
    .filter((f) => f && existsSync(join(ROOT, f)) && statSync(join(ROOT, f)).isFile());
}

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces as '-', repeats suffixed -1, -2. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of markdown.replace(/```[\s\S]*?```/g, "").matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const slug = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

describe("docs that stand alone", () => {
  const files = trackedFiles();
  const anchorCache = new Map<string, Set<string>>();
  /** The anchors of a page (a repository path), each page read once. */
  const anchorsOf = (path: string): Set<string> => {
    if (!anchorCache.has(path)) anchorCache.set(path, anchors(readFileSync(join(ROOT, path), "utf8")));
    return anchorCache.get(path)!;
  };

  it(`no file mentions ${NOTES}.md or cites its sections`, () => {
    const hits = files
      .filter((f) => !/\.(png|svg|tgz|gz)$/.test(f))
      .filter((f) => new RegExp(`${NOTES}(\\.md|\\s*§)`).test(readFileSync(join(ROOT, f), "utf8")))
      .map((f) => f);
    expect(hits).toEqual([]);
  });

  it("every relative link of README.md and docs/ resolves, anchors included", () => {
    const pages = files.filter((f) => f.endsWith(".md") && (f === "README.md" || f.startsWith("docs/")));
    const broken: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(ROOT, page), "utf8").replace(/```[\s\S]*?```/g, "");
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const [target, anchor] = m[1]!.split("#") as [string, string | undefined];
        if (/^[a-z]+:/.test(target)) continue;
        const path = target === "" ? page : normalize(join(dirname(page), target));
        if (!existsSync(join(ROOT, path))) {
          broken.push(`${page}: ${m[1]} (no ${path})`);
          continue;
        }
        if (anchor && path.endsWith(".md") && !anchorsOf(path).has(anchor)) broken.push(`${page}: ${m[1]} (no heading #${anchor})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("every docs/<page>.md#anchor cited in code exists", () => {
    const code = files.filter((f) => /\.(ts|js|sh)$/.test(f));
    const broken: string[] = [];
    let cited = 0;
    for (const f of code) {
      const text = readFileSync(join(ROOT, f), "utf8");
      for (const m of text.matchAll(/docs\/([\w/-]+\.md)((?:#[a-z0-9-]+)(?:, #[a-z0-9-]+)*)/g)) {
        const page = join(ROOT, "docs", m[1]!);
        if (!existsSync(page)) {
          broken.push(`${f}: docs/${m[1]} does not exist`);
          continue;
        }
        const have = anchors(readFileSync(page, "utf8"));
        for (const a of m[2]!.split(/, /).map((s) => s.replace(/^#/, ""))) {
          cited++;
          if (!have.has(a)) broken.push(`${f}: docs/${m[1]}#${a}`);
        }
      }
    }
    expect(cited).toBeGreaterThan(20);
    expect(broken).toEqual([]);
  });

  it("every heading of README.md and docs/ follows a blank line, and code fences are closed", () => {
    const pages = files.filter((f) => f.endsWith(".md") && (f === "README.md" || f.startsWith("docs/")));
    const glued: string[] = [];
    let headings = 0;
    for (const page of pages) {
      const lines = readFileSync(join(ROOT, page), "utf8").split("\n");
      let fenced = false;
      lines.forEach((line, i) => {
        if (/^\s*```/.test(line)) fenced = !fenced;
        if (fenced || !/^#{1,6} /.test(line)) return;
        headings++;
        if (i > 0 && lines[i - 1]!.trim() !== "") glued.push(`${page}:${i + 1}: ${line}`);
      });
      if (fenced) glued.push(`${page}: a code fence is not closed`);
    }
    expect(headings).toBeGreaterThan(50);
    expect(glued).toEqual([]);
  });
});
