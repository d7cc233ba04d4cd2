/**
 * Planned switchover in the Docker topologies (single-region, geo-redundant).
 *
 * repmgr's own `standby switchover` needs SSH between the nodes as postgres, which the
 * containers do not have. ems-ha runs the same steps itself, from the operator's machine, over
 * SSH to each DB host and `docker exec` into the node's container (docs/operations.md,
 * "Planned switchover (Docker)"):
 *
 *  1. checks: the cluster is healthy (`ems-ha status`), the target streams and does not lag,
 *     every DB container runs; the old primary's restart policy is read;
 *  2. `repmgr service pause` (every repmgrd: no automatic failover during the change);
 *  3. the old primary's restart policy set to "no" (nothing restarts it behind our back);
 *  4. PostgreSQL in the old primary's container stopped with a fast shutdown: sessions end, a
 *     shutdown checkpoint is written and sent to the connected standbys (the write outage starts);
 *  5. `pg_controldata`: the server is "shut down" and where its last checkpoint lies;
 *  6. the target has received WAL past that checkpoint (bounded wait): it holds every commit the
 *     old primary acknowledged. Otherwise the old primary is started again and nothing changes;
 *  7. `repmgr standby promote` on the target (the write outage ends); the old primary's container
 *     stopped (its repmgrd with it);
 *  8. `repmgr standby follow` on each other data node, `repmgr witness register --force` on each
 *     witness, with the new primary;
 *  9. `repmgr service unpause` on the nodes that answer (automatic failover is on again);
 * 10. the old primary's restart policy restored and its container started: the image's start
 *     finds the new primary among REPMGR_PARTNER_NODES and joins it as a standby;
 *     Each witness's container is restarted (its repmgrd keeps the old primary in memory otherwise);
 * 11. once it streams from the new primary, `repmgr service unpause` again: repmgr keeps a node's
 *     pause in its data directory, so the old primary came back paused;
 * 12. wait until exactly one primary answers, every standby streams from it and the witnesses are
 *     registered with it, and no repmgrd is paused.
 *
 * Every value that reaches a shell is quoted (shellQuote); passwords never do.
 */
import type { DbNodeConfig, Deployment } from "../config/schema";
import { PG_DATA_DIR, PG_STOP_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS } from "../render/docker-cli";
import { shellQuote } from "../render/shell-quote";
import { lsnToBigInt, maskSecrets, probeDbNode, secretsFromEnv, type DbProbe } from "./pg";
import { repmgrCommand } from "./repmgr-cli";
import { sshExec } from "./ssh";
import { gatherStatus, type ClusterStatus } from "./status";
import { switchoverRefusal, switchoverTarget, type SwitchoverOptions, type SwitchoverResult } from "./switchover";

/** One command on a DB node's Docker host. */
export type HostRunner = (node: DbNodeConfig, command: string, timeoutMs: number) => Promise<{ code: number | null; output: string }>;

export interface DockerSwitchoverOptions extends SwitchoverOptions {
  /** Seconds the target may take to receive the old primary's shutdown checkpoint. @default 30 */
  readonly catchUpTimeoutSeconds?: number;
  /** Seconds the old primary's container may take to stream from the new primary. @default 300 */
  readonly rejoinTimeoutSeconds?: number;
  /** Test hooks: commands on the hosts, status, one node's probe. */
  readonly deps?: {
    readonly run?: HostRunner;
    readonly status?: () => Promise<ClusterStatus>;
    readonly probe?: (node: DbNodeConfig) => Promise<DbProbe>;
  };
}

/** The container (named after the node) on the node's host. */
const c = (node: Pick<DbNodeConfig, "name">) => shellQuote(node.name);

export const dockerCommands = {
  inspect: (n: DbNodeConfig) => `docker container inspect -f '{{.State.Running}} {{.HostConfig.RestartPolicy.Name}}' ${c(n)}`,
  restartPolicy: (n: DbNodeConfig, policy: string) => `docker update --restart=${shellQuote(policy)} ${c(n)}`,
  stopPostgres: (n: DbNodeConfig) => `docker exec ${c(n)} pg_ctl stop -D ${shellQuote(PG_DATA_DIR)} -m fast -w -t ${PG_STOP_TIMEOUT_SECONDS}`,
  controlData: (n: DbNodeConfig) => `docker exec ${c(n)} pg_controldata ${shellQuote(PG_DATA_DIR)}`,
  stopContainer: (n: DbNodeConfig) => `docker stop --time ${STOP_TIMEOUT_SECONDS} ${c(n)}`,
  startContainer: (n: DbNodeConfig) => `docker start ${c(n)}`,
  restartContainer: (n: DbNodeConfig) => `docker restart --time ${STOP_TIMEOUT_SECONDS} ${c(n)}`,
};

/** "Database cluster state" and "Latest checkpoint location" from pg_controldata's output. */
export function parseControlData(text: string): { state?: string; checkpoint?: string } {
  const state = /^Database cluster state:\s*(.+?)\s*$/m.exec(text)?.[1];
  const checkpoint = /^Latest checkpoint location:\s*([0-9A-Fa-f]+\/[0-9A-Fa-f]+)\s*$/m.exec(text)?.[1];
  return { state, checkpoint };
}

/** The target has received WAL beyond the old primary's shutdown checkpoint record (which starts at `checkpoint`). */
export function receivedPast(probe: DbProbe, checkpoint: string): boolean {
  const at = probe.receiveLsn ?? undefined;
  if (!at) return false;
  try {
    return lsnToBigInt(at) > lsnToBigInt(checkpoint);
  } catch {
    return false;
  }
}

/** The steps as the operator reads them (dry run). */
export function dockerSwitchoverPlan(d: Deployment, oldPrimary: DbNodeConfig, target: DbNodeConfig, targetId: number, env: NodeJS.ProcessEnv): string[] {
  const others = d.database.nodes.filter((n) => n.name !== oldPrimary.name && n.name !== target.name);
  const on = (n: DbNodeConfig, cmd: string) => `on ${n.name} (${n.address}): ${cmd}`;
  return [
    on(oldPrimary, repmgrCommand(d, oldPrimary, env, ["service", "pause"])),
    on(oldPrimary, dockerCommands.restartPolicy(oldPrimary, "no")),
    on(oldPrimary, dockerCommands.stopPostgres(oldPrimary)),
    on(oldPrimary, dockerCommands.controlData(oldPrimary)),
    `wait until ${target.name} has received WAL past ${oldPrimary.name}'s shutdown checkpoint (else start ${oldPrimary.name}'s PostgreSQL again and stop)`,
    on(target, repmgrCommand(d, target, env, ["standby", "promote"])),
    on(oldPrimary, dockerCommands.stopContainer(oldPrimary)),
    ...others.map((n) => on(n, repmgrCommand(d, n, env, followArgs(d, n, target, targetId)))),
    on(target, repmgrCommand(d, target, env, ["service", "unpause"])),
    on(oldPrimary, `${dockerCommands.restartPolicy(oldPrimary, "<as before>")}; ${dockerCommands.startContainer(oldPrimary)}`),
    ...d.database.nodes.filter((n) => n.role === "witness").map((w) => on(w, dockerCommands.restartContainer(w))),
    `wait until ${oldPrimary.name} streams from ${target.name}; then on ${target.name}: ${repmgrCommand(d, target, env, ["service", "unpause"])} (${oldPrimary.name} kept its pause)`,
    "wait until ems-ha status is healthy",
  ];
}

/** repmgr's arguments to attach `n` to the new primary. */
function followArgs(d: Deployment, n: DbNodeConfig, target: DbNodeConfig, targetId: number): string[] {
  return n.role === "witness"
    ? ["witness", "register", "--force", "-h", target.name, "-p", String(d.database.port), "-U", "repmgr", "-d", "repmgr"]
    : ["standby", "follow", `--upstream-node-id=${targetId}`];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function dockerSwitchover(d: Deployment, name: string, opts: DockerSwitchoverOptions): Promise<SwitchoverResult> {
  const target = switchoverTarget(d, name);
  const secrets = secretsFromEnv(opts.env);
  const say = opts.onProgress ?? (() => undefined);
  const sshTimeout = opts.sshTimeoutMs ?? 600_000;
  const status = opts.deps?.status ?? (() => gatherStatus(d, { ...opts.status, env: opts.env }));
  const probe = opts.deps?.probe ?? ((n: DbNodeConfig) => probeDbNode({ node: n, port: d.database.port, dbUser: d.database.user }, { secrets, repmgr: false }));
  const run: HostRunner =
    opts.deps?.run ??
    (async (node, command, timeoutMs) => {
      try {
        const r = await sshExec(node, command, { env: opts.env, timeoutMs });
        return { code: r.code, output: maskSecrets(`${r.stdout}${r.stderr}`.trim(), secrets) };
      } catch (e) {
        return { code: null, output: maskSecrets((e as Error).message, secrets) };
      }
    });
  const log: string[] = [];
  const exec = async (node: DbNodeConfig, command: string, timeoutMs = sshTimeout) => {
    say(`on ${node.name} (${node.address}): ${command}`);
    const r = await run(node, command, timeoutMs);
    if (r.output) log.push(`${node.name}$ ${command}\n${r.output}`);
    return r;
  };
  const output = () => log.join("\n");

  // 1. Checks (nothing changes).
  const before = await status();
  const why = switchoverRefusal(before, target.name, opts);
  if (why) return { ok: false, refused: true, message: `refused: ${why}` };
  const oldPrimary = d.database.nodes.find((n) => n.name === before.writablePrimaries[0])!;
  const idOf = (n: string) => (before.dbNodes.find((x) => x.name === oldPrimary.name)?.repmgrView ?? []).find((r) => r.nodeName === n)?.nodeId;
  const targetId = idOf(target.name);
  if (targetId === undefined) return { ok: false, refused: true, message: `refused: ${target.name} has no record in repmgr.nodes on ${oldPrimary.name}` };
  let oldPolicy = "";
  for (const n of d.database.nodes) {
    const r = await exec(n, dockerCommands.inspect(n), 60_000);
    const [running, policy] = r.output.trim().split(/\s+/);
    if (r.code !== 0 || running !== "true")
      return {
        ok: false,
        refused: true,
        message: `refused: the container ${n.name} on ${n.address} does not run or cannot be inspected: ${r.output}`,
        output: output(),
      };
    if (n.name === oldPrimary.name) oldPolicy = policy ?? "";
  }
  if (!/^(no|always|unless-stopped|on-failure(:\d+)?)$/.test(oldPolicy))
    return { ok: false, refused: true, message: `refused: unexpected restart policy "${oldPolicy}" on ${oldPrimary.name}`, output: output() };
  if (opts.dryRun) {
    const plan = dockerSwitchoverPlan(d, oldPrimary, target, targetId, opts.env);
    return {
      ok: true,
      message: `dry run: ${target.name} can take over from ${oldPrimary.name}; nothing was changed. The steps:\n${plan.map((s, i) => `  ${i + 1}. ${s}`).join("\n")}`,
      output: output(),
    };
  }

  // 2-3. No automatic failover, nothing restarts the old primary meanwhile.
  const resume = async () => {
    const r = await exec(target, repmgrCommand(d, target, opts.env, ["service", "unpause"]), 120_000);
    if (r.code !== 0) await exec(oldPrimary, repmgrCommand(d, oldPrimary, opts.env, ["service", "unpause"]), 120_000);
  };
  const pause = await exec(oldPrimary, repmgrCommand(d, oldPrimary, opts.env, ["service", "pause"]), 120_000);
  if (pause.code !== 0) {
    await resume();
    return { ok: false, message: `repmgr service pause failed on ${oldPrimary.name} (exit ${pause.code}); nothing else was changed`, output: output() };
  }
  const abort = async (message: string): Promise<SwitchoverResult> => {
    // Back to where we started: the old primary's PostgreSQL runs again (repmgr starts it as repmgrd would), policy restored, repmgrd resumed.
    const start = await exec(oldPrimary, repmgrCommand(d, oldPrimary, opts.env, ["node", "service", "--action=start"]), 180_000);
    await exec(oldPrimary, dockerCommands.restartPolicy(oldPrimary, oldPolicy), 60_000);
    await exec(oldPrimary, repmgrCommand(d, oldPrimary, opts.env, ["service", "unpause"]), 120_000);
    const back = start.code === 0 ? `${oldPrimary.name} was started again as the primary` : `starting ${oldPrimary.name} again FAILED: see the output`;
    return { ok: false, message: `${message}; nothing was promoted: ${back}, repmgrd resumed`, output: output() };
  };
  const noRestart = await exec(oldPrimary, dockerCommands.restartPolicy(oldPrimary, "no"), 60_000);
  if (noRestart.code !== 0) {
    await resume();
    return { ok: false, message: `docker update failed on ${oldPrimary.name}; repmgrd resumed, nothing else was changed`, output: output() };
  }

  // 4-5. Clean shutdown of the old primary; where its last checkpoint lies.
  const started = Date.now();
  const stop = await exec(oldPrimary, dockerCommands.stopPostgres(oldPrimary), (PG_STOP_TIMEOUT_SECONDS + 30) * 1000);
  const control = await exec(oldPrimary, dockerCommands.controlData(oldPrimary), 60_000);
  const cd = parseControlData(control.output);
  if (stop.code !== 0 || cd.state !== "shut down" || !cd.checkpoint)
    return abort(`${oldPrimary.name}'s PostgreSQL did not shut down cleanly (pg_ctl exit ${stop.code}, state "${cd.state ?? "unknown"}")`);
  say(`${oldPrimary.name} shut down cleanly; its shutdown checkpoint is at ${cd.checkpoint}`);

  // 6. The target holds everything the old primary wrote.
  const catchUp = Date.now() + (opts.catchUpTimeoutSeconds ?? 30) * 1000;
  let seen = await probe(target);
  while (!receivedPast(seen, cd.checkpoint) && Date.now() < catchUp) {
    await sleep(250);
    seen = await probe(target);
  }
  if (!receivedPast(seen, cd.checkpoint))
    return abort(
      `${target.name} did not receive ${oldPrimary.name}'s shutdown checkpoint (${cd.checkpoint}) within ${opts.catchUpTimeoutSeconds ?? 30} s (received up to ${seen.receiveLsn ?? "unknown"})`,
    );

  // 7. Promotion.
  const promote = await exec(target, repmgrCommand(d, target, opts.env, ["standby", "promote"]), 180_000);
  const promoted = await probe(target);
  if (!(promoted.reachable && promoted.inRecovery === false)) {
    if (promote.code !== 0) return abort(`repmgr standby promote failed on ${target.name} (exit ${promote.code})`);
    return {
      ok: false,
      message: `repmgr standby promote ran on ${target.name} but it does not answer as writable; repmgrd stays PAUSED and ${oldPrimary.name} stopped: check with ems-ha status`,
      output: output(),
    };
  }
  const outage = (Date.now() - started) / 1000;
  say(`${target.name} is the writable primary (${outage.toFixed(1)} s after ${oldPrimary.name} stopped)`);

  // The old primary's container stops (its repmgrd with it) before repmgrd resumes anywhere.
  const problems: string[] = [];
  const stopOld = await exec(oldPrimary, dockerCommands.stopContainer(oldPrimary), (STOP_TIMEOUT_SECONDS + 30) * 1000);
  if (stopOld.code !== 0) problems.push(`docker stop ${oldPrimary.name} failed`);

  // 8-9. The other nodes follow; repmgrd resumes.
  for (const n of d.database.nodes.filter((x) => x.name !== oldPrimary.name && x.name !== target.name)) {
    const r = await exec(n, repmgrCommand(d, n, opts.env, followArgs(d, n, target, targetId)), 300_000);
    if (r.code !== 0) problems.push(`${n.role === "witness" ? "witness register" : "standby follow"} failed on ${n.name} (exit ${r.code})`);
  }
  // Every node that answers; the old primary's pause lives on in its data directory and is lifted once it is back (below).
  const unpauseCommand = repmgrCommand(d, target, opts.env, ["service", "unpause"]);
  await exec(target, unpauseCommand, 120_000);

  // 10. The old primary rejoins through the image's start (its container was stopped after the promotion).
  const policy = await exec(oldPrimary, dockerCommands.restartPolicy(oldPrimary, oldPolicy), 60_000);
  if (policy.code !== 0) problems.push(`restoring the restart policy "${oldPolicy}" of ${oldPrimary.name} failed`);
  const startOld = await exec(oldPrimary, dockerCommands.startContainer(oldPrimary), 120_000);
  if (startOld.code !== 0) problems.push(`docker start ${oldPrimary.name} failed`);
  // A witness's repmgrd keeps the primary it knew in memory (`witness register` from outside does not
  // change it; seen on the lab: it wrote the old primary back into its metadata later). Its container
  // restarts, and its start registers it with the primary it finds.
  for (const w of d.database.nodes.filter((n) => n.role === "witness")) {
    const r = await exec(w, dockerCommands.restartContainer(w), (STOP_TIMEOUT_SECONDS + 60) * 1000);
    if (r.code !== 0) problems.push(`docker restart ${w.name} failed`);
  }

  // 11. The new roles, healthy.
  const rejoinMs = (opts.rejoinTimeoutSeconds ?? 300) * 1000;
  const verifyMs = Math.max(opts.verifyTimeoutMs ?? 120_000, rejoinMs);
  const deadline = Date.now() + verifyMs;
  let last: ClusterStatus;
  let resumed = false;
  for (;;) {
    last = await status();
    const old = last.dbNodes.find((n) => n.name === oldPrimary.name);
    const done =
      last.writablePrimaries.length === 1 &&
      last.writablePrimaries[0] === target.name &&
      old?.role === "standby" &&
      old.streaming === true &&
      (old.upstream === target.name || old.upstream === target.address);
    if (done && !resumed) {
      // The old primary streams again: now every repmgrd can be resumed.
      resumed = (await exec(target, unpauseCommand, 120_000)).code === 0;
      continue;
    }
    if (done && resumed && !last.degraded && problems.length === 0) {
      return {
        ok: true,
        message: `${target.name} is the primary; ${oldPrimary.name} follows it as a standby (writes stopped ${outage.toFixed(1)} s: from ${oldPrimary.name}'s shutdown to ${target.name}'s promotion)`,
        output: output(),
        seconds: outage,
      };
    }
    if (Date.now() + 3000 >= deadline) break;
    await sleep(3000);
  }
  return {
    ok: false,
    message: `${target.name} was promoted (writes stopped ${outage.toFixed(1)} s), but after ${Math.round(verifyMs / 1000)} s the cluster is not as expected: ${[...problems, ...(resumed ? [] : ["repmgr service unpause did not reach every node: run ems-ha resume"]), ...last.reasons].join("; ") || `writable ${last.writablePrimaries.join(", ")}`}`,
    output: output(),
    seconds: outage,
  };
}
