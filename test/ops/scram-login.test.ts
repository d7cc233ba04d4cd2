/**
 * set-passwords' SCRAM verifiers against a real PostgreSQL 15 (loopback, scram-sha-256 in
 * pg_hba.conf): a password SASLprep leaves as it is logs in through libpq (psql) and node-postgres
 * alike; and the disagreement that makes `newPasswordsFromEnv` refuse the others is real: for a
 * password with a prohibited character that NFKC also changes, the server and libpq use the raw
 * password while node-postgres derives its key from the normalised one.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alterRoleStatements, newPasswordsFromEnv, scramVerifier } from "../../src/ops/passwords";
import { sqlLiteral } from "../../src/render/escape";
import { freePort, LoopbackPg, PG_BIN, requirePg } from "../review/lib/pg-server";

let pg: LoopbackPg | undefined;
let base = "";

beforeAll(async () => {
  requirePg();
  base = mkdtempSync(join(tmpdir(), "ems-ha-scram-"));
  pg = new LoopbackPg(base, await freePort());
  await pg.start("scram");
  writeFileSync(
    join(pg.dataDir, "pg_hba.conf"),
    ["local all all trust", "host all postgres 127.0.0.1/32 trust", "host all all 127.0.0.1/32 scram-sha-256", ""].join("\n"),
  );
  pg.psql("postgres", "select pg_reload_conf()");
  pg.psql("postgres", "create role rot login");
}, 120_000);

afterAll(() => {
  pg?.stop();
  if (base) rmSync(base, { recursive: true, force: true });
});

/** Sets rot's password: our verifier, or the server's own hashing of the plain password. */
function setPassword(how: "verifier" | "server", pw: string): void {
  const stmt = how === "verifier" ? alterRoleStatements("rot", scramVerifier(pw)).pop()! : `alter role rot password ${sqlLiteral(pw)}`;
  pg!.psql("postgres", stmt);
}

function libpqLogin(pw: string): boolean {
  const r = spawnSync(`${PG_BIN}/psql`, ["-h", "127.0.0.1", "-p", String(pg!.port), "-U", "rot", "-d", "postgres", "-XAtc", "select 1"], {
    encoding: "utf8",
    timeout: 20_000,
    env: { ...process.env, PGPASSWORD: pw },
  });
  return r.status === 0 && r.stdout.trim() === "1";
}

async function nodePgLogin(pw: string): Promise<boolean> {
  const c = new Client({ host: "127.0.0.1", port: pg!.port, user: "rot", password: pw, database: "postgres", connectionTimeoutMillis: 10_000 });
  try {
    await c.connect();
    await c.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

describe("SCRAM verifiers and SASLprep on a real server", () => {
  it("a non-ASCII password SASLprep leaves as it is: the verifier admits libpq and node-postgres, as the server's own hashing does", async () => {
    const pw = "Grüße 日本 ΩÅ-2026";
    expect(newPasswordsFromEnv({ EMS_HA_NEW_DB_PASSWORD: pw }).dbPassword).toBe(pw);
    for (const how of ["verifier", "server"] as const) {
      setPassword(how, pw);
      expect([how, libpqLogin(pw), await nodePgLogin(pw)]).toEqual([how, true, true]);
      expect([how, libpqLogin(pw + "x"), await nodePgLogin(pw + "x")]).toEqual([how, false, false]);
    }
  }, 60_000);

  it("a password with a prohibited character that NFKC changes: the server and libpq take it raw, node-postgres does not (why set-passwords refuses it)", async () => {
    const pw = "\uFB01sh\uE000secret"; // the ligature "ﬁ" (NFKC: "fi") and a private-use character (prohibited)
    expect(() => newPasswordsFromEnv({ EMS_HA_NEW_DB_PASSWORD: pw })).toThrow(/SASLprep changes this password/);
    setPassword("server", pw);
    expect(libpqLogin(pw)).toBe(true);
    expect(await nodePgLogin(pw)).toBe(false);
  }, 60_000);
});
