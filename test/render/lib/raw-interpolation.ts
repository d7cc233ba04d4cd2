/**
 * Finds text built by untagged template literals in the renderers: a substitution whose type is
 * a plain `string` (not a literal type, a number or a boolean) in a template whose fixed text
 * looks like a language (spaces, quotes, shell operators, `=`). Such text must be built with the
 * escaping functions of src/render/escape.ts (`sh\`...\`` for shell) instead.
 *
 * Not flagged: templates whose fixed text is a single token (`${dir}/extra.conf`: a value that is
 * quoted where it is used), messages of thrown errors, and the entries of ALLOWLIST.
 */
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly function: string;
  readonly text: string;
}

/** file (relative to the root) and enclosing function: why its templates are not script text. */
export const ALLOWLIST: ReadonlyArray<{ readonly file: string; readonly function: string; readonly reason: string }> = [
  { file: "src/render/checklist.ts", function: "*", reason: "a checklist for people, printed to a terminal; never run (the report writer escapes Markdown)" },
  { file: "src/render/pgtune.ts", function: "*", reason: "postgresql.conf settings computed from numbers (owned elsewhere)" },
  { file: "src/render/escape.ts", function: "*", reason: "the escaping functions themselves" },
  { file: "src/render/appliance.ts", function: "haProblem", reason: "a diagnostic message for people" },
  { file: "src/render/appliance.ts", function: "hostnameCommand", reason: "the value went through applianceWord (one word, no quotes or control characters)" },
  { file: "src/render/native/layout.ts", function: "nativeMembers", reason: "ConfigError messages" },
  { file: "src/render/native/layout.ts", function: "memberByName", reason: "an error message" },
  {
    file: "src/render/prometheus.ts",
    function: "renderPrometheus",
    reason:
      "Prometheus's text format: label values through promLabelValue and HELP text through helpText (the format's escapes), metric and label names checked against its grammar, numbers through promNumber",
  },
];

/**
 * `raw(x)` inserts x into shell text unescaped: x must be a constant (a literal type), or built by
 * one of these functions, which return text that is already escaped.
 */
export const RAW_BUILDERS = new Set(["shellSingleQuote", "shellQuote", "embedFile", "psqlIn", "shellName", "heredoc", "sh", "sqlLiteral", "sqlIdent"]);

/** raw(identifier) whose value is built by an escaping function nearby (file, function, identifier). */
export const RAW_ALLOWLIST: ReadonlyArray<{ readonly file: string; readonly function: string; readonly name: string; readonly reason: string }> = [
  { file: "src/render/installer.ts", function: "renderEmsInstallScript", name: "cmd", reason: "installerCommandLine quotes every word" },
  { file: "src/render/installer.ts", function: "renderEmsInstallScript", name: "step", reason: "rhelPrerequisites: fixed commands of the guide" },
  { file: "src/render/standalone-db.ts", function: "renderDbReachableCheck", name: "probe", reason: "shellSingleQuote of an sh`` text" },
  { file: "src/render/upgrade.ts", function: "renderEnvFileCheck", name: "keys", reason: "the constant ENV_FILE_KEYS joined with |" },
];

const LANGUAGE_TEXT = /[\s;|&<>()$`"'#\\]/;

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

function trustedType(t: ts.Type): boolean {
  if (t.isUnion()) return t.types.every(trustedType);
  const f = t.flags;
  return Boolean(
    f &
    (ts.TypeFlags.NumberLike |
      ts.TypeFlags.BooleanLike |
      ts.TypeFlags.BigIntLike |
      ts.TypeFlags.StringLiteral |
      ts.TypeFlags.TemplateLiteral |
      ts.TypeFlags.EnumLiteral |
      ts.TypeFlags.Undefined |
      ts.TypeFlags.Null),
  );
}

function enclosingFunction(n: ts.Node): string {
  for (let p: ts.Node | undefined = n.parent; p; p = p.parent) {
    if ((ts.isFunctionDeclaration(p) || ts.isMethodDeclaration(p)) && p.name) return p.name.getText();
    if ((ts.isArrowFunction(p) || ts.isFunctionExpression(p)) && ts.isVariableDeclaration(p.parent)) return p.parent.name.getText();
  }
  return "<module>";
}

/** Inside `throw`, `new XxxError(...)`, or a `message:`/`fix:` property: a message for people. */
function isMessage(n: ts.Node): boolean {
  for (let p: ts.Node | undefined = n.parent; p && !ts.isFunctionLike(p); p = p.parent) {
    if (ts.isThrowStatement(p)) return true;
    if (ts.isNewExpression(p) && /Error$/.test(p.expression.getText())) return true;
    if (ts.isPropertyAssignment(p) && /^(message|fix)$/.test(p.name.getText())) return true;
  }
  return false;
}

/** Scans `<root>/src/render/**` (type-checked with the root's tsconfig options). */
export function findRawInterpolations(root: string, files: string[] = listTs(join(root, "src", "render"))): Finding[] {
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const findings: Finding[] = [];
  for (const file of files) {
    const sf = program.getSourceFile(file);
    if (!sf) continue;
    const rel = relative(root, file).split("\\").join("/");
    const visit = (n: ts.Node): void => {
      if (ts.isTemplateExpression(n) && !ts.isTaggedTemplateExpression(n.parent)) {
        const fixed = [n.head.text, ...n.templateSpans.map((s) => s.literal.text)].join("");
        const untrusted = n.templateSpans.some((s) => !trustedType(checker.getTypeAtLocation(s.expression)));
        const fn = enclosingFunction(n);
        const allowed = ALLOWLIST.some((a) => a.file === rel && (a.function === "*" || a.function === fn));
        if (untrusted && LANGUAGE_TEXT.test(fixed) && !allowed && !isMessage(n)) {
          findings.push({ file: rel, line: sf.getLineAndCharacterOfPosition(n.getStart()).line + 1, function: fn, text: n.getText().slice(0, 120) });
        }
      }
      if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === "raw" && n.arguments.length === 1) {
        const arg = n.arguments[0]!;
        const fn = enclosingFunction(n);
        const builtBy = (e: ts.Expression): boolean => {
          if (ts.isCallExpression(e)) {
            const callee = e.expression;
            const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : "";
            if (RAW_BUILDERS.has(name)) return true;
            // list.map(builder).join(" ")
            if (name === "join" && ts.isPropertyAccessExpression(callee) && ts.isCallExpression(callee.expression)) {
              const inner = callee.expression;
              return (
                ts.isPropertyAccessExpression(inner.expression) &&
                inner.expression.name.text === "map" &&
                inner.arguments.length === 1 &&
                RAW_BUILDERS.has(inner.arguments[0]!.getText())
              );
            }
          }
          return false;
        };
        const ok =
          trustedType(checker.getTypeAtLocation(arg)) ||
          builtBy(arg) ||
          (ts.isIdentifier(arg) && RAW_ALLOWLIST.some((a) => a.file === rel && a.function === fn && a.name === arg.text));
        if (!ok) findings.push({ file: rel, line: sf.getLineAndCharacterOfPosition(n.getStart()).line + 1, function: fn, text: n.getText().slice(0, 120) });
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return findings;
}
