/**
 * A throwaway PostgreSQL 15 on loopback for the state backend tests: initdb in a temporary
 * directory, pg_ctl on a free port, trust authentication on 127.0.0.1 only. Every step bounded.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export const PG_BIN = "/usr/lib/postgresql/15/bin";

function pgIds(): { uid: number; gid: number } {
  const r = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error("no postgres OS user: apt-get install -y postgresql-15");
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export function requirePg(): void {
  if (!existsSync(`${PG_BIN}/initdb`)) throw new Error(`missing ${PG_BIN}/initdb: apt-get install -y postgresql-15`);
  if (process.getuid?.() !== 0) throw new Error("this test runs as root (it starts PostgreSQL as the postgres user through runuser)");
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function asPg(cmd: string, args: string[], timeout = 60_000): string {
  const r = spawnSync("runuser", ["-u", "postgres", "--", cmd, ...args], { encoding: "utf8", timeout, killSignal: "SIGKILL", cwd: "/" });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export class LoopbackPg {
  readonly dataDir: string;
  readonly sockDir: string;
  constructor(
    readonly baseDir: string,
    readonly port: number,
  ) {
    this.dataDir = join(baseDir, "pgdata");
    this.sockDir = join(baseDir, "pgsock");
  }

  start(database: string): void {
    const { uid, gid } = pgIds();
    chmodSync(this.baseDir, 0o755); // mkdtemp makes it 0700: the postgres user must reach its directories
    for (const d of [this.dataDir, this.sockDir]) {
      mkdirSync(d, { recursive: true });
      chownSync(d, uid, gid);
    }
    asPg(`${PG_BIN}/initdb`, ["-D", this.dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]);
    asPg(
      `${PG_BIN}/pg_ctl`,
      [
        "-D",
        this.dataDir,
        "-l",
        join(this.sockDir, "log"),
        "-o",
        `-p ${this.port} -k ${this.sockDir} -c listen_addresses=127.0.0.1`,
        "-w",
        "-t",
        "30",
        "start",
      ],
      40_000,
    );
    asPg(`${PG_BIN}/createdb`, ["-h", "127.0.0.1", "-p", String(this.port), database]);
  }

  psql(database: string, sql: string): string {
    return asPg(`${PG_BIN}/psql`, ["-h", "127.0.0.1", "-p", String(this.port), "-d", database, "-At", "-c", sql]).trim();
  }

  stop(): void {
    spawnSync("runuser", ["-u", "postgres", "--", `${PG_BIN}/pg_ctl`, "-D", this.dataDir, "-m", "immediate", "-w", "-t", "20", "stop"], {
      timeout: 30_000,
      killSignal: "SIGKILL",
      cwd: "/",
    });
  }
}
