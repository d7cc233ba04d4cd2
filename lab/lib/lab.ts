/**
 * The lab: real Debian 12 hosts for a deployment, booted with systemd-nspawn on a
 * bridge of this machine. labUp / labDown / labStatus are what the CLI and tests call.
 */
import { rm } from "node:fs/promises";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join, resolve } from "node:path";
import type { Deployment } from "../../src/config/schema";
import { LabError, run, runOk, waitFor } from "./exec";
import { bootHost, createPgCluster, isHostProcess, mountOverlay, mountsUnder, removeHostDir, stopHost, unmount, writeIdentity } from "./host";
import { DOCKER_RECIPE, ensureImage } from "./image";
import {
  checkLabLimits,
  dockerNspawnArgs,
  dockerReadyCommand,
  isDockerDeployment,
  placeTarballs,
  prepareDockerDataDir,
  tarballsFor,
  writeDockerUnits,
} from "./docker-host";
import { ensureStandinImages } from "../../test/standins/ems-postgres-ha/build";
import { labBridgeName, labKeyPath, labKnownHostsPath, labMachineName, labStateDir, labStateRoot } from "./paths";
import { preflight } from "./preflight";
import { generateClientKey, replaceKnownHost, sshExec, waitForSsh, writeKnownHosts, type SshTarget } from "./ssh";
import { assertSubnetFree } from "./subnet";
import { labPrefixOf, plannedHosts } from "./topology";
import { hostDirs, readLabState, writeLabState, type LabHost, type LabState } from "./state";

export type Log = (message: string) => void;

export interface LabUpOptions {
  /** @default the deterministic directory of the subnet under lab-state/ */
  readonly stateDir?: string;
  /** Seconds each host may take until sshd answers. @default 90 */
  readonly bootTimeoutSeconds?: number;
  readonly log?: Log;
}

function linkExists(name: string): boolean {
  return run("ip", ["link", "show", "dev", name]).code === 0;
}

/** What the lead's deploy/drill code needs per host. */
export function sshTarget(state: LabState, h: LabHost): SshTarget {
  return { address: h.address, sshKeyPath: state.sshKeyPath, knownHostsPath: state.knownHostsPath };
}

/** Runs a command on a lab host by name. */
export function labExec(state: LabState, hostName: string, command: string, opts?: { timeoutMs?: number; input?: string }) {
  const h = state.hosts.find((x) => x.name === hostName);
  if (!h) throw new LabError(`no lab host named ${hostName} (hosts: ${state.hosts.map((x) => x.name).join(", ")})`);
  return sshExec(sshTarget(state, h), command, opts);
}

/** labExec that throws, with the command's output, when it exits non-zero; its stdout otherwise. */
export async function labOk(state: LabState, hostName: string, command: string, timeoutMs = 60_000): Promise<string> {
  const r = await labExec(state, hostName, command, { timeoutMs });
  if (r.code !== 0) throw new LabError(`${hostName}: ${command}: exit ${r.code}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A command run in a lab host's namespaces from this machine (nsenter): works while the host's network is cut. */
export function inHost(state: LabState, hostName: string, command: string): { code: number; out: string } {
  const h = state.hosts.find((x) => x.name === hostName);
  if (!h?.pid) throw new LabError(`lab host ${hostName} is not running`);
  // the host's init: the first child of its systemd-nspawn process
  const leader = readFileSync(`/proc/${h.pid}/task/${h.pid}/children`, "utf8").trim().split(/\s+/)[0]!;
  const r = run("nsenter", ["-t", leader, "-m", "-u", "-i", "-n", "-p", "--", "sh", "-c", command], { timeoutMs: 30_000 });
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

/** Takes a lab host's port on the lab bridge down or brings it back (systemd-nspawn's vb-MACHINE; an altname when long). */
export function setBridgePort(state: LabState, hostName: string, up: boolean): void {
  const h = state.hosts.find((x) => x.name === hostName);
  if (!h) throw new LabError(`no lab host named ${hostName}`);
  runOk("ip", ["link", "set", "dev", `vb-${h.machine}`, up ? "up" : "down"]);
}

/** Boots the hosts of `deployment`. Cleans leftovers of an earlier lab on the same subnet first. */
export async function labUp(deployment: Deployment, opts: LabUpOptions = {}): Promise<LabState> {
  const log = opts.log ?? (() => undefined);
  const planned = plannedHosts(deployment);
  const prefix = labPrefixOf(planned);
  const stateDir = resolve(opts.stateDir ?? labStateDir(prefix));
  const sshKeyPath = opts.stateDir ? join(stateDir, "ssh", "id_ed25519") : labKeyPath(prefix);
  const wrongKey = planned.filter((h) => h.privateKeyPath !== undefined && resolve(h.privateKeyPath) !== sshKeyPath);
  if (wrongKey.length > 0) {
    throw new LabError(
      `${wrongKey.map((h) => `${h.name}: ssh.privateKeyPath is ${h.privateKeyPath}`).join("; ")}; the lab's key is ${sshKeyPath} (use labDeployment(prefix) from examples/lab.ts)`,
    );
  }
  preflight(labStateRoot());
  const bridge = labBridgeName(prefix);

  if (readLabState(stateDir) || existsSync(stateDir) || linkExists(bridge)) {
    log(`cleaning leftovers of an earlier lab in ${stateDir}`);
    await labDown(stateDir, { log, bridge });
  }
  assertSubnetFree(prefix);
  const docker = isDockerDeployment(deployment);
  const isDockerHost = (p: { role: string }): boolean => docker && p.role !== "ems";
  checkLabLimits({ hosts: planned.length, dockerHosts: planned.filter(isDockerHost).length, stateRoot: labStateRoot() }, log);

  const t0 = Date.now();
  const image = await ensureImage({ log });
  log(`base image: ${image} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  let dockerImage: string | undefined;
  let tarballs: Array<{ from: string; to: string }> = [];
  if (docker) {
    const t1 = Date.now();
    dockerImage = await ensureImage({ log, recipe: DOCKER_RECIPE });
    tarballs = tarballsFor(deployment, await ensureStandinImages({ log }));
    log(`Docker DB host image: ${dockerImage}; stand-in image tarballs ${tarballs.map((t) => t.to).join(", ")} (${((Date.now() - t1) / 1000).toFixed(1)} s)`);
  }

  mkdirSync(stateDir, { recursive: true });
  const state: LabState = {
    version: 1,
    prefix,
    subnet: `${prefix}.0/24`,
    bridge,
    bridgeAddress: `${prefix}.1`,
    stateDir,
    image,
    sshKeyPath,
    knownHostsPath: labKnownHostsPath(stateDir),
    bridgeCreated: false,
    hosts: planned.map((p) => ({
      name: p.name,
      machine: labMachineName(prefix, p.name),
      address: p.address,
      role: p.role,
      dir: join(stateDir, "hosts", p.name),
      ...(isDockerHost(p) ? { image: dockerImage, docker: true } : {}),
    })),
  };
  writeLabState(state);

  try {
    const publicKey = generateClientKey(sshKeyPath);
    runOk("ip", ["link", "add", bridge, "type", "bridge"]);
    state.bridgeCreated = true;
    writeLabState(state);
    runOk("ip", ["addr", "add", `${state.bridgeAddress}/24`, "dev", bridge]);
    runOk("ip", ["link", "set", bridge, "up"]);
    log(`bridge ${bridge} ${state.bridgeAddress}/24`);

    const hostKeys: Array<{ names: string[]; publicKey: string }> = [];
    for (const h of state.hosts) {
      mountOverlay(h.image ?? image, h);
      h.mounted = true;
      writeLabState(state);
      hostKeys.push({ names: [h.address, h.name], publicKey: writeIdentity(h, { hosts: state.hosts, prefixLength: 24, clientPublicKey: publicKey }) });
      if (h.docker) {
        prepareDockerDataDir(h);
        writeDockerUnits(h);
        placeTarballs(h, tarballs);
      }
    }
    writeKnownHosts(state.knownHostsPath, hostKeys);
    const tPg = Date.now();
    const nativeDb = state.hosts.filter((h) => h.role !== "ems" && !h.docker);
    await Promise.all(nativeDb.map((h) => createPgCluster(h, deployment.database.port)));
    if (nativeDb.length > 0)
      log(`PostgreSQL cluster 15/main created on the DB hosts, port ${deployment.database.port} (${((Date.now() - tPg) / 1000).toFixed(1)} s)`);

    const tBoot = Date.now();
    for (const h of state.hosts) {
      h.pid = bootHost(h, bridge, h.docker ? dockerNspawnArgs(h) : []);
      writeLabState(state);
      log(`booting ${h.name} (${h.role}) at ${h.address}, pid ${h.pid}`);
    }
    const budget = bootBudget(state.hosts.length, opts.bootTimeoutSeconds);
    const timeoutMs = budget.seconds * 1000;
    log(`boot time limit ${budget.seconds} s (${budget.why})`);
    const failures = (await Promise.all(state.hosts.map((h) => waitForHost(state, h, tBoot + timeoutMs, log)))).filter((f): f is string => f !== undefined);
    if (failures.length > 0)
      throw new LabError(`hosts did not become reachable over SSH within ${timeoutMs / 1000} s (${budget.why}):\n${failures.join("\n")}`);
    log(`all ${state.hosts.length} hosts up in ${((Date.now() - tBoot) / 1000).toFixed(1)} s`);
    return state;
  } catch (e) {
    log(`lab up failed; stopping what it started`);
    const msg = (e as Error).message;
    await labDown(stateDir, { log, keepLogs: true }).catch((d: Error) => log(`cleanup also failed: ${d.message}`));
    throw new LabError(msg);
  }
}

/** Waits (bounded, until `deadline`) for a booting host: sshd, systemd settled, Docker. Returns an error or undefined. */
async function waitForHost(state: LabState, h: LabHost, deadline: number, log: Log): Promise<string | undefined> {
  const t0 = Date.now();
  const left = (): number => Math.max(1000, deadline - Date.now());
  const err =
    (await waitForSsh(sshTarget(state, h), left(), () => isHostProcess(h.pid, h))) ??
    (await waitForBoot(state, h, left(), log)) ??
    (h.docker ? await waitForDocker(state, h, left()) : undefined);
  if (!err) log(`${h.name} booted and answers over SSH after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return err ? `${h.name} (${h.address}): ${err}; console log: ${hostDirs(h).log}\n${tail(hostDirs(h).log)}` : undefined;
}

/**
 * A native DB or EMS host lost and reinstalled at the same address: stopped, its overlay's changes
 * discarded (everything written since it was booted from the base image), a new identity with a new
 * SSH host key (the lab's known_hosts is updated), a new PostgreSQL cluster 15/main on a DB host (as
 * Debian's package leaves it), booted again. Docker hosts are not supported (remove their containers
 * and volumes instead).
 */
export async function rebuildHost(
  state: LabState,
  hostName: string,
  opts: { readonly port: number; readonly log?: Log; readonly bootTimeoutSeconds?: number },
): Promise<void> {
  const log = opts.log ?? (() => undefined);
  const h = state.hosts.find((x) => x.name === hostName);
  if (!h) throw new LabError(`no lab host named ${hostName} (hosts: ${state.hosts.map((x) => x.name).join(", ")})`);
  if (h.docker) throw new LabError(`${hostName} is a Docker host: rebuildHost handles native hosts only`);
  await stopHost(h);
  // systemd-nspawn makes the host's end of the bridge (vb-MACHINE) anew at boot and exits when it still exists
  const veth = `vb-${h.machine}`;
  if (!(await waitFor(() => (linkExists(veth) ? undefined : true), 15_000, 200)))
    throw new LabError(`${veth} of the stopped ${hostName} is still there after 15 s`);
  if (!(await unmount(hostDirs(h).merged))) throw new LabError(`${hostDirs(h).merged} is still mounted`);
  h.mounted = false;
  h.pid = undefined;
  writeLabState(state);
  for (const sub of [hostDirs(h).upper, hostDirs(h).work]) await rm(sub, { recursive: true, force: true });
  mountOverlay(state.image, h);
  h.mounted = true;
  writeLabState(state);
  const hostKey = writeIdentity(h, { hosts: state.hosts, prefixLength: 24, clientPublicKey: readFileSync(`${state.sshKeyPath}.pub`, "utf8") });
  replaceKnownHost(state.knownHostsPath, [h.address, h.name], hostKey);
  if (h.role !== "ems") await createPgCluster(h, opts.port);
  const t0 = Date.now();
  h.pid = bootHost(h, state.bridge);
  writeLabState(state);
  log(`rebuilt ${h.name}: booting at ${h.address}, pid ${h.pid}`);
  const err = await waitForHost(state, h, t0 + bootBudget(1, opts.bootTimeoutSeconds).seconds * 1000, log);
  if (err) throw new LabError(`the rebuilt host did not come up: ${err}`);
}

/**
 * The boot time limit: the given seconds, else 60 s plus 15 s per host, scaled by the machine's
 * load per CPU (the hosts boot in parallel on shared cores); at most 15 minutes.
 */
export function bootBudget(
  hosts: number,
  given?: number,
  load = loadavg()[0] ?? 0,
  cpus = Math.max(1, availableParallelism()),
): { seconds: number; why: string } {
  if (given !== undefined) return { seconds: given, why: "as given" };
  const perCpu = load / cpus;
  const factor = Math.max(1, perCpu);
  const seconds = Math.min(900, Math.round((60 + 15 * hosts) * factor));
  return { seconds, why: `${hosts} hosts, load ${load.toFixed(1)} on ${cpus} CPUs` };
}

/**
 * Waits (bounded) until the host's systemd has finished starting up, so deploy begins on a
 * settled host. "degraded" is accepted with the failed units logged. Returns an error or undefined.
 */
async function waitForBoot(state: LabState, h: LabHost, timeoutMs: number, log: Log): Promise<string | undefined> {
  const secs = Math.ceil(timeoutMs / 1000);
  const r = await sshExec(sshTarget(state, h), `timeout ${secs} systemctl is-system-running --wait; systemctl --failed --no-legend --plain`, {
    timeoutMs: timeoutMs + 10_000,
  });
  const [systemState, ...failed] = r.stdout.trim().split("\n");
  if (systemState === "running") return undefined;
  if (systemState === "degraded") {
    log(`warning: ${h.name} booted degraded; failed units: ${failed.map((l) => l.split(" ")[0]).join(", ")}`);
    return undefined;
  }
  return `systemd did not finish booting (state '${systemState ?? ""}'${r.stderr ? `, ${r.stderr.trim()}` : ""})`;
}

/** Waits (bounded) until the Docker daemon of a Docker host answers. Returns an error or undefined. */
async function waitForDocker(state: LabState, h: LabHost, timeoutMs: number): Promise<string | undefined> {
  const secs = Math.max(5, Math.ceil(timeoutMs / 1000));
  const r = await sshExec(sshTarget(state, h), dockerReadyCommand(secs), { timeoutMs: timeoutMs + 15_000 });
  return r.code === 0 ? undefined : `the Docker daemon did not answer within ${secs} s:\n${(r.stdout + r.stderr).trim()}`;
}

function tail(path: string, lines = 15): string {
  if (!existsSync(path)) return "  (no console output)";
  const r = run("tail", ["-n", String(lines), path]);
  return r.stdout
    .split("\n")
    .map((l) => `  | ${l}`)
    .join("\n");
}

export interface LabDownOptions {
  readonly log?: Log;
  /** Bridge to delete even when no state was recorded. */
  readonly bridge?: string;
  /** Keep the hosts' console logs (after a failed up). @default false */
  readonly keepLogs?: boolean;
}

/** Stops every host the lab started (by PID), unmounts, deletes the bridge and the state. */
export async function labDown(stateDir: string, opts: LabDownOptions = {}): Promise<void> {
  const log = opts.log ?? (() => undefined);
  const dir = resolve(stateDir);
  const state = readLabState(dir);
  const problems: string[] = [];
  if (state) {
    await Promise.all(
      state.hosts.map(async (h) => {
        try {
          if (isHostProcess(h.pid, h)) log(`stopping ${h.name} (pid ${h.pid})`);
          await stopHost(h);
          if (!(await unmount(hostDirs(h).merged))) problems.push(`${hostDirs(h).merged} is still mounted`);
        } catch (e) {
          problems.push((e as Error).message);
        }
      }),
    );
  }
  for (const m of mountsUnder(dir)) if (!(await unmount(m))) problems.push(`${m} is still mounted`);
  const bridge = state?.bridge ?? opts.bridge;
  if (bridge && linkExists(bridge)) {
    const r = run("ip", ["link", "del", bridge]);
    if (r.code !== 0) problems.push(`could not delete bridge ${bridge}: ${r.stderr.trim()}`);
    else log(`bridge ${bridge} deleted`);
  }
  if (problems.length > 0) throw new LabError(`lab down left things behind:\n  - ${problems.join("\n  - ")}`);
  if (existsSync(dir)) {
    if (opts.keepLogs && state) {
      for (const h of state.hosts) for (const sub of ["upper", "work", "merged", "docker"]) await rm(join(h.dir, sub), { recursive: true, force: true });
      log(`console logs kept in ${join(dir, "hosts")}`);
      await rm(join(dir, "lab.json"), { force: true });
    } else {
      if (state) for (const h of state.hosts) await removeHostDir(h);
      if (mountsUnder(dir).length === 0) await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Every lab state directory under lab-state/ (for `status` and `down` without arguments). */
export function labStateDirs(root = labStateRoot()): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^\d+\.\d+\.\d+$/.test(e.name))
    .map((e) => join(root, e.name));
}

export interface HostStatus {
  readonly name: string;
  readonly role: string;
  readonly address: string;
  readonly pid?: number;
  readonly running: boolean;
  /** The hostname the host reported over SSH, or undefined when SSH failed. */
  readonly sshHostname?: string;
  readonly sshError?: string;
  /** `systemctl is-system-running` on the host. */
  readonly systemState?: string;
}

export async function labStatus(state: LabState): Promise<HostStatus[]> {
  return Promise.all(
    state.hosts.map(async (h) => {
      const running = isHostProcess(h.pid, h);
      const base = { name: h.name, role: h.role, address: h.address, pid: h.pid, running };
      if (!running) return base;
      const r = await sshExec(sshTarget(state, h), "hostname; systemctl is-system-running || true", { timeoutMs: 15_000 });
      if (r.code !== 0) return { ...base, sshError: (r.stderr || `exit ${r.code}`).trim() };
      const [sshHostname, systemState] = r.stdout.trim().split("\n");
      return { ...base, sshHostname, systemState };
    }),
  );
}
