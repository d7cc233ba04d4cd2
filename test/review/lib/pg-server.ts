/**
 * A throwaway PostgreSQL 15 on loopback for the state backend tests: initdb in a temporary
 * directory, pg_ctl on a free port, trust authentication on 127.0.0.1 only. Every step bounded.
 */
import { chmodSync, chownSync, existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { run, runAsync } from "../../ops/lib/loopback-cluster";

export const PG_BIN = "/usr/lib/postgresql/15/bin";

function pgIds(): { uid: number; gid: number } {
  const id = (flag: string): number => {
    try {
      return Number(run("id", [flag, "postgres"], { timeoutMs: 10_000 }).trim());
    } catch {
      throw new Error("no postgres OS user: apt-get install -y postgresql-15");
    }
  };
  return { uid: id("-u"), gid: id("-g") };
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

  /** initdb, start, createdb: asynchronous (initdb can take a while on a busy machine). */
  async start(database: string): Promise<void> {
    const { uid, gid } = pgIds();
    chmodSync(this.baseDir, 0o755); // mkdtemp makes it 0700: the postgres user must reach its directories
    for (const d of [this.dataDir, this.sockDir]) {
      mkdirSync(d, { recursive: true });
      chownSync(d, uid, gid);
    }
    await runAsync(`${PG_BIN}/initdb`, ["-D", this.dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"], {
      asPostgres: true,
      timeoutMs: 60_000,
    });
    await runAsync(
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
      { asPostgres: true, timeoutMs: 40_000 },
    );
    await runAsync(`${PG_BIN}/createdb`, ["-h", "127.0.0.1", "-p", String(this.port), database], { asPostgres: true, timeoutMs: 30_000 });
  }

  psql(database: string, sql: string): string {
    return run(`${PG_BIN}/psql`, ["-h", "127.0.0.1", "-p", String(this.port), "-d", database, "-At", "-c", sql], {
      asPostgres: true,
      timeoutMs: 20_000,
    }).trim();
  }

  stop(): void {
    try {
      run(`${PG_BIN}/pg_ctl`, ["-D", this.dataDir, "-m", "immediate", "-w", "-t", "20", "stop"], { asPostgres: true, timeoutMs: 30_000 });
    } catch {
      /* not running */
    }
  }
}
