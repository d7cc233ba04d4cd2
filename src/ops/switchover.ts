/**
 * Planned switchover (native topology): `repmgr standby switchover --siblings-follow`, run as
 * postgres on the target over SSH. repmgr shuts the primary down cleanly, checks the target
 * has received everything, promotes it, rejoins the old primary as its standby and points the
 * other standbys (and the witness) at it; repmgrd is paused meanwhile. It needs SSH between
 * the data nodes as postgres, which the native setup configures.
 *
 * repmgr's --dry-run runs first; when it finds a sibling (typically the witness, to which the
 * native setup gives no SSH access as postgres) unreachable over SSH, the switchover runs without
 * --siblings-follow and the siblings are re-pointed by repmgrd or the reconciliation service
 * (docs/reliability.md) before the health check after it passes.
 *
 * Refused (nothing run) when the cluster is not healthy as `ems-ha status` sees it (exact
 * reasons given), when the target is already primary, does not stream, or lags beyond the
 * limits. A witness or an unknown node is bad input (exit 2).
 */
import { ConfigError } from "../config/errors";
import type { DbNodeConfig, Deployment } from "../config/schema";
import { maskSecrets, secretsFromEnv } from "./pg";
import { repmgrCommand } from "./repmgr-cli";
import { sshExec } from "./ssh";
import { gatherStatus, type ClusterStatus, type StatusOptions } from "./status";

export interface SwitchoverLimits {
  /** Bytes of WAL the target may still have to replay. @default 16 MiB */
  readonly maxLagBytes?: number;
  /** Seconds the target's replay may be behind. @default 30 */
  readonly maxLagSeconds?: number;
}

export const DEFAULT_MAX_LAG_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_LAG_SECONDS = 30;

export interface SwitchoverOptions extends SwitchoverLimits {
  readonly env: NodeJS.ProcessEnv;
  /** Only check: repmgr's --dry-run on the target. */
  readonly dryRun?: boolean;
  /** Milliseconds for the SSH command. @default 600000 */
  readonly sshTimeoutMs?: number;
  /** Milliseconds to wait for the new roles after the command. @default 120000 */
  readonly verifyTimeoutMs?: number;
  readonly onProgress?: (line: string) => void;
  /** Status gathering (tests pass shorter timeouts). */
  readonly status?: Omit<StatusOptions, "env">;
}

export interface SwitchoverResult {
  readonly ok: boolean;
  readonly refused?: boolean;
  readonly message: string;
  readonly output?: string;
  /** Seconds the command took (its write outage is at most this). */
  readonly seconds?: number;
}

/** Topologies with a switchover: native (repmgr standby switchover) and Docker (src/ops/docker-switchover.ts). */
export const SWITCHOVER_TOPOLOGIES: ReadonlySet<string> = new Set(["native-single-region", "single-region", "geo-redundant"]);

/** The target node, or a ConfigError (bad input, exit 2). */
export function switchoverTarget(d: Deployment, name: string): DbNodeConfig {
  if (!SWITCHOVER_TOPOLOGIES.has(d.topology)) {
    throw new ConfigError([
      {
        path: "topology",
        value: d.topology,
        message:
          d.topology === "upgrade-7-4-4"
            ? "the upgrade stack replaces its DB containers by its own procedure; a switchover is not offered while it is deployed"
            : "this topology has no standby to switch over to",
        fix: `switchover applies to ${[...SWITCHOVER_TOPOLOGIES].join(", ")}; after the upgrade, deploy the single-region or geo-redundant stack`,
      },
    ]);
  }
  const node = d.database.nodes.find((n) => n.name === name);
  const dataNames = d.database.nodes.filter((n) => n.role === "data").map((n) => n.name);
  if (!node) throw new ConfigError([{ path: "--to", value: name, message: "no DB node has this name", fix: `name a data node: ${dataNames.join(", ")}` }]);
  if (node.role !== "data")
    throw new ConfigError([
      { path: "--to", value: name, message: "a witness holds no data and cannot become primary", fix: `name a data node: ${dataNames.join(", ")}` },
    ]);
  return node;
}

/** Why the switchover must not run, or undefined. Pure. */
export function switchoverRefusal(s: ClusterStatus, target: string, limits: SwitchoverLimits = {}): string | undefined {
  const maxBytes = limits.maxLagBytes ?? DEFAULT_MAX_LAG_BYTES;
  const maxSeconds = limits.maxLagSeconds ?? DEFAULT_MAX_LAG_SECONDS;
  const node = s.dbNodes.find((n) => n.name === target);
  if (s.writablePrimaries.includes(target)) return `${target} is already the primary`;
  if (s.degraded) return `the cluster is not healthy (ems-ha status): ${s.reasons.join("; ")}`;
  if (!node || node.role !== "standby" || !node.streaming) return `${target} is not a streaming standby`;
  if ((node.lagBytes ?? 0) > maxBytes) return `${target} lags ${node.lagBytes} bytes behind the primary (limit ${maxBytes}): wait until it catches up`;
  if ((node.lagSeconds ?? 0) > maxSeconds)
    return `${target} lags ${node.lagSeconds!.toFixed(1)} s behind the primary (limit ${maxSeconds} s): wait until it catches up`;
  return undefined;
}

export function switchoverCommand(d: Deployment, target: Pick<DbNodeConfig, "name">, env: NodeJS.ProcessEnv, dryRun: boolean, siblingsFollow = true): string {
  return repmgrCommand(d, target, env, ["standby", "switchover", ...(siblingsFollow ? ["--siblings-follow"] : []), ...(dryRun ? ["--dry-run"] : [])]);
}

/** repmgr's error when --siblings-follow cannot reach a sibling over SSH. */
const SIBLINGS_UNREACHABLE = /sibling nodes? unreachable via SSH/;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function switchover(d: Deployment, name: string, opts: SwitchoverOptions): Promise<SwitchoverResult> {
  const target = switchoverTarget(d, name);
  const secrets = secretsFromEnv(opts.env);
  const say = opts.onProgress ?? (() => undefined);
  const before = await gatherStatus(d, { ...opts.status, env: opts.env });
  const why = switchoverRefusal(before, target.name, opts);
  if (why) return { ok: false, refused: true, message: `refused: ${why}` };
  const oldPrimary = before.writablePrimaries[0]!;

  const ssh = async (command: string): Promise<{ code: number | null; output: string } | { error: string }> => {
    say(`running on ${target.name} (${target.address}): ${command}`);
    try {
      const r = await sshExec(target, command, { env: opts.env, timeoutMs: opts.sshTimeoutMs ?? 600_000 });
      return { code: r.code, output: maskSecrets(`${r.stdout}${r.stderr}`.trim(), secrets) };
    } catch (e) {
      return { error: maskSecrets((e as Error).message, secrets) };
    }
  };
  // repmgr's own checks first (nothing changes). --siblings-follow needs SSH as postgres to every
  // sibling, the witness included; when a sibling cannot be reached that way, the switchover runs
  // without it and the siblings are re-pointed by repmgrd or the reconciliation service.
  let siblingsFollow = true;
  let check = await ssh(switchoverCommand(d, target, opts.env, true));
  if ("error" in check) return { ok: false, message: check.error };
  if (check.code !== 0 && SIBLINGS_UNREACHABLE.test(check.output)) {
    siblingsFollow = false;
    say(
      "some siblings cannot be reached over SSH as postgres: switching over without --siblings-follow; they are re-pointed by repmgrd or the reconciliation service",
    );
    check = await ssh(switchoverCommand(d, target, opts.env, true, false));
    if ("error" in check) return { ok: false, message: check.error };
  }
  if (check.code !== 0)
    return { ok: false, refused: true, message: `refused: repmgr's checks (--dry-run) failed on ${target.name} (exit ${check.code})`, output: check.output };
  if (opts.dryRun) {
    return {
      ok: true,
      message: `dry run: repmgr found the prerequisites met for ${target.name} to take over from ${oldPrimary}${siblingsFollow ? "" : " (without --siblings-follow)"}; nothing was changed`,
      output: check.output,
    };
  }
  const started = Date.now();
  const run = await ssh(switchoverCommand(d, target, opts.env, false, siblingsFollow));
  if ("error" in run) return { ok: false, message: run.error };
  const output = `${check.output}\n${run.output}`;
  if (run.code !== 0) return { ok: false, message: `the switchover command failed on ${target.name} (exit ${run.code})`, output };
  const seconds = (Date.now() - started) / 1000;

  const deadline = Date.now() + (opts.verifyTimeoutMs ?? 120_000);
  let last: ClusterStatus;
  for (;;) {
    last = await gatherStatus(d, { ...opts.status, env: opts.env });
    const old = last.dbNodes.find((n) => n.name === oldPrimary);
    const newPrimaryAddress = target.address;
    const done =
      last.writablePrimaries.length === 1 &&
      last.writablePrimaries[0] === target.name &&
      old?.role === "standby" &&
      old.streaming === true &&
      old.upstream === newPrimaryAddress;
    const message = `${target.name} is the primary; ${oldPrimary} follows it as a standby (switchover command ${seconds.toFixed(1)} s)`;
    // repmgrd restarts (systemd) and the siblings reattach shortly after: wait for a healthy cluster
    if (done && !last.degraded) return { ok: true, message, output, seconds };
    if (Date.now() + 2000 >= deadline) {
      if (done) return { ok: false, message: `${message}, but the cluster is still degraded: ${last.reasons.join("; ")}`, output, seconds };
      break;
    }
    await sleep(2000);
  }
  return {
    ok: false,
    message: `the switchover command succeeded but the roles are not as expected after ${Math.round((opts.verifyTimeoutMs ?? 120_000) / 1000)} s: writable ${last.writablePrimaries.join(", ") || "none"}; ${last.reasons.join("; ")}`,
    output,
    seconds,
  };
}
