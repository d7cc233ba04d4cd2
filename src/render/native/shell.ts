/** Small helpers for the generated bash: quoting and embedded files. */

import { heredoc, raw, sh, shellQuote, words } from "../escape";

/** Quotes a word for bash (single quotes unless it is a plain word). */
export const shq = shellQuote;

export const HEREDOC_END = "EMS_HA_EOF";

/**
 * A call of the script's install_text function that writes `content` to `dest`
 * through a quoted here-document (nothing in it is expanded).
 */
export function embedFile(dest: string, mode: string, owner: string, content: string): string {
  if (content.split("\n").includes(HEREDOC_END)) throw new Error(`content of ${dest} contains the line ${HEREDOC_END}`);
  return heredoc(sh`install_text ${dest} ${mode} ${owner}`, HEREDOC_END, content);
}

/** `NAME=value` lines for the script's header. */
export function shellVars(vars: Record<string, string | number | boolean>): string {
  return Object.entries(vars)
    .map(([k, v]) => sh`${raw(shellName(k))}=${typeof v === "boolean" ? (v ? "1" : "0") : String(v)}`)
    .join("\n");
}

/** A bash array literal. */
export function shellArray(name: string, items: ReadonlyArray<string>): string {
  return sh`${raw(shellName(name))}=(${words(items)})`;
}

/** A generated variable name: checked, since it is written unquoted. */
function shellName(name: string): string {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`${name} is not a shell variable name the renderers use`);
  return name;
}

/** Turns the escaped dollar-brace written in String.raw bodies back into bash's own. */
export function unescapeBash(body: string): string {
  return body.replace(/\\\$\{/g, "${");
}

/**
 * A bash function of the setup script and the reconciliation service: pg_rewind runs
 * "postgres --single -D DATADIR", which needs a postgresql.conf there (docs/background.md#native-postgresql-and-repmgr, repmgr #888).
 * Needs DATA_DIR, CONF_DIR and a log function.
 */
export const ENSURE_DATADIR_INCLUDE = String.raw`
# pg_rewind runs "postgres --single -D DATADIR", which needs a postgresql.conf there (docs/background.md#native-postgresql-and-repmgr).
ensure_datadir_include() {
  local f="$DATA_DIR/postgresql.conf"
  if [ -d "$DATA_DIR" ] && [ ! -e "$f" ]; then
    printf "include '%s/postgresql.conf'\n" "$CONF_DIR" >"$f"
    chown postgres:postgres "$f"
    chmod 0600 "$f"
    log "wrote $f (include of $CONF_DIR/postgresql.conf)"
  fi
}`.trim();
