/**
 * `ems-ha pause` / `ems-ha resume`: `repmgr service pause|unpause`, run on one reachable data
 * node (the primary first); repmgr applies it to repmgrd on every node. While paused, repmgrd
 * does not fail over, and the reconciliation service does not fence. `ems-ha status` reports
 * every paused repmgrd as a reason (a forgotten pause leaves the cluster without automatic
 * failover), so the exit code stays 1 until `ems-ha resume`.
 */
import { ConfigError } from "../config/errors";
import { STANDALONE_TOPOLOGIES } from "../config/semantics";
import type { Deployment } from "../config/schema";
import { maskSecrets, probeDatabase, secretsFromEnv } from "./pg";
import { repmgrCommand } from "./repmgr-cli";
import { sshExec } from "./ssh";

export interface PauseOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Milliseconds for the SSH command. @default 120000 */
  readonly sshTimeoutMs?: number;
  readonly onProgress?: (line: string) => void;
}

export interface PauseResult {
  readonly ok: boolean;
  readonly message: string;
  readonly output?: string;
}

export async function setPaused(d: Deployment, paused: boolean, opts: PauseOptions): Promise<PauseResult> {
  if (STANDALONE_TOPOLOGIES.has(d.topology) || d.topology === "vm-appliances") {
    throw new ConfigError([
      {
        path: "topology",
        value: d.topology,
        message: "this topology runs no repmgrd of the toolkit's",
        fix: "pause and resume apply to the replicated topologies (single-region, geo-redundant, native-single-region, upgrade-7-4-4)",
      },
    ]);
  }
  const secrets = secretsFromEnv(opts.env);
  const say = opts.onProgress ?? (() => undefined);
  const probes = await probeDatabase(d, { secrets, repmgr: false });
  const data = d.database.nodes.filter((n) => n.role === "data" && probes.get(n.name)?.reachable);
  const node = data.find((n) => probes.get(n.name)?.inRecovery === false) ?? data[0];
  if (!node) return { ok: false, message: "no data node answers: repmgr cannot be asked to " + (paused ? "pause" : "resume") };
  const action = paused ? "pause" : "unpause";
  const command = repmgrCommand(d, node, opts.env, ["service", action]);
  say(`running on ${node.name} (${node.address}): ${command}`);
  let output: string;
  try {
    const r = await sshExec(node, command, { env: opts.env, timeoutMs: opts.sshTimeoutMs ?? 120_000 });
    output = maskSecrets(`${r.stdout}${r.stderr}`.trim(), secrets);
    if (r.code !== 0) return { ok: false, message: `repmgr service ${action} failed on ${node.name} (exit ${r.code ?? r.signal})`, output };
  } catch (e) {
    return { ok: false, message: maskSecrets((e as Error).message, secrets) };
  }
  // What every repmgrd now reports.
  const after = await probeDatabase(d, { secrets });
  const wrong = d.database.nodes.filter((n) => after.get(n.name)?.reachable && after.get(n.name)?.repmgrd?.paused !== paused).map((n) => n.name);
  if (wrong.length > 0)
    return { ok: false, message: `repmgrd is not ${paused ? "paused" : "running unpaused"} on ${wrong.join(", ")} (see ems-ha status)`, output };
  return {
    ok: true,
    message: paused
      ? "repmgrd paused on every reachable node: no automatic failover (and no fencing) until `ems-ha resume`; ems-ha status reports the pause"
      : "repmgrd resumed on every reachable node: automatic failover is on",
    output,
  };
}
