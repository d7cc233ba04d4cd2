/**
 * The roles a restore creates from a backup's globals.sql (src/ops/restore-roles.ts): the script's
 * statements as psql splits them, the roles and memberships in it, and what is created for a
 * cluster that lacks some. The script below has pg_dumpall 15's layout (its `\restrict` lines
 * included); test/ops/backup-passwords.test.ts runs the whole on a real pg_dumpall's output and a
 * real primary.
 */
import { describe, expect, it } from "vitest";
import { parseGlobals, rolesToCreate, splitSqlScript } from "../../src/ops/restore-roles";

const GLOBALS = `--
-- PostgreSQL database cluster dump
--

\\restrict abcDEF123

SET default_transaction_read_only = off;

SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

--
-- Roles
--

CREATE ROLE "Odd ""x"" -- ;";
ALTER ROLE "Odd ""x"" -- ;" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 3;
CREATE ROLE app;
ALTER ROLE app WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE pg_custom;
CREATE ROLE postgres;
ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;
CREATE ROLE rb_owner;
ALTER ROLE rb_owner WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
COMMENT ON ROLE rb_owner IS 'the owner; it''s
two lines -- not a comment';

--
-- User Configurations
--

--
-- User Config "rb_owner"
--

ALTER ROLE rb_owner SET search_path TO 'a', 'b';
ALTER ROLE rb_owner IN DATABASE fcm SET work_mem TO '8MB';


--
-- Role memberships
--

GRANT rb_owner TO "Odd ""x"" -- ;" GRANTED BY postgres;
GRANT rb_owner TO app GRANTED BY gone;
GRANT app TO postgres WITH INHERIT TRUE GRANTED BY postgres;
GRANT postgres TO nobody GRANTED BY postgres;

--
-- Tablespaces
--

CREATE TABLESPACE ts OWNER postgres LOCATION '/srv/ts';

\\unrestrict abcDEF123

--
-- PostgreSQL database cluster dump complete
--
`;

describe("globals.sql", () => {
  it("splits into statements as psql runs them: comments and backslash commands out, quotes and doubled quotes kept whole", () => {
    const st = splitSqlScript(GLOBALS);
    expect(st[0]).toBe("SET default_transaction_read_only = off");
    expect(st).toContain("COMMENT ON ROLE rb_owner IS 'the owner; it''s\ntwo lines -- not a comment'");
    expect(st).toContain('CREATE ROLE "Odd ""x"" -- ;"');
    expect(st.some((s) => s.includes("restrict") || s.startsWith("--"))).toBe(false);
    expect(st[st.length - 1]).toBe("CREATE TABLESPACE ts OWNER postgres LOCATION '/srv/ts'");
  });

  it("reads each role with its attributes, settings and comment, and the memberships with their grantors", () => {
    const g = parseGlobals(GLOBALS);
    expect(g.roles.map((r) => r.name)).toEqual(['Odd "x" -- ;', "app", "pg_custom", "postgres", "rb_owner"]);
    expect(g.roles.find((r) => r.name === "rb_owner")!.statements).toEqual([
      "CREATE ROLE rb_owner",
      "ALTER ROLE rb_owner WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS",
      "COMMENT ON ROLE rb_owner IS 'the owner; it''s\ntwo lines -- not a comment'",
      "ALTER ROLE rb_owner SET search_path TO 'a', 'b'",
    ]);
    expect(g.memberships.map((m) => [m.role, m.member, m.grantedBy])).toEqual([
      ["rb_owner", 'Odd "x" -- ;', "postgres"],
      ["rb_owner", "app", "gone"],
      ["app", "postgres", "postgres"],
      ["postgres", "nobody", "postgres"],
    ]);
  });

  it("creates only the roles the cluster lacks (never pg_*), and the memberships they take part in once both sides exist", () => {
    const c = rolesToCreate(parseGlobals(GLOBALS), new Set(["postgres", "app", "pg_custom"]));
    expect(c.names).toEqual(['Odd "x" -- ;', "rb_owner"]);
    expect(c.statements).toEqual([
      'CREATE ROLE "Odd ""x"" -- ;"',
      'ALTER ROLE "Odd ""x"" -- ;" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 3',
      "CREATE ROLE rb_owner",
      "ALTER ROLE rb_owner WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS",
      "COMMENT ON ROLE rb_owner IS 'the owner; it''s\ntwo lines -- not a comment'",
      "ALTER ROLE rb_owner SET search_path TO 'a', 'b'",
      'GRANT rb_owner TO "Odd ""x"" -- ;" GRANTED BY postgres',
      // the grantor is no role: granted without it
      "GRANT rb_owner TO app",
    ]);
  });

  it("a cluster that has every role gets nothing; an empty cluster gets every role but pg_*, memberships to unknown roles left out", () => {
    const g = parseGlobals(GLOBALS);
    expect(rolesToCreate(g, new Set(g.roles.map((r) => r.name)))).toEqual({ names: [], statements: [] });
    const all = rolesToCreate(g, new Set());
    expect(all.names).toEqual(['Odd "x" -- ;', "app", "postgres", "rb_owner"]);
    expect(all.statements.filter((s) => s.startsWith("GRANT"))).toEqual([
      'GRANT rb_owner TO "Odd ""x"" -- ;" GRANTED BY postgres',
      "GRANT rb_owner TO app",
      "GRANT app TO postgres WITH INHERIT TRUE GRANTED BY postgres",
    ]);
    expect(all.statements.some((s) => s.includes("TABLESPACE") || s.includes("IN DATABASE"))).toBe(false);
  });
});
