/**
 * Escaping, one function per output language, applied where the text is assembled.
 *
 * Every value that comes from a deployment is treated as hostile here: the renderers do not
 * rely on the configuration schema to have rejected metacharacters. docs/security.md explains
 * the rules; test/render/no-raw-interpolation.test.ts fails when a renderer builds script text
 * with an untagged template literal.
 *
 * - shell (bash): {@link sh} (a tagged template that quotes every interpolated value for the
 *   place it lands in), {@link shellQuote}, {@link shellSingleQuote}, {@link heredoc};
 * - Terraform JSON strings: {@link terraformLiteral};
 * - FortiOS CLI: {@link fortiosString}, {@link fortiosWord};
 * - Markdown / HTML: {@link markdownText}, {@link htmlText};
 * - libpq conninfo values and SQL: {@link conninfoValue}, {@link sqlLiteral}, {@link sqlIdent};
 * - docker `--env-file` content: {@link dockerEnvFile}.
 */

/** Thrown when a value cannot be written safely into the target language (the message names the value). */
export class UnsafeValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafeValueError";
  }
}

function show(v: string): string {
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}...` : v);
}

// ---------------------------------------------------------------- shell

const SHELL_SAFE = /^[A-Za-z0-9_./:,=@%+-]+$/;

function refuseNul(s: string): void {
  if (s.includes("\0")) throw new UnsafeValueError(`the value ${show(s)} contains a NUL byte, which no shell word can hold`);
}

/** Leaves a plain word as it is; single-quotes anything else (the empty string becomes ''). */
export function shellQuote(word: string): string {
  refuseNul(word);
  return SHELL_SAFE.test(word) ? word : shellSingleQuote(word);
}

/** Always single-quotes: `it's` becomes `'it'\''s'`. Nothing inside single quotes is expanded. */
export function shellSingleQuote(s: string): string {
  refuseNul(s);
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Escapes a value for the inside of a double-quoted bash string (`\`, `$`, backquote and `"`). */
export function shellDoubleQuoted(s: string): string {
  refuseNul(s);
  return s.replace(/[\\$`"]/g, (c) => `\\${c}`);
}

/** Text {@link sh} inserts as it is: trusted constants (generated variable names, fixed commands), never deployment values. */
export class RawShell {
  constructor(public readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Marks trusted text for {@link sh}: inserted without quoting. Never wrap a value from a deployment in it. */
export function raw(text: string): RawShell {
  return new RawShell(text);
}

/** Several words for {@link sh}: each is quoted separately (`docker ${words(args)}`). */
export class ShellWords {
  constructor(public readonly items: ReadonlyArray<string | number>) {}
}

export function words(items: ReadonlyArray<string | number>): ShellWords {
  return new ShellWords(items);
}

export type ShellValue = string | number | RawShell | ShellWords;

type Ctx =
  | { kind: "U"; sub: boolean; depth: number } // unquoted; sub: inside $( ), depth: open ( in it
  | { kind: "D" } // "..."
  | { kind: "S" } // '...'
  | { kind: "A" } // $'...'
  | { kind: "B" } // `...`
  | { kind: "C" } // # comment
  | { kind: "H"; delim: string; quoted: boolean; line: string; valueInLine: boolean }; // here-document body

/**
 * Tracks bash's quoting context over the literal parts of a template, so each value is escaped
 * for where it lands. Values never change the context: they are escaped before they are appended.
 */
class ShellScanner {
  private stack: Ctx[] = [{ kind: "U", sub: false, depth: 0 }];
  /** Here-documents announced on the current line; their bodies start at the next newline. */
  private pending: Array<{ delim: string; quoted: boolean }> = [];
  private prev = "\n";

  get ctx(): Ctx {
    return this.stack[this.stack.length - 1]!;
  }

  scan(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      const ctx = this.ctx;
      switch (ctx.kind) {
        case "H": {
          if (c === "\n") {
            if (ctx.line === ctx.delim) {
              // a value completed the delimiter line: the body would end early
              if (ctx.valueInLine) throw new UnsafeValueError(`sh: a value completes the here-document delimiter line ${ctx.delim}`);
              this.stack.pop();
              this.newline();
            } else {
              ctx.line = "";
              ctx.valueInLine = false;
            }
          } else ctx.line += c;
          break;
        }
        case "C":
          if (c === "\n") {
            this.stack.pop();
            this.newline();
          }
          break;
        case "S":
          if (c === "'") this.stack.pop();
          break;
        case "A":
          if (c === "\\") i++;
          else if (c === "'") this.stack.pop();
          break;
        case "D":
          if (c === "\\") i++;
          else if (c === '"') this.stack.pop();
          else if (c === "$" && text[i + 1] === "(") {
            this.stack.push({ kind: "U", sub: true, depth: 0 });
            i++;
          } else if (c === "`") this.stack.push({ kind: "B" });
          break;
        case "B":
          if (c === "\\") i++;
          else if (c === "`") this.stack.pop();
          break;
        case "U": {
          if (c === "\\") {
            i++;
            break;
          }
          if (c === "'") this.stack.push({ kind: "S" });
          else if (c === '"') this.stack.push({ kind: "D" });
          else if (c === "`") this.stack.push({ kind: "B" });
          else if (c === "$" && text[i + 1] === "'") {
            this.stack.push({ kind: "A" });
            i++;
          } else if (c === "$" && text[i + 1] === "(") {
            this.stack.push({ kind: "U", sub: true, depth: 0 });
            i++;
          } else if (c === "(") ctx.depth++;
          else if (c === ")") {
            if (ctx.depth > 0) ctx.depth--;
            else if (ctx.sub) this.stack.pop();
          } else if (c === "#" && /[\s;&|()]/.test(this.prev)) this.stack.push({ kind: "C" });
          else if (c === "<" && text[i + 1] === "<" && text[i + 2] !== "<" && this.prev !== "<") {
            const m = /^<<-?[ \t]*(?:'([^'\n]+)'|"([^"\n]+)"|([A-Za-z0-9_]+))/.exec(text.slice(i));
            if (!m) throw new UnsafeValueError(`sh: a here-document delimiter the scanner cannot read near ${show(text.slice(i, i + 20))}`);
            this.pending.push({ delim: m[1] ?? m[2] ?? m[3]!, quoted: m[3] === undefined });
            i += m[0].length - 1;
          } else if (c === "\n") this.newline();
          break;
        }
      }
      this.prev = text[i] ?? c;
    }
  }

  private newline(): void {
    // Here-document bodies start after the line that announced them (one at a time, in order).
    const next = this.pending.shift();
    if (next) this.stack.push({ kind: "H", delim: next.delim, quoted: next.quoted, line: "", valueInLine: false });
  }

  /** Escapes one value for the current context and records what it adds to the current line. */
  escape(v: string): string {
    const ctx = this.ctx;
    switch (ctx.kind) {
      case "U":
        return shellQuote(v);
      case "D":
        return shellDoubleQuoted(v);
      case "C":
        // A comment ends at a newline: control characters are shown escaped, never written.
        refuseNul(v);
        // eslint-disable-next-line no-control-regex
        return v.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
      case "H": {
        refuseNul(v);
        const out = ctx.quoted ? v : v.replace(/[\\$`]/g, (c) => `\\${c}`);
        this.heredocText(out, v);
        return out;
      }
      default:
        throw new UnsafeValueError(
          `sh: a value (${show(v)}) interpolated inside ${ctx.kind === "S" ? "single quotes" : ctx.kind === "A" ? "$'...'" : "backquotes"}, where it cannot be escaped; pass it in a shell variable instead`,
        );
    }
  }

  /** Adds text from a value to the current here-document body; refuses one that ends the body. */
  heredocText(text: string, shown: string): void {
    const ctx = this.ctx;
    if (ctx.kind !== "H") throw new Error("heredocText outside a here-document");
    const lines = (ctx.line + text).split("\n");
    if (lines.slice(0, -1).includes(ctx.delim))
      throw new UnsafeValueError(`sh: the value ${show(shown)} contains the here-document delimiter line ${ctx.delim}`);
    ctx.line = lines[lines.length - 1]!;
    ctx.valueInLine = true;
  }

  /** Where the text ends: must be back at the top level, or inside an open here-document. */
  done(): void {
    const ctx = this.ctx;
    if (this.stack.length === 1 || ctx.kind === "H" || ctx.kind === "C") return;
    throw new UnsafeValueError(`sh: the text ends inside ${ctx.kind === "U" ? "$( )" : `quote context ${ctx.kind}`}`);
  }
}

/**
 * Builds bash text with every interpolated value escaped for the place it lands in:
 * unquoted → a single-quoted word (plain words stay bare), inside "..." → `\`, `$`, backquote
 * and `"` escaped, in a comment → control characters shown as \xNN, in an unquoted here-document
 * → `\`, `$`, backquote escaped; inside '...' it refuses. `raw(x)` inserts trusted text as it is,
 * `words(list)` inserts several quoted words. Numbers are written as they are.
 *
 *     sh`mkdir -p ${dir} && log "loading ${path}"`
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): string {
  const scanner = new ShellScanner();
  let out = "";
  strings.forEach((s, i) => {
    scanner.scan(s);
    out += s;
    if (i >= values.length) return;
    const v = values[i]!;
    if (v instanceof RawShell) {
      // trusted text, but a here-document body still must not end early
      if (scanner.ctx.kind === "H") scanner.heredocText(v.text, v.text);
      else scanner.scan(v.text);
      out += v.text;
    } else if (v instanceof ShellWords) {
      if (scanner.ctx.kind !== "U") throw new UnsafeValueError("sh: words(...) only at the top level of a command");
      out += v.items.map((w) => shellQuote(String(w))).join(" ");
    } else if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new UnsafeValueError(`sh: the number ${v} is not finite`);
      out += String(v);
    } else {
      if (typeof v !== "string") throw new UnsafeValueError(`sh: a value of type ${typeof v} where a string was expected`);
      out += scanner.escape(v);
    }
  });
  scanner.done();
  return out;
}

/**
 * A here-document whose body bash takes literally (`<<'DELIM'`): `cat > f` becomes
 * `cat > f <<'DELIM'\nbody\nDELIM`. Refuses a body that contains the delimiter line.
 */
export function heredoc(command: string, delim: string, body: string): string {
  if (!/^[A-Z0-9_]+$/.test(delim)) throw new UnsafeValueError(`heredoc delimiter ${show(delim)} must be upper-case letters, digits and _`);
  refuseNul(body);
  const text = body.replace(/\n$/, "");
  if (text.split("\n").includes(delim)) throw new UnsafeValueError(`the here-document body contains its delimiter line ${delim}`);
  return `${command} <<'${delim}'\n${text}\n${delim}`;
}

// ---------------------------------------------------------------- docker --env-file

/**
 * The content of a docker `--env-file`: one `KEY=value` line per variable. This is not shell:
 * docker takes everything after the first `=` literally (no quoting, no expansion), so quotes,
 * `$` and spaces need no escaping, and there is no escape for a line break: a newline or carriage
 * return in a value would end the line (the rest read as another variable, or a trailing CR
 * dropped), and NUL cannot be in an environment variable. Those are refused, naming the variable,
 * never the value (the values are passwords). Keys must be environment variable names.
 * docs/security.md ("Where secrets live") describes the format and cites docker's reference.
 *
 * A value that is a Terraform expression (known only on apply) cannot be checked here: the
 * scripts that use the file check it on the host as well.
 */
export function dockerEnvFile(vars: ReadonlyArray<readonly [string, string]>): string {
  return vars
    .map(([key, value]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
        throw new UnsafeValueError(`docker env file: ${show(key)} is not an environment variable name (letters, digits and _, not starting with a digit)`);
      if (/[\n\r\0]/.test(value)) {
        throw new UnsafeValueError(
          `docker env file: the value for ${key} contains a newline, carriage return or NUL: docker would read the rest as another variable; use a password without line breaks`,
        );
      }
      return key + "=" + value + "\n";
    })
    .join("");
}

// ---------------------------------------------------------------- Terraform

/**
 * A string Terraform must take literally (file provisioner content, scripts, inline commands):
 * in Terraform JSON every string is a template, so `${` and `%{` would start an interpolation
 * or a directive. They become `$${` and `%%{`, which Terraform reads as the literal characters.
 */
export function terraformLiteral(text: string): string {
  return text.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
}

// ---------------------------------------------------------------- FortiOS CLI

/**
 * A FortiOS CLI quoted string: `"` and `\` escaped with a backslash. Control characters
 * (a newline would end the command and start another) are refused.
 */
export function fortiosString(value: string, field = "value"): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw new UnsafeValueError(
      `FortiOS CLI: ${field} ${show(value)} contains a control character (newline, tab, ...); FortiOS names cannot hold one: remove it`,
    );
  }
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A FortiOS CLI word: a plain token stays bare (numbers, keywords, addresses), anything else is a quoted string. */
export function fortiosWord(value: string | number, field = "value"): string {
  const s = String(value);
  return /^[A-Za-z0-9_.:/-]+$/.test(s) ? s : fortiosString(s, field);
}

// ---------------------------------------------------------------- Markdown / HTML

/** Text for the inside of HTML elements and attributes. */
export function htmlText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Text for a Markdown paragraph or table cell: markup characters backslash-escaped, HTML escaped, line breaks as spaces. */
export function markdownText(s: string): string {
  return htmlText(s.replace(/\r?\n|\r/g, " "))
    .replace(/[\\`*_{}[\]()#+!|~-]/g, (c) => `\\${c}`)
    .replace(/^(\d+)\./, "$1\\.");
}

// ---------------------------------------------------------------- PostgreSQL files, libpq, SQL

/**
 * A pg_hba.conf field: plain words as they are, others double-quoted. pg_hba.conf has no escape
 * for `"` and a line break ends the line: both are refused.
 */
export function hbaField(value: string, field: string): string {
  // eslint-disable-next-line no-control-regex
  if (/["\x00-\x1f\x7f]/.test(value)) {
    throw new UnsafeValueError(`pg_hba.conf: ${field} ${show(value)} contains a double quote or a control character, which a pg_hba.conf field cannot hold`);
  }
  return /^[A-Za-z0-9_.:/-]+$/.test(value) ? value : `"${value}"`;
}

/** A postgresql.conf value: plain words bare, others single-quoted with `'` doubled; line breaks refused. */
export function pgConfValue(v: string, field = "value"): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(v))
    throw new UnsafeValueError(`postgresql.conf: ${field} ${show(v)} contains a control character (a line break would end the setting)`);
  return /^[A-Za-z0-9_.]+$/.test(v) ? v : `'${v.replace(/'/g, "''")}'`;
}

/**
 * Refuses a value that must be one plain word where it is used (a name in a space-separated
 * list the scripts split, a value compared in SQL text): letters, digits and `_ . : % -` only.
 */
export function plainWord(value: string, field: string, fix: string): string {
  if (!/^[A-Za-z0-9_.:%-]+$/.test(value)) throw new UnsafeValueError(`${field}: ${show(value)} must be one plain word (letters, digits, _ . : % -); ${fix}`);
  return value;
}

/**
 * A repmgr.conf value: plain words (numbers, booleans, enums) bare, anything else single-quoted.
 * repmgr's parser has no escape for `'`, and a backslash or a control character (a line break
 * would start another setting) is refused.
 */
export function repmgrConfValue(v: string | number): string {
  const s = String(v);
  if (/^[A-Za-z0-9_]+$/.test(s)) return s;
  if (s.includes("'")) throw new UnsafeValueError(`repmgr.conf value ${show(s)} must not contain a single quote`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f\\]/.test(s))
    throw new UnsafeValueError(`repmgr.conf value ${show(s)} must not contain a backslash or a control character (a line break would start another setting)`);
  return "'" + s + "'";
}

/** A libpq conninfo value (`host=...`): plain values bare, else single-quoted with `\` and `'` escaped. */
export function conninfoValue(s: string): string {
  return /^[A-Za-z0-9_.:,/@-]+$/.test(s) ? s : `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * A quorum list of synchronous_standby_names, `ANY 1 ("pg-2", "pg-3")`: each name double-quoted
 * (`"` doubled), so a name with `-`, `,` or a space stays one name. The result is the setting's
 * value; pgConfValue quotes it for postgresql.conf.
 */
export function pgStandbyQuorum(num: number, names: ReadonlyArray<string>): string {
  if (!Number.isInteger(num) || num < 1) throw new UnsafeValueError(`synchronous_standby_names: ${num} is not a count of standbys`);
  for (const n of names) refuseNul(n);
  return `ANY ${num} (${names.map((n) => `"${n.replace(/"/g, '""')}"`).join(", ")})`;
}

/** An SQL string literal: `'...'` with `'` doubled. */
export function sqlLiteral(s: string): string {
  refuseNul(s);
  return `'${s.replace(/'/g, "''")}'`;
}

/** An SQL identifier: a plain lower-case name stays bare, anything else is double-quoted with `"` doubled. */
export function sqlIdent(s: string): string {
  refuseNul(s);
  return /^[a-z_][a-z0-9_]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`;
}
