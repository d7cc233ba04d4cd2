/**
 * The roles a restore needs (docs/operations.md, "`ems-ha restore`", "Roles"). An archive names
 * the roles that own its objects and hold its grants; on a cluster that lacks one (a cluster built
 * anew after the old one was lost) `pg_restore --exit-on-error` stops at the first such name. The
 * backup's `globals.sql` (`pg_dumpall --globals-only --no-role-passwords`) holds every role of the
 * cluster it was taken from, so restore creates those the primary lacks, from it, before the
 * databases:
 *
 * - for each missing role: its `CREATE ROLE`, its attributes (`ALTER ROLE ... WITH`), its settings
 *   (`ALTER ROLE ... SET`) and its comment, as pg_dumpall wrote them;
 * - the memberships (`GRANT role TO member`) in which a created role takes part, once both exist
 *   (a `GRANTED BY` naming a role that does not exist is left out);
 * - nothing for a role that exists: it stays as it is, attributes and password included.
 *
 * A role gets no password (the backup holds none): one that logs in needs `ALTER ROLE ... PASSWORD`.
 * Tablespaces and anything else in the file are not applied. Everything here is pure.
 */

/** The statements of an SQL script as psql would run them: comments and psql's backslash commands left out. */
export function splitSqlScript(sql: string): string[] {
  const out: string[] = [];
  let cur = "";
  let i = 0;
  let lineStart = true;
  while (i < sql.length) {
    const c = sql[i]!;
    if (lineStart && cur.trim() === "" && c === "\\") {
      // a psql meta-command (\connect, \restrict, ...) takes the rest of its line
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? sql.length : nl + 1;
      continue;
    }
    lineStart = false;
    if (c === "-" && sql[i + 1] === "-") {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? sql.length : nl;
      continue;
    }
    if (c === "'" || c === '"') {
      // a string or a quoted identifier, its quote doubled inside (standard_conforming_strings, as pg_dumpall sets)
      let j = i + 1;
      for (;;) {
        const k = sql.indexOf(c, j);
        if (k < 0) {
          j = sql.length;
          break;
        }
        if (sql[k + 1] === c) j = k + 2;
        else {
          j = k + 1;
          break;
        }
      }
      cur += sql.slice(i, j);
      i = j;
      continue;
    }
    if (c === ";") {
      if (cur.trim() !== "") out.push(cur.trim());
      cur = "";
      i++;
      continue;
    }
    if (c === "\n") lineStart = true;
    cur += c;
    i++;
  }
  if (cur.trim() !== "") out.push(cur.trim());
  return out;
}

const IDENT = String.raw`("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;

/** A role name as pg_dumpall quotes it, unquoted. */
function unquote(ident: string): string {
  return ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident;
}

const CREATE = new RegExp(`^CREATE ROLE ${IDENT}$`);
const ALTER = new RegExp(`^ALTER ROLE ${IDENT} (WITH|SET) `, "s");
const COMMENT = new RegExp(`^COMMENT ON ROLE ${IDENT} IS `, "s");
const GRANT = new RegExp(`^GRANT ${IDENT} TO ${IDENT}(.*)$`, "s");
const GRANTED_BY = new RegExp(` GRANTED BY ${IDENT}$`);

export interface GlobalRole {
  readonly name: string;
  /** CREATE ROLE, then its ALTER ROLE ... WITH / SET and COMMENT statements, as the file has them. */
  readonly statements: ReadonlyArray<string>;
}

export interface GlobalMembership {
  readonly role: string;
  readonly member: string;
  /** The statement as the file has it. */
  readonly statement: string;
  /** The role named by its GRANTED BY clause, if any. */
  readonly grantedBy?: string;
  /** The statement without that clause. */
  readonly withoutGrantor: string;
}

export interface Globals {
  readonly roles: ReadonlyArray<GlobalRole>;
  readonly memberships: ReadonlyArray<GlobalMembership>;
}

/** The roles and memberships of a `pg_dumpall --globals-only` script. */
export function parseGlobals(sql: string): Globals {
  const roles = new Map<string, string[]>();
  const memberships: GlobalMembership[] = [];
  for (const st of splitSqlScript(sql)) {
    let m = CREATE.exec(st);
    if (m) {
      roles.set(unquote(m[1]!), [st]);
      continue;
    }
    m = ALTER.exec(st) ?? COMMENT.exec(st);
    if (m) {
      // ALTER ROLE ... IN DATABASE and anything not about a role CREATE named is not taken
      roles.get(unquote(m[1]!))?.push(st);
      continue;
    }
    m = GRANT.exec(st);
    if (m) {
      const by = GRANTED_BY.exec(m[3]!);
      memberships.push({
        role: unquote(m[1]!),
        member: unquote(m[2]!),
        statement: st,
        grantedBy: by ? unquote(by[1]!) : undefined,
        withoutGrantor: by ? st.slice(0, st.length - by[0].length) : st,
      });
    }
  }
  return { roles: [...roles].map(([name, statements]) => ({ name, statements })), memberships };
}

export interface RolesToCreate {
  /** The roles created, in the file's order. */
  readonly names: ReadonlyArray<string>;
  /** The statements, to run in one transaction. */
  readonly statements: ReadonlyArray<string>;
}

/** What creates the roles of `globals` that `existing` lacks (roles named pg_* are the server's own: never). */
export function rolesToCreate(globals: Globals, existing: ReadonlySet<string>): RolesToCreate {
  const created = globals.roles.filter((r) => !existing.has(r.name) && !r.name.startsWith("pg_"));
  const names = new Set(created.map((r) => r.name));
  const will = (role: string) => existing.has(role) || names.has(role);
  const grants = globals.memberships
    .filter((g) => (names.has(g.role) || names.has(g.member)) && will(g.role) && will(g.member))
    .map((g) => (g.grantedBy === undefined || will(g.grantedBy) ? g.statement : g.withoutGrantor));
  return { names: created.map((r) => r.name), statements: [...created.flatMap((r) => r.statements), ...grants] };
}
