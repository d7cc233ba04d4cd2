/**
 * A three-node loopback deployment for the ops tests that drive the CLI: a PostgreSQL 15 primary
 * (pg-1), a streaming standby (pg-2) and a witness (pgw-1) registered with repmgr, repmgrd running on
 * each, a real sshd on their addresses, and two EMS hosts whose service list is the stand-in
 * test/standins/ems-systemctl. Written as the native-single-region deployment `name` describes.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expectedServices } from "../../../src/render/ems-services";
import { LoopbackCluster, loopbackPlan, requireTools, type PgNode } from "./loopback-cluster";
import { startSshd, type LoopbackSshd } from "./loopback-sshd";
import { opsEnv } from "./ops-fixture";
import { runCliCaptured, type CliRun } from "../../helpers/cli";

const REPO = resolve(__dirname, "../../..");

export interface ThreeNodeDeployment {
  readonly tmp: string;
  readonly cluster: LoopbackCluster;
  readonly sshd: LoopbackSshd;
  readonly pg1: PgNode;
  readonly pg2: PgNode;
  readonly pgw: PgNode;
  /** The deployment JSON. */
  readonly configPath: string;
  /** The CLI's environment: the DB password, known_hosts, the stand-in systemctl, repmgr.conf and state dir. */
  readonly env: NodeJS.ProcessEnv;
  /** Everything the CLI printed through `cli`, for the tests that no password was printed. */
  readonly outputs: string[];
  /** The CLI in-process with `env` (and `extraEnv` over it), its output recorded. */
  cli(argv: string[], extraEnv?: NodeJS.ProcessEnv): Promise<CliRun>;
  stop(): Promise<void>;
}

function unitLines(names: string[]): string {
  return names.map((n) => `${n}.service loaded active running stand-in ${n}`).join("\n") + "\n";
}

export async function startThreeNode(name: string, password: string): Promise<ThreeNodeDeployment> {
  requireTools();
  const plan = await loopbackPlan(5);
  const addr = plan.addresses;
  const tmp = mkdtempSync(join(tmpdir(), `ems-ha-${name}-`));
  chmodSync(tmp, 0o755); // the postgres user must reach its data directories below
  mkdirSync(join(tmp, "pg"));
  const cluster = new LoopbackCluster(join(tmp, "pg"), plan.pgPort, password);
  let sshd: LoopbackSshd | undefined;
  const stop = async () => {
    cluster.stopAll();
    await sshd?.stop();
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    const pg1 = await cluster.addPrimary("pg-1", 1, addr[0]!);
    const pg2 = await cluster.addStandby("pg-2", 2, addr[1]!, pg1);
    const pgw = await cluster.addWitness("pgw-1", 3, addr[2]!, pg1);
    for (const n of cluster.nodes) cluster.startRepmgrd(n);
    sshd = await startSshd(join(tmp, "ssh"), addr, plan.sshPort);
    const unitsDir = join(tmp, "units");
    mkdirSync(unitsDir);
    writeFileSync(join(unitsDir, `units-${addr[3]}`), unitLines([...expectedServices("primary").map((alts) => alts[0]!), "cron"]));
    writeFileSync(join(unitsDir, `units-${addr[4]}`), unitLines([...expectedServices("secondary").map((alts) => alts[0]!), "cron"]));
    const ssh = { user: "root", port: plan.sshPort, privateKeyPath: sshd.clientKey };
    const configPath = join(tmp, "deployment.json");
    writeFileSync(
      configPath,
      JSON.stringify({
        topology: "native-single-region",
        name,
        emsNodes: [
          { name: "ems-1", address: addr[3], ssh },
          { name: "ems-2", address: addr[4], ssh },
        ],
        database: {
          port: plan.pgPort,
          user: "postgres",
          nodes: [
            { name: "pg-1", address: addr[0], role: "data", ssh },
            { name: "pg-2", address: addr[1], role: "data", ssh },
            { name: "pgw-1", address: addr[2], role: "witness", ssh },
          ],
        },
        installer: { version: "7.4.4.2034", source: { kind: "file", path: "/nonexistent/installer.bin", sha256: "0".repeat(64) } },
        ems: { fqdn: `ems.${name}.internal`, vip: "192.0.2.51" },
      }),
    );
    const env = opsEnv(tmp, unitsDir, password, { EMS_HA_REPMGR_CONF: pg2.repmgrConf, EMS_HA_STATE_DIR: join(tmp, "state") });
    await cluster.waitRepmgrd(cluster.nodes);
    const outputs: string[] = [];
    const cli = async (argv: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> => {
      const r = await runCliCaptured(argv, REPO, { ...env, ...extraEnv });
      outputs.push(r.out, r.err);
      return r;
    };
    return { tmp, cluster, sshd, pg1, pg2, pgw, configPath, env, outputs, cli, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
