/**
 * The guide's manual promotion of a standby, with the checks the guide leaves to the
 * reader: refused while another data node answers as a writable primary, refused for
 * a witness or a node that is already primary; afterwards the node must answer writable.
 *
 * The command runs over SSH on the node's host (the guide's corrected form, docs/background.md#errors-in-the-guide):
 * - Docker topologies: `docker exec <node> /opt/bitnami/scripts/postgresql-repmgr/entrypoint.sh
 *   repmgr -f /opt/bitnami/repmgr/conf/repmgr.conf standby promote`
 * - native: `sudo -n -u postgres repmgr -f /etc/repmgr.conf standby promote`
 *   ($EMS_HA_REPMGR_CONF names another repmgr.conf: for hosts laid out differently, and tests).
 */
import { STANDALONE_TOPOLOGIES } from "../config/semantics";
import { ConfigError } from "../config/errors";
import type { DbNodeConfig, Deployment } from "../config/schema";
import { maskSecrets, probeDatabase, probeDbNode, secretsFromEnv, writableDataNodes, type DbProbe } from "./pg";
import { repmgrCommand } from "./repmgr-cli";
import { sshExec } from "./ssh";

export { REPMGR_CONF_ENV } from "./repmgr-cli";

/** The promotion command line for a node of the deployment. */
export function promoteCommand(d: Deployment, node: Pick<DbNodeConfig, "name">, env: NodeJS.ProcessEnv): string {
  return repmgrCommand(d, node, env, ["standby", "promote"]);
}

/** The node to promote, or a ConfigError (bad input, exit 2). */
export function promotionTarget(d: Deployment, name: string): DbNodeConfig {
  if (STANDALONE_TOPOLOGIES.has(d.topology)) {
    throw new ConfigError([
      {
        path: "topology",
        value: d.topology,
        message: "this topology has a single PostgreSQL server: there is no standby to promote",
        fix: "promote only in a replicated topology (single-region, geo-redundant, native-single-region, upgrade-7-4-4)",
      },
    ]);
  }
  const node = d.database.nodes.find((n) => n.name === name);
  const dataNames = d.database.nodes.filter((n) => n.role === "data").map((n) => n.name);
  if (!node) throw new ConfigError([{ path: "NODE", value: name, message: "no DB node has this name", fix: `name a data node: ${dataNames.join(", ")}` }]);
  if (node.role !== "data")
    throw new ConfigError([
      { path: "NODE", value: name, message: "a witness holds no data and cannot become primary", fix: `name a data node: ${dataNames.join(", ")}` },
    ]);
  return node;
}

export interface PromoteOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Milliseconds to wait for the node to answer writable after the command. @default 60000 */
  readonly verifyTimeoutMs?: number;
  /** Milliseconds for the SSH command. @default 180000 */
  readonly sshTimeoutMs?: number;
  readonly onProgress?: (line: string) => void;
}

export interface PromoteResult {
  readonly ok: boolean;
  /** Set when the promotion was not attempted. */
  readonly refused?: boolean;
  readonly message: string;
  /** The command's output (masked). */
  readonly output?: string;
  readonly warnings: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Why the promotion must not run, or undefined. Pure. */
export function refusal(d: Deployment, target: DbNodeConfig, probes: ReadonlyMap<string, DbProbe>): string | undefined {
  const own = probes.get(target.name);
  if (!own?.reachable) return `${target.name}'s PostgreSQL does not answer (${own?.error ?? "not probed"}): only a running standby can be promoted`;
  if (own.inRecovery === false) return `${target.name} is already a writable primary: nothing to promote`;
  const others = writableDataNodes(d, probes).filter((n) => n.name !== target.name);
  if (others.length > 0) {
    return `${others.map((n) => `${n.name} (${n.address})`).join(", ")} answers as a writable primary: promoting ${target.name} would make two primaries (split brain). Stop or fence it first, or use repmgr switchover for a planned change`;
  }
  return undefined;
}

export async function promoteNode(d: Deployment, name: string, opts: PromoteOptions): Promise<PromoteResult> {
  const target = promotionTarget(d, name);
  const secrets = secretsFromEnv(opts.env);
  const say = opts.onProgress ?? (() => undefined);
  const probes = await probeDatabase(d, { secrets, repmgr: false });
  const why = refusal(d, target, probes);
  if (why) return { ok: false, refused: true, message: `refused: ${why}`, warnings: [] };

  const warnings = d.database.nodes
    .filter((n) => n.role === "data" && n.name !== target.name && !probes.get(n.name)?.reachable)
    .map((n) => `${n.name} does not answer: keep it stopped until it is rejoined as a standby (repmgr does no fencing)`);
  warnings.forEach((w) => say(`warning: ${w}`));

  const command = promoteCommand(d, target, opts.env);
  say(`running on ${target.name} (${target.address}): ${command}`);
  let output: string;
  try {
    const r = await sshExec(target, command, { env: opts.env, timeoutMs: opts.sshTimeoutMs ?? 180_000 });
    output = maskSecrets(`${r.stdout}${r.stderr}`.trim(), secrets);
    if (r.code !== 0) return { ok: false, message: `the promotion command failed on ${target.name} (exit ${r.code ?? r.signal})`, output, warnings };
  } catch (e) {
    return { ok: false, message: maskSecrets((e as Error).message, secrets), warnings };
  }

  const deadline = Date.now() + (opts.verifyTimeoutMs ?? 60_000);
  let last: DbProbe;
  for (;;) {
    last = await probeDbNode({ node: target, port: d.database.port, dbUser: d.database.user }, { secrets, repmgr: false });
    if (last.reachable && last.inRecovery === false) {
      return { ok: true, message: `${target.name} is now the writable primary`, output, warnings };
    }
    if (Date.now() + 1000 >= deadline) break;
    await sleep(1000);
  }
  const state = last.reachable ? "still in recovery" : `not answering (${last.error})`;
  return {
    ok: false,
    message: `the promotion command succeeded but ${target.name} is ${state} after ${Math.round((opts.verifyTimeoutMs ?? 60_000) / 1000)} s`,
    output,
    warnings,
  };
}
