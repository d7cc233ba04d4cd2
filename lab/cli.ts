/**
 * npm run lab -- <command> [options]   (needs root)
 *
 *   up     [--config FILE | --subnet A.B.C] [--boot-timeout SECONDS]
 *          boot the hosts of a deployment (default examples/lab.ts on 10.231.7.0/24)
 *   status [--subnet A.B.C]   hosts, addresses, process and SSH state of every lab (or one)
 *   down   [--subnet A.B.C]   stop the hosts, unmount, delete the bridge and the state (every lab, or one)
 *   deploy [--config FILE | --subnet A.B.C] [--failover tuned|guide]
 *          synthesize and terraform apply a deployment to its lab (default: examples/lab.ts's
 *          native topology; --config applies that file to the lab on its subnet)
 *   drill  [--config FILE | --subnet A.B.C] [--stop immediate|kill] [--json]
 *          failover drill with a writer on the deployed lab (--config picks the lab of that file)
 *
 * Exit codes: 0 done, 1 the lab failed (message says why), 2 bad command line or deployment.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError } from "../src/config/errors";
import { loadDeployment, readDeploymentInput } from "../src/config/load";
import { parseDeployment } from "../src/config/parse";
import type { Deployment, DeploymentInput } from "../src/config/schema";
import { labPrefixOf, plannedHosts } from "./lib/topology";
import { DEFAULT_LAB_SUBNET, labDeployment } from "../examples/lab";
import { LabError } from "./lib/exec";
import { labDown, labStateDirs, labStatus, labUp } from "./lib/lab";
import { checkSubnetPrefix, labBridgeName, labStateDir } from "./lib/paths";
import { readLabState, type LabState } from "./lib/state";
import { formatApply, labCliEnv, labDeploy, labSecrets } from "./lib/deploy";
import { deployedDeployment, formatDrill, labDrill } from "./lib/drill";
import { gatherStatus, renderStatusTable } from "../src/ops/status";

const USAGE =
  "usage: npm run lab -- up [--config FILE | --subnet A.B.C] [--boot-timeout SECONDS] | status [--subnet A.B.C] [--json] | down [--subnet A.B.C] |\n" +
  "       deploy [--config FILE | --subnet A.B.C] [--failover tuned|guide] | drill [--config FILE | --subnet A.B.C] [--stop immediate|kill] [--json]";

class UsageError extends Error {}

function parseArgs(argv: string[]): { command: string; flags: Map<string, string> } {
  const [command, ...rest] = argv;
  if (!command) throw new UsageError("no command given");
  const flags = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === "--json") {
      flags.set("json", "true");
      continue;
    }
    const m = /^--(config|subnet|boot-timeout|failover|stop)(?:=(.*))?$/.exec(a);
    if (!m) throw new UsageError(`unknown argument '${a}'`);
    const v = m[2] ?? rest[++i];
    if (v === undefined) throw new UsageError(`--${m[1]} needs a value`);
    flags.set(m[1], v);
  }
  return { command, flags };
}

function subnetFlag(flags: Map<string, string>): string | undefined {
  const s = flags.get("subnet");
  if (s === undefined) return undefined;
  try {
    return checkSubnetPrefix(s.replace(/\.0\/24$/, ""));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function deploymentFor(flags: Map<string, string>): Deployment {
  const config = flags.get("config");
  const subnet = subnetFlag(flags);
  if (config && subnet) throw new UsageError("give --config or --subnet, not both (the subnet of a config file is its addresses')");
  if (config) return loadDeployment(resolve(config));
  return parseDeployment(labDeployment(subnet ?? DEFAULT_LAB_SUBNET), "examples/lab.ts");
}

function selectedStateDirs(flags: Map<string, string>): string[] {
  const subnet = subnetFlag(flags);
  return subnet ? [labStateDir(subnet)] : labStateDirs();
}

const log = (m: string): void => console.log(`[lab] ${m}`);

/** The lab a config file's hosts live in (its subnet), which must be up. */
function labOfConfig(d: Deployment): LabState {
  const prefix = labPrefixOf(plannedHosts(d));
  const state = readLabState(labStateDir(prefix));
  if (!state) throw new LabError(`no lab is up on ${prefix}.0/24 (the subnet of the config's hosts): run \`npm run lab -- up --config FILE\` first`);
  return state;
}

/** The one lab a command acts on: --subnet, else the only lab that is up. */
function oneLab(flags: Map<string, string>): LabState {
  const states = selectedStateDirs(flags)
    .map((d) => readLabState(d))
    .filter((s): s is LabState => s !== undefined);
  if (states.length === 0) throw new LabError("no lab is up: run `npm run lab -- up` first");
  if (states.length > 1) throw new UsageError(`several labs are up (${states.map((s) => s.subnet).join(", ")}): pick one with --subnet`);
  return states[0]!;
}

async function main(argv: string[]): Promise<number> {
  const { command, flags } = parseArgs(argv);
  switch (command) {
    case "up": {
      const bootTimeout = flags.has("boot-timeout") ? Number(flags.get("boot-timeout")) : undefined;
      if (bootTimeout !== undefined && !(bootTimeout > 0)) throw new UsageError("--boot-timeout must be a positive number of seconds");
      const state = await labUp(deploymentFor(flags), { log, bootTimeoutSeconds: bootTimeout });
      console.log(`lab up on ${state.subnet} (bridge ${state.bridge}, state ${state.stateDir}, ssh key ${state.sshKeyPath})`);
      for (const h of state.hosts) console.log(`  ${h.name.padEnd(12)} ${h.role.padEnd(8)} ${h.address.padEnd(15)} pid ${h.pid}`);
      return 0;
    }
    case "status": {
      const dirs = selectedStateDirs(flags);
      let healthy = true;
      let found = 0;
      for (const dir of dirs) {
        const state = readLabState(dir);
        if (!state) continue;
        found++;
        console.log(`lab ${state.subnet} bridge ${state.bridge} state ${state.stateDir}`);
        for (const s of await labStatus(state)) {
          const ssh = s.sshHostname ? `ssh ok (hostname ${s.sshHostname}, system ${s.systemState})` : s.running ? `ssh FAILED: ${s.sshError}` : "";
          console.log(`  ${s.name.padEnd(12)} ${s.role.padEnd(8)} ${s.address.padEnd(15)} ${s.running ? `running pid ${s.pid}` : "NOT RUNNING"}  ${ssh}`);
          healthy &&= s.running && s.sshHostname === s.name;
        }
        if (existsSync(join(state.stateDir, "deployment.json"))) {
          // Deployed: the cluster as `ems-ha status` sees it.
          const secrets = labSecrets(state);
          const cluster = await gatherStatus(deployedDeployment(state), {
            env: labCliEnv(secrets),
          });
          console.log(flags.has("json") ? JSON.stringify(cluster) : renderStatusTable(cluster));
          healthy &&= !cluster.degraded;
        }
      }
      if (found === 0) console.log("no lab is up");
      return healthy ? 0 : 1;
    }
    case "down": {
      const subnet = subnetFlag(flags);
      const dirs = selectedStateDirs(flags);
      if (dirs.length === 0) console.log("no lab state found; nothing to stop");
      for (const dir of dirs) {
        // With --subnet, a bridge left without any state is removed too.
        await labDown(dir, { log, bridge: subnet ? labBridgeName(subnet) : undefined });
        console.log(`lab in ${dir} is down`);
      }
      return 0;
    }
    case "deploy": {
      const failover = flags.get("failover") ?? "tuned";
      if (failover !== "tuned" && failover !== "guide") throw new UsageError(`--failover must be tuned or guide, not ${failover}`);
      const config = flags.get("config");
      if (config && flags.has("subnet")) throw new UsageError("give --config or --subnet, not both (the subnet of a config file is its addresses')");
      if (config && flags.has("failover"))
        throw new UsageError("--failover applies to the default lab deployment; set database.failover in the config file instead");
      let state: LabState;
      let deployment: unknown;
      if (config) {
        const path = resolve(config);
        deployment = readDeploymentInput(path);
        state = labOfConfig(loadDeployment(path));
      } else {
        state = oneLab(flags);
        if (state.hosts.some((h) => h.docker)) throw new UsageError(`the lab on ${state.subnet} has Docker DB hosts: name its deployment with --config FILE`);
      }
      const r = await labDeploy(state, { log, failover, deployment: deployment as DeploymentInput | undefined });
      console.log(formatApply(r.apply));
      console.log(`synth ${r.synthSeconds.toFixed(1)} s, terraform init ${r.initSeconds.toFixed(1)} s, apply ${r.apply.wallSeconds} s`);
      return 0;
    }
    case "drill": {
      const stop = flags.get("stop") ?? "immediate";
      if (stop !== "immediate" && stop !== "kill") throw new UsageError(`--stop must be immediate or kill, not ${stop}`);
      const config = flags.get("config");
      if (config && flags.has("subnet")) throw new UsageError("give --config or --subnet, not both (the subnet of a config file is its addresses')");
      const state = config ? labOfConfig(loadDeployment(resolve(config))) : oneLab(flags);
      const result = await labDrill(state, { stop, log: flags.has("json") ? (m) => console.error(`[lab] ${m}`) : log });
      console.log(flags.has("json") ? JSON.stringify(result) : formatDrill(result));
      return result.rowsMissing === 0 && result.failoverSeconds !== null && result.writablePrimaries === 1 ? 0 : 1;
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`lab: ${e.message}\n${USAGE}`);
      process.exit(2);
    }
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(ConfigError.EXIT_CODE);
    }
    console.error(e instanceof LabError ? `lab: ${e.message}` : e);
    process.exit(1);
  },
);
