/**
 * Runs generated scripts in bash without letting them do anything, and records every command
 * they would run with its exact words (after bash's own parsing and expansion).
 *
 * How: PATH points nowhere and every external command, plus the builtins with effects (cd,
 * echo, printf, trap, exit, set, source, eval, exec, umask, kill), is a shell function that
 * writes its name and arguments to a log (NUL-separated) and returns 0; anything else goes to
 * command_not_found_handle, which logs the same way. The script runs as the unprivileged user
 * nobody in an empty directory, so a redirection to a host path fails instead of writing.
 * A value that escaped its quoting shows up as a command or word the benign script does not
 * have: test/property/render-shell.test.ts compares the two logs.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnAsync } from "../../../src/spawn-async";

/** External commands the generated scripts use (functions are cheaper than the fork of command_not_found_handle). */
const EXTERNALS = `mkdir chgrp chmod chown docker cat cmp mv rm touch sha256sum curl sed grep awk dnf apt-get systemctl
systemd-machine-id-setup id seq sleep tr head md5sum tar install runuser pg_createcluster pg_ctlcluster pg_isready psql
tail mktemp dirname dpkg-query dpkg timeout getent cut visudo journalctl date find ls ssh-keygen lsb_release wc
pg_dropcluster hostname subscription-manager rpm ln uname sort env bash sh su sudo chattr stat basename readlink cp`
  .split(/\s+/)
  .filter(Boolean);

const EFFECT_BUILTINS = [
  "cd",
  "echo",
  "printf",
  "trap",
  "exit",
  "set",
  "source",
  ".",
  "eval",
  "exec",
  "umask",
  "kill",
  "ulimit",
  "wait",
  "disown",
  "enable",
  "alias",
  "shopt",
];

const PRELUDE = [
  '__rec() { builtin printf \'%s\\0\' "$#" "$@" >&9; }',
  'command_not_found_handle() { __rec "$@"; return 0; }',
  ...EXTERNALS.map((c) => `${c}() { __rec ${c} "$@"; }`),
  ...EFFECT_BUILTINS.filter((c) => c !== ".").map((c) => `${c}() { __rec ${c} "$@"; }`),
  // `while true` would never end: true fails (set -e is off, so `|| true` changes nothing).
  "true() { return 1; }",
  "PATH=/nonexistent-ems-ha-trace",
  "",
].join("\n");

export interface TraceResult {
  /** Each command the script ran, as its words (argv[0] first). */
  readonly commands: string[][];
  readonly exitCode: number | null;
  readonly stderr: string;
}

let sandbox: string | undefined;

function sandboxDir(): string {
  if (sandbox) return sandbox;
  sandbox = mkdtempSync(join(tmpdir(), "ems-ha-trace-"));
  chmodSync(sandbox, 0o755);
  return sandbox;
}

function parseLog(buf: Buffer): string[][] {
  const parts = buf.toString("utf8").split("\0");
  const out: string[][] = [];
  let i = 0;
  while (i < parts.length - 1) {
    const n = Number(parts[i]);
    if (!Number.isInteger(n) || n < 0) throw new OutOfStep(`trace log out of step at ${i}: ${JSON.stringify(parts[i])}`);
    out.push(parts.slice(i + 1, i + 1 + n));
    i += 1 + n;
  }
  return out;
}

/** A trace log whose records interleaved (see traceScripts). */
class OutOfStep extends Error {}

/**
 * Traces several scripts in one bash process (each in its own subshell, so one cannot affect the
 * next). `bash` runs as nobody when the tests run as root.
 *
 * The members of a pipeline run at once, and bash's printf writes a record larger than its
 * buffer in more than one write(2): another member's record can then land inside it (seen with
 * `{ printf ...; cat ...; } | sha256sum` on an idle machine). Such a log no longer parses; the
 * batch is traced again, at most nine times more. A log that parses is never retried, so a value that
 * escapes its quoting still shows up as a command of its own.
 */
export async function traceScripts(scripts: ReadonlyArray<string>, timeoutMs = 60_000): Promise<TraceResult[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await traceOnce(scripts, timeoutMs);
    } catch (e) {
      if (!(e instanceof OutOfStep) || attempt >= 10) throw e;
    }
  }
}

async function traceOnce(scripts: ReadonlyArray<string>, timeoutMs: number): Promise<TraceResult[]> {
  const dir = mkdtempSync(join(sandboxDir(), "batch-"));
  const work = join(dir, "cwd");
  mkdirSync(work);
  const driver: string[] = ["set +e", PRELUDE.replace("PATH=/nonexistent-ems-ha-trace\n", "")];
  scripts.forEach((s, i) => {
    const f = join(dir, `s${i}.sh`);
    writeFileSync(f, s);
    const log = join(dir, `s${i}.log`);
    writeFileSync(log, "");
    driver.push(
      `( PATH=/nonexistent-ems-ha-trace; builtin cd ${JSON.stringify(work)}; builtin source ${JSON.stringify(f)} ) 9>>${JSON.stringify(log)} </dev/null >/dev/null 2>>${JSON.stringify(join(dir, `s${i}.err`))}`,
      `builtin echo "rc${i}=$?" >>${JSON.stringify(join(dir, "rc"))}`,
    );
  });
  const driverFile = join(dir, "driver.sh");
  writeFileSync(driverFile, driver.join("\n") + "\n");
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // the working directory stays root's: a relative redirection fails like any other
    chownSync(dir, 65534, 65534);
    chmodSync(dir, 0o755);
    for (let i = 0; i < scripts.length; i++) chownSync(join(dir, `s${i}.log`), 65534, 65534);
    writeFileSync(join(dir, "rc"), "");
    chownSync(join(dir, "rc"), 65534, 65534);
  }
  // As root: in new PID and network namespaces (a /proc with only the tracer's processes, no network), as nobody.
  const cmd = asRoot ? "unshare" : "bash";
  const args = asRoot
    ? ["--pid", "--fork", "--mount-proc", "--net", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", driverFile]
    : [driverFile];
  const r = await spawnAsync(cmd, args, { cwd: work, timeoutMs, env: { LANG: "C.UTF-8", HOME: work } });
  if (r.error) throw new Error(`tracing with bash failed (bash, and as root unshare and setpriv from util-linux, are needed): ${r.error.message}`);
  const rcs = new Map<number, number>();
  try {
    for (const line of readFileSync(join(dir, "rc"), "utf8").split("\n")) {
      const m = /^rc(\d+)=(\d+)$/.exec(line);
      if (m) rcs.set(Number(m[1]), Number(m[2]));
    }
  } catch {
    /* no rc file: every script counts as not finished */
  }
  const results = scripts.map((_, i) => {
    let stderr = "";
    try {
      stderr = readFileSync(join(dir, `s${i}.err`), "utf8");
    } catch {
      /* none */
    }
    return { commands: parseLog(readFileSync(join(dir, `s${i}.log`))), exitCode: rcs.get(i) ?? null, stderr };
  });
  rmSync(dir, { recursive: true, force: true });
  return results;
}

export async function traceScript(script: string): Promise<TraceResult> {
  return (await traceScripts([script]))[0]!;
}

/** `bash -n` on many scripts in one bash process; returns the indexes bash rejects, with its message. */
export async function syntaxErrors(scripts: ReadonlyArray<string>): Promise<Array<{ index: number; message: string }>> {
  const dir = mkdtempSync(join(sandboxDir(), "syntax-"));
  const lines: string[] = [];
  scripts.forEach((s, i) => {
    const f = join(dir, `s${i}.sh`);
    writeFileSync(f, s);
    lines.push(`bash -n ${JSON.stringify(f)} 2>${JSON.stringify(`${f}.err`)} || echo ${i}`);
  });
  const driver = join(dir, "driver.sh");
  writeFileSync(driver, lines.join("\n") + "\n");
  const r = await spawnAsync("bash", [driver], { timeoutMs: 300_000 });
  if (r.error) throw new Error(`bash -n could not run (bash is needed): ${r.error.message}`);
  const bad = r.stdout
    .split("\n")
    .filter(Boolean)
    .map((x) => Number(x))
    .map((index) => ({ index, message: readFileSync(join(dir, `s${index}.sh.err`), "utf8") }));
  rmSync(dir, { recursive: true, force: true });
  return bad;
}
