/**
 * `ems-ha rolling-restart` (native topology): the rolling restart the deploy runs after a change
 * (src/render/native/rolling.ts), on demand: after a minor package update done with the
 * restarts held back, or to finish a deploy whose rolling step stopped. It runs the script the
 * deploy installed on every DB host (ROLLING_SCRIPT), over SSH as the login user (sudo -n when
 * not root), in the deploy's order: round 1 on every node one at a time (standbys and witnesses
 * with a restart pending restart and stream again), then round 2 on every data node (a pending
 * primary is switched over to a restarted standby, which restarts it as its standby). At most one
 * data node is down at a time; the write outage is at most one switchover.
 *
 * Refused (nothing run) when the cluster is not healthy as `ems-ha status` sees it. The first
 * node whose step fails stops the run, with that node's output. `--dry-run` only reports what
 * each node would do (repmgr's own switchover --dry-run included).
 */
import { ConfigError } from "../config/errors";
import type { Deployment } from "../config/schema";
import { nativeMembers, type NativeMember } from "../render/native/layout";
import { ROLLING_ROUNDS, ROLLING_SCRIPT, ROLLING_WAIT_SECONDS, type RollingRound } from "../render/native/rolling";
import { shellQuote } from "../render/shell-quote";
import { maskSecrets, secretsFromEnv } from "./pg";
import { sshExec } from "./ssh";
import { gatherStatus, type ClusterStatus, type StatusOptions } from "./status";

export interface RollingOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Only report what each node would do. */
  readonly dryRun?: boolean;
  /** Milliseconds for one node's step. @default twice the script's own waits, plus the switchover */
  readonly stepTimeoutMs?: number;
  /** Milliseconds to wait for a healthy cluster after the last step. @default 120000 */
  readonly verifyTimeoutMs?: number;
  readonly onProgress?: (line: string) => void;
  /** Status gathering (tests pass shorter timeouts). */
  readonly status?: Omit<StatusOptions, "env">;
}

export interface RollingStepResult {
  readonly node: string;
  readonly round: RollingRound;
  readonly code: number | null;
  readonly output: string;
}

export interface RollingResult {
  readonly ok: boolean;
  readonly refused?: boolean;
  readonly message: string;
  readonly steps: RollingStepResult[];
  /** The writable primary afterwards (when one answered). */
  readonly primary?: string;
}

/** The steps in order: round 1 on every node, round 2 on every data node (the deploy's order). */
export function rollingSteps(d: Deployment): Array<{ member: NativeMember; round: RollingRound }> {
  const members = nativeMembers(d);
  return ROLLING_ROUNDS.flatMap((round) => members.filter((m) => round === "--others" || m.role === "data").map((member) => ({ member, round })));
}

/** The command run on a node for one round. */
export function rollingCommand(member: NativeMember, round: RollingRound, dryRun: boolean): string {
  const sudo = member.config.ssh.user === "root" ? "" : "sudo -n ";
  return `${sudo}bash ${shellQuote(ROLLING_SCRIPT)} ${round}${dryRun ? " --dry-run" : ""}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function rollingRestart(d: Deployment, opts: RollingOptions): Promise<RollingResult> {
  if (d.topology !== "native-single-region") {
    throw new ConfigError([
      {
        path: "topology",
        value: d.topology,
        message: "rolling-restart is implemented for the native topology (PostgreSQL and repmgr on the hosts)",
        fix: "use a native-single-region deployment; the Docker topologies roll their containers in the deploy",
      },
    ]);
  }
  const say = opts.onProgress ?? (() => undefined);
  const secrets = secretsFromEnv(opts.env);
  const before = await gatherStatus(d, { ...opts.status, env: opts.env });
  if (before.degraded)
    return { ok: false, refused: true, message: `refused: the cluster is not healthy (ems-ha status): ${before.reasons.join("; ")}`, steps: [] };

  const steps: RollingStepResult[] = [];
  const dryRun = opts.dryRun === true;
  for (const { member, round } of rollingSteps(d)) {
    const command = rollingCommand(member, round, dryRun);
    say(`running on ${member.name} (${member.address}): ${command}`);
    let code: number | null;
    let output: string;
    try {
      const r = await sshExec(member.config, command, { env: opts.env, timeoutMs: opts.stepTimeoutMs ?? (2 * ROLLING_WAIT_SECONDS + 900) * 1000 });
      code = r.code;
      output = maskSecrets(`${r.stdout}${r.stderr}`.trim(), secrets);
    } catch (e) {
      code = null;
      output = maskSecrets((e as Error).message, secrets);
    }
    steps.push({ node: member.name, round, code, output });
    if (output) say(output);
    if (code === 127)
      return { ok: false, message: `${ROLLING_SCRIPT} is missing on ${member.name}: deploy the stack (cdktf deploy) first; it installs the script`, steps };
    if (code !== 0) return { ok: false, message: `the rolling restart stopped at ${member.name} (${round}, exit ${code ?? "none"}); see its output`, steps };
  }
  if (dryRun)
    return { ok: true, message: "dry run: nothing was restarted or switched over (each node's plan above)", steps, primary: before.writablePrimaries[0] };

  const deadline = Date.now() + (opts.verifyTimeoutMs ?? 120_000);
  let last: ClusterStatus;
  for (;;) {
    last = await gatherStatus(d, { ...opts.status, env: opts.env });
    if (!last.degraded && last.writablePrimaries.length === 1) {
      const moved = last.writablePrimaries[0] !== before.writablePrimaries[0];
      return {
        ok: true,
        message: `rolling restart done: ${last.writablePrimaries[0]} is the primary${moved ? ` (switched over from ${before.writablePrimaries[0]})` : ""}; the cluster is healthy`,
        steps,
        primary: last.writablePrimaries[0],
      };
    }
    if (Date.now() + 2000 >= deadline) break;
    await sleep(2000);
  }
  return { ok: false, message: `every step succeeded but the cluster is not healthy: ${last.reasons.join("; ")}`, steps, primary: last.writablePrimaries[0] };
}
