/**
 * The deployment and environment the ops tests give the real CLI for a loopback cluster of
 * pg-1, pg-2, pg-3 (data) and pgw-1 (witness) plus one EMS host (addresses 0-4 of the plan):
 * shared by the self-healing and switchover tests.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { expectedServices } from "../../../src/render/ems-services";

const REPO = resolve(__dirname, "../../..");

export interface OpsFixtureOptions {
  /** The test's directory (deployment.json, units/, known_hosts). */
  readonly tmp: string;
  /** Deployment name; also the EMS FQDN's label. */
  readonly name: string;
  readonly pgPort: number;
  readonly sshPort: number;
  readonly addresses: ReadonlyArray<string>;
  /** The loopback sshd's client key. */
  readonly privateKeyPath: string;
}

/** Writes deployment.json (native-single-region) and the EMS host's stand-in unit list; returns the deployment's path and the units directory. */
export function writeOpsFixture(o: OpsFixtureOptions): { configPath: string; unitsDir: string } {
  const addr = o.addresses;
  const unitsDir = join(o.tmp, "units");
  mkdirSync(unitsDir);
  const units = expectedServices("primary").map((alts) => `${alts[0]}.service loaded active running stand-in`);
  writeFileSync(join(unitsDir, `units-${addr[4]}`), `${units.join("\n")}\n`);
  const ssh = { user: "root", port: o.sshPort, privateKeyPath: o.privateKeyPath };
  const configPath = join(o.tmp, "deployment.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      topology: "native-single-region",
      name: o.name,
      emsNodes: [{ name: "ems-1", address: addr[4], ssh }],
      database: {
        port: o.pgPort,
        user: "postgres",
        nodes: [
          { name: "pg-1", address: addr[0], role: "data", ssh },
          { name: "pg-2", address: addr[1], role: "data", ssh },
          { name: "pg-3", address: addr[2], role: "data", ssh },
          { name: "pgw-1", address: addr[3], role: "witness", ssh },
        ],
      },
      installer: { version: "7.4.4.2034", source: { kind: "file", path: "/nonexistent/installer.bin", sha256: "0".repeat(64) } },
      ems: { fqdn: `ems.${o.name}.internal`, vip: "192.0.2.50" },
    }),
  );
  return { configPath, unitsDir };
}

/** The CLI's environment: the DB password, the test's known_hosts, the EMS systemctl stand-in, no agent. */
export function opsEnv(tmp: string, unitsDir: string, password: string, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.SSH_AUTH_SOCK;
  delete env.TF_VAR_db_password;
  return {
    ...env,
    EMS_HA_DB_PASSWORD: password,
    EMS_HA_KNOWN_HOSTS: join(tmp, "known_hosts"),
    EMS_HA_SYSTEMCTL: `${REPO}/test/standins/ems-systemctl ${unitsDir}`,
    ...extra,
  };
}
