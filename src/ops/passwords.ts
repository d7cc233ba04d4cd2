/**
 * `ems-ha set-passwords`: a password rotation on the running cluster (docs/operations.md,
 * "Rotating the passwords").
 *
 * In the Docker topologies a container's password variables only matter when the image creates a
 * new cluster: on a data directory that exists, the image keeps the roles as they are (the Bitnami
 * scripts' "persisted data" path creates no user and sets no password). A container recreated with
 * new passwords (the provider engine's next apply, a replaced step of the ssh engine) therefore holds
 * passwords that no role has, and every new login fails. This command sets the new passwords in the
 * running cluster first:
 * - on the one writable primary (the standbys receive them by replication), and on every witness
 *   (each runs a PostgreSQL of its own);
 * - the DB user's from $EMS_HA_NEW_DB_PASSWORD and repmgr's from $EMS_HA_NEW_REPMGR_PASSWORD (one
 *   or both), logging in with the current ones ($EMS_HA_DB_PASSWORD, $EMS_HA_REPMGR_PASSWORD, or
 *   their TF_VAR_ forms);
 * - as SCRAM-SHA-256 verifiers computed here (what psql's \password does), so the new password
 *   itself never reaches a server, a server log or a command line;
 * - only while repmgrd is paused on every node that answers: between this command and the
 *   re-apply, components that still hold the old password cannot open new connections, and a
 *   repmgrd that could no longer reach its primary must not start an election.
 * Afterwards it logs in with the new passwords on every node (a standby once it has replayed).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { ConfigError, type ConfigIssue } from "../config/errors";
import type { DbNodeConfig, Deployment } from "../config/schema";
import { STANDALONE_TOPOLOGIES } from "../config/semantics";
import { sqlIdent, sqlLiteral } from "../render/escape";
import { dataNodeStates, execAs, maskSecrets, probeDatabase, queryAs, secretsFromEnv, writableDataNodes, type DbSecrets, type Login } from "./pg";

export const NEW_DB_PASSWORD_ENV = "EMS_HA_NEW_DB_PASSWORD";
export const NEW_REPMGR_PASSWORD_ENV = "EMS_HA_NEW_REPMGR_PASSWORD";

/** PostgreSQL's default iteration count for SCRAM-SHA-256 (scram_iterations). */
export const SCRAM_ITERATIONS = 4096;

// RFC 3454 table C.1.2 (non-ASCII spaces, mapped to a space) and table B.1 (mapped to nothing).
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
// eslint-disable-next-line no-misleading-character-class -- the table holds joiners and variation selectors on purpose
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;

/**
 * SASLprep's mapping and normalisation (RFC 4013 section 2.1-2.2): what a SCRAM client derives its
 * key from. PostgreSQL and libpq apply it to a non-ASCII password, but fall back to the raw password
 * when the result holds a prohibited or unassigned character; node-postgres (the ops commands)
 * applies the mapping and NFKC without that fallback (docs/operations.md#rotating-the-passwords).
 */
export function saslprepMapped(password: string): string {
  return password.replace(NON_ASCII_SPACE, " ").replace(MAPPED_TO_NOTHING, "").normalize("NFKC");
}

/**
 * A SCRAM-SHA-256 verifier as PostgreSQL stores it in pg_authid (RFC 5802, RFC 7677):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Only for a password SASLprep leaves
 * as it is (`saslprepMapped(p) === p`, which `newPasswordsFromEnv` requires): for it every client
 * (libpq, node-postgres, the server's own ALTER ROLE ... PASSWORD) derives the same key.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  const salted = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

export interface NewPasswords {
  readonly dbPassword?: string;
  readonly repmgrPassword?: string;
}

/** The new passwords from the environment, or a ConfigError naming the variable and the fix. */
export function newPasswordsFromEnv(env: NodeJS.ProcessEnv): NewPasswords {
  const issues: ConfigIssue[] = [];
  const take = (name: string): string | undefined => {
    const v = env[name];
    if (v === undefined || v === "") return undefined;
    if (/[\r\n]/.test(v))
      issues.push({
        path: name,
        value: "(hidden)",
        message: "contains a line break, which the deployment's env files cannot carry",
        fix: "choose a password on one line",
      });
    else if (Buffer.from(v, "utf8").toString("utf8") !== v || saslprepMapped(v) !== v)
      issues.push({
        path: name,
        value: "(hidden)",
        message:
          "SASLprep changes this password (a non-ASCII space, a soft hyphen or zero-width character, a character NFKC normalisation rewrites, or a broken UTF-16 surrogate): PostgreSQL, libpq and node-postgres may then derive different keys from it, and a login could fail after the rotation",
        fix: "choose a password that Unicode normalisation leaves as it is (plain ASCII always is)",
      });
    return v;
  };
  const out = { dbPassword: take(NEW_DB_PASSWORD_ENV), repmgrPassword: take(NEW_REPMGR_PASSWORD_ENV) };
  if (out.dbPassword === undefined && out.repmgrPassword === undefined) {
    issues.push({
      path: `${NEW_DB_PASSWORD_ENV} / ${NEW_REPMGR_PASSWORD_ENV}`,
      value: "(unset)",
      message: "no new password is given",
      fix: `set ${NEW_DB_PASSWORD_ENV}, ${NEW_REPMGR_PASSWORD_ENV} or both in the environment (never a flag)`,
    });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out;
}

export interface SetPasswordsOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Milliseconds to wait for every node to accept the new passwords. @default 60000 */
  readonly verifyTimeoutMs?: number;
  readonly onProgress?: (line: string) => void;
}

export interface SetPasswordsResult {
  readonly ok: boolean;
  readonly message: string;
  /** `role on node`, for each password set. */
  readonly changed: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The statements that set `role`'s password to `verifier`, kept out of the server's logs even on an error. */
export function alterRoleStatements(role: string, verifier: string): string[] {
  return ["set local log_statement = 'none'", "set local log_min_error_statement = 'panic'", `alter role ${sqlIdent(role)} password ${sqlLiteral(verifier)}`];
}

export async function setPasswords(d: Deployment, opts: SetPasswordsOptions): Promise<SetPasswordsResult> {
  const fresh = newPasswordsFromEnv(opts.env);
  const current: DbSecrets = secretsFromEnv(opts.env);
  const mask = (t: string) => maskSecrets(maskSecrets(t, current), fresh);
  const say = opts.onProgress ?? (() => undefined);
  const replicated = !STANDALONE_TOPOLOGIES.has(d.topology);
  const port = d.database.port;
  const user = d.database.user;

  const probes = await probeDatabase(d, { secrets: current, repmgr: replicated });
  const primaries = writableDataNodes(d, probes);
  if (primaries.length !== 1) {
    return {
      ok: false,
      changed: [],
      message: `passwords not changed: ${primaries.length === 0 ? "no data node answers as the writable primary" : "several data nodes answer as primary"} (${dataNodeStates(d, probes).join("; ")})`,
    };
  }
  const primary = primaries[0]!;
  if (replicated) {
    const unpaused = d.database.nodes.filter((n) => probes.get(n.name)?.reachable && probes.get(n.name)?.repmgrd?.paused !== true).map((n) => n.name);
    if (unpaused.length > 0) {
      return {
        ok: false,
        changed: [],
        message: `passwords not changed: repmgrd is not paused on ${unpaused.join(", ")}. Run \`ems-ha pause\` first: until the deployment is applied with the new passwords, what still holds the old ones cannot connect, and no election may start meanwhile`,
      };
    }
  }
  const witnesses = d.database.nodes.filter((n) => n.role === "witness");
  const down = witnesses.filter((n) => !probes.get(n.name)?.reachable).map((n) => n.name);
  if (down.length > 0)
    return { ok: false, changed: [], message: `passwords not changed: the witness ${down.join(", ")} does not answer, and it keeps roles of its own` };

  const changed: string[] = [];
  const roles = (fresh.dbPassword !== undefined ? [{ role: user, pw: fresh.dbPassword }] : []).concat(
    fresh.repmgrPassword !== undefined && replicated && user !== "repmgr" ? [{ role: "repmgr", pw: fresh.repmgrPassword }] : [],
  );
  const currentLogins = (n: DbNodeConfig): Login[] => {
    const db = n.role === "witness" ? "repmgr" : "postgres";
    const list: Login[] = [{ user, password: current.dbPassword, database: db }];
    if (replicated && user !== "repmgr" && current.repmgrPassword !== undefined)
      list.push({ user: "repmgr", password: current.repmgrPassword, database: "repmgr" });
    return list;
  };
  try {
    for (const n of [primary, ...witnesses]) {
      const existing = await queryAs<{ rolname: string }>(n.address, port, currentLogins(n), "select rolname from pg_roles", current);
      const names = new Set(existing.map((r) => r.rolname));
      const here = roles.filter((r) => names.has(r.role));
      if (here.length === 0) continue;
      await execAs(
        n.address,
        port,
        currentLogins(n),
        here.flatMap((r) => alterRoleStatements(r.role, scramVerifier(r.pw))),
        current,
      );
      for (const r of here) changed.push(`${r.role} on ${n.name}`);
      say(`${n.name}: new password set for ${here.map((r) => r.role).join(" and ")}`);
    }
  } catch (e) {
    return {
      ok: false,
      changed,
      message: `setting the passwords failed${changed.length ? ` after ${changed.join(", ")}` : ""}: ${mask((e as Error).message)}`,
    };
  }

  // Every node accepts the new passwords (a standby once it has replayed the change).
  const checks: Array<{ node: DbNodeConfig; login: Login }> = [];
  const repmgrChanged = changed.some((c) => c.startsWith("repmgr on "));
  for (const n of d.database.nodes) {
    if (!probes.get(n.name)?.reachable) continue;
    if (fresh.dbPassword !== undefined && n.role === "data") checks.push({ node: n, login: { user, password: fresh.dbPassword, database: "postgres" } });
    if (repmgrChanged && replicated && fresh.repmgrPassword !== undefined)
      checks.push({ node: n, login: { user: "repmgr", password: fresh.repmgrPassword, database: "repmgr" } });
  }
  const deadline = Date.now() + (opts.verifyTimeoutMs ?? 60_000);
  let pending = checks;
  let lastError = "";
  while (pending.length > 0) {
    const still: typeof pending = [];
    for (const c of pending) {
      try {
        await queryAs(c.node.address, port, [c.login], "select 1", fresh, { connectMs: 4000 });
      } catch (e) {
        still.push(c);
        lastError = mask((e as Error).message);
      }
    }
    pending = still;
    if (pending.length === 0) break;
    if (Date.now() > deadline) {
      const which = pending.map((c) => `${c.login.user} on ${c.node.name}`).join(", ");
      return { ok: false, changed, message: `the new passwords were set (${changed.join(", ")}) but ${which} does not accept them yet: ${lastError}` };
    }
    await sleep(1000);
  }
  const next =
    "Next: set TF_VAR_db_password / TF_VAR_repmgr_password (and EMS_HA_DB_PASSWORD / EMS_HA_REPMGR_PASSWORD) to the new values, apply the deployment, re-run the EMS installs with the new DB password, then `ems-ha resume`";
  return {
    ok: true,
    changed,
    message: `new passwords set: ${changed.join(", ")}; every node that answers accepts them. ${replicated ? next : next.replace(", then `ems-ha resume`", "")}`,
  };
}
