/**
 * Looking for secret values where they must not be: in files (a directory walk, byte search)
 * and in process arguments (/proc/<pid>/cmdline sampled repeatedly, bounded).
 *
 * Processes of the lab hosts are visible from this machine: systemd-nspawn puts each host in a
 * child PID namespace, and /proc of the parent namespace lists every process of every child.
 * A process is attributed to a lab host by its cgroup (cgroup.ts: <root>/ems-ha-lab/<machine>).
 * The values themselves are only ever compared in memory: never put on a command line, never
 * printed (hits name the secret, not its value).
 */
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync, type Stats } from "node:fs";
import { join } from "node:path";

/** Named secret values: { db_password: "Zq7-..." }. */
export type SecretValues = Readonly<Record<string, string>>;

export interface FileHit {
  readonly path: string;
  /** Names of the secrets found in the file. */
  readonly secrets: string[];
  readonly mode: number;
  readonly uid: number;
}

export interface FileScan {
  readonly files: number;
  readonly bytes: number;
  readonly hits: FileHit[];
  /** Files too large to read (path and size); they are reported, never skipped silently. */
  readonly tooLarge: Array<{ path: string; size: number }>;
}

export interface ScanOptions {
  /** Paths (absolute) not walked into. */
  readonly skip?: ReadonlySet<string>;
  /** Only files modified at or after this time (ms since epoch). @default every file */
  readonly modifiedSince?: number;
  /** Deepest directory level walked (0 = only `root`'s files). @default unlimited */
  readonly maxDepth?: number;
  /** Files larger than this are listed in tooLarge. @default 512 MiB */
  readonly maxFileBytes?: number;
}

/** Every regular file under `root` (symlinks not followed, other file systems' special files ignored). */
export function scanFiles(root: string, values: SecretValues, o: ScanOptions = {}): FileScan {
  const needles = Object.entries(values).map(([name, v]) => [name, Buffer.from(v, "utf8")] as const);
  const maxBytes = o.maxFileBytes ?? 512 * 1024 * 1024;
  let files = 0;
  let bytes = 0;
  const hits: FileHit[] = [];
  const tooLarge: Array<{ path: string; size: number }> = [];
  const walk = (dir: string, depth: number): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return; // vanished or unreadable (another process's temporary directory)
    }
    for (const e of entries) {
      const p = join(dir, e);
      if (o.skip?.has(p)) continue;
      let st: Stats;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (o.maxDepth === undefined || depth < o.maxDepth) walk(p, depth + 1);
        continue;
      }
      if (!st.isFile()) continue;
      if (o.modifiedSince !== undefined && st.mtimeMs < o.modifiedSince && st.ctimeMs < o.modifiedSince) continue;
      if (st.size > maxBytes) {
        tooLarge.push({ path: p, size: st.size });
        continue;
      }
      let buf: Buffer;
      try {
        buf = readFileSync(p);
      } catch {
        continue;
      }
      files++;
      bytes += buf.length;
      const found = needles.filter(([, n]) => buf.includes(n)).map(([name]) => name);
      if (found.length > 0) hits.push({ path: p, secrets: found, mode: st.mode & 0o7777, uid: st.uid });
    }
  };
  walk(root, 0);
  return { files, bytes, hits, tooLarge };
}

/** Names of the secrets whose value is in `text` (never the values). */
export function secretsIn(text: string | Buffer, values: SecretValues): string[] {
  const buf = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  return Object.entries(values)
    .filter(([, v]) => buf.includes(Buffer.from(v, "utf8")))
    .map(([n]) => n);
}

/** Replaces every value by its name in brackets, for messages. */
export function maskValues(text: string, values: SecretValues): string {
  return Object.entries(values).reduce((t, [n, v]) => t.split(v).join(`[${n}]`), text);
}

export interface ArgvHit {
  readonly pid: number;
  /** Lab machine the process ran in (from its cgroup), or "this machine". */
  readonly where: string;
  readonly secret: string;
  /** The command line with every secret replaced by its name. */
  readonly command: string;
}

/** Lab machine of a process (cgroup.ts puts each host's nspawn in <root>/ems-ha-lab/<machine>). */
export function machineOf(pid: number): string {
  try {
    const m = /\/ems-ha-lab\/([^/\n]+)/.exec(readFileSync(`/proc/${pid}/cgroup`, "utf8"));
    return m ? m[1]! : "this machine";
  } catch {
    return "gone";
  }
}

/**
 * Samples every process's arguments every `intervalMs`, at most `maxSamples` times, until
 * `stop()`. Records each (pid, secret) hit once.
 */
export class ArgvSampler {
  samples = 0;
  /** Process command lines read, over all samples. */
  commandLines = 0;
  /** Distinct processes seen per lab machine (proof that the hosts' processes are visible). */
  readonly perMachine = new Map<string, Set<number>>();
  readonly hits: ArgvHit[] = [];
  private readonly seen = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly needles: Array<readonly [string, Buffer]>;

  constructor(
    private readonly values: SecretValues,
    private readonly o: { intervalMs?: number; maxSamples?: number } = {},
  ) {
    this.needles = Object.entries(values).map(([n, v]) => [n, Buffer.from(v, "utf8")] as const);
  }

  /** One pass over /proc. */
  sample(): void {
    this.samples++;
    const countMachines = this.samples % 8 === 1;
    let pids: string[];
    try {
      pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
    } catch {
      return;
    }
    for (const d of pids) {
      let cmd: Buffer;
      try {
        cmd = readFileSync(`/proc/${d}/cmdline`);
      } catch {
        continue; // exited
      }
      this.commandLines++;
      const pid = Number(d);
      if (countMachines) {
        const m = machineOf(pid);
        if (m !== "this machine" && m !== "gone") {
          const set = this.perMachine.get(m) ?? new Set<number>();
          set.add(pid);
          this.perMachine.set(m, set);
        }
      }
      for (const [name, n] of this.needles) {
        if (!cmd.includes(n)) continue;
        const key = `${pid}/${name}`;
        if (this.seen.has(key)) continue;
        this.seen.add(key);
        this.hits.push({ pid, where: machineOf(pid), secret: name, command: maskValues(cmd.toString("utf8").replace(/\0/g, " ").trim(), this.values) });
      }
    }
  }

  start(): this {
    const max = this.o.maxSamples ?? 4000;
    this.timer = setInterval(() => {
      if (this.samples >= max) return this.stop();
      this.sample();
    }, this.o.intervalMs ?? 250);
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * The one documented exposure (docs/security.md): the EMS installer receives the DB password as
 * `--db_pass`. True when the hit is exactly that: the installer's own command line, the secret
 * right after --db_pass.
 */
export function isInstallerDbPass(h: ArgvHit, secretNames: readonly string[]): boolean {
  return secretNames.includes(h.secret) && /forticlientems_[\w.]*\.bin\b/.test(h.command) && h.command.includes(`--db_pass [${h.secret}]`);
}

/**
 * A sweep's start: the directory its captured output goes to (0700), the secrets the lab harness
 * reads (stateDir/secrets.json, 0600: the test's own input) and the process-argument sampler,
 * started.
 */
export function startSweepCapture(
  stateDir: string,
  secrets: { readonly db_password: string; readonly repmgr_password: string; readonly symmetric_key: string },
  needles: SecretValues,
): { outDir: string; sampler: ArgvSampler } {
  const outDir = join(stateDir, "captured");
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const file = join(stateDir, "secrets.json");
  writeFileSync(file, JSON.stringify({ db_password: secrets.db_password, repmgr_password: secrets.repmgr_password, symmetric_key: secrets.symmetric_key }), {
    mode: 0o600,
  });
  chmodSync(file, 0o600);
  return { outDir, sampler: new ArgvSampler(needles, { intervalMs: 200, maxSamples: 6000 }).start() };
}
