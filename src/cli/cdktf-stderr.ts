/**
 * Printing an error once under `cdktf synth`.
 *
 * The cdktf CLI (0.21, the `shell` helper of its commons package) runs the app with piped stdout and stderr. It logs
 * every stderr chunk live as `[ERROR] default - ...`, and when the app fails it prints the whole
 * captured stderr (and stdout) a second time under "Command output on stderr". Whatever the app
 * writes to its own stdout or stderr therefore appears twice on failure. To print each error once,
 * the app writes its error text straight to the stderr of the cdktf CLI process (its first ancestor
 * whose stderr is not the app's pipe), and nothing to its own streams: the CLI then reports only
 * "non-zero exit code 2" after it. That works when the CLI's stderr is a terminal or a pipe (a
 * shell pipeline). Outside cdktf (the app run directly, tests), when that process cannot be found
 * (not Linux, no /proc), when its stderr is a regular file (which a second writer would overwrite)
 * or a socket (Node's child_process captures output with socket pairs; /proc cannot open those),
 * the text goes to the app's own stderr, and cdktf shows it twice.
 */
import { closeSync, openSync, readFileSync, readlinkSync, statSync, writeSync } from "node:fs";

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** /proc/<pid>/fd/2 of the cdktf CLI that runs this app, or undefined when not run by cdktf. */
export function cdktfCliStderrPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!env.CDKTF_OUTDIR || process.platform !== "linux") return undefined;
  try {
    const own = readlinkSync("/proc/self/fd/2");
    // Node's "pipe" stdio is a socket pair on Linux.
    if (!/^(pipe|socket):/.test(own)) return undefined;
    let pid: number | undefined = process.ppid;
    // The chain is short (sh -c, npx, tsx); bounded in case of surprises.
    for (let hops = 0; pid !== undefined && pid > 1 && hops < 10; hops++) {
      const theirs = readlinkSync(`/proc/${pid}/fd/2`);
      if (theirs !== own) {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        if (!/cdktf/.test(cmdline)) return undefined;
        // A regular file (2>file) opened again gets its own offset: the CLI's later writes would
        // overwrite ours. Terminals and pipes have no offset.
        if (statSync(`/proc/${pid}/fd/2`).isFile()) return undefined;
        return `/proc/${pid}/fd/2`;
      }
      pid = parentOf(pid);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** Writes an error text so that it is seen exactly once, under cdktf or not. */
export function printSynthError(text: string, env: NodeJS.ProcessEnv = process.env): void {
  const line = text.endsWith("\n") ? text : `${text}\n`;
  const target = cdktfCliStderrPath(env);
  if (target) {
    try {
      const fd = openSync(target, "a"); // fails for a socket: then our own stderr
      try {
        writeSync(fd, line);
      } finally {
        closeSync(fd);
      }
      return;
    } catch {
      // fall through to our own stderr
    }
  }
  process.stderr.write(line);
}
