/**
 * standalone-db: "EMS nodes in HA with standalone remote DB". One remote PostgreSQL server
 * (database.nodes[0]), either existing or set up natively by this stack over SSH, two or more
 * EMS nodes installed with `--db_host <server> --db_port <port>`, and the FortiGate as before.
 */
import { TerraformStack, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { LiteralOutput } from "../constructs/literal-output";
import type { DbNodeConfig, Deployment } from "../src/config/schema";
import { guiChecklist } from "../src/render/checklist";
import { installerCommandLine } from "../src/render/installer";
import {
  EXTENSIONS_UPLOAD_PATH,
  STANDALONE_PASSWORD_FILE,
  renderDbReachableCheck,
  renderStandaloneDbScript,
  standaloneServer,
} from "../src/render/standalone-db";
import { RemoteScript } from "../constructs/remote-script";
import type { EmsNode } from "../constructs/ems-node";
import { buildEmsChain } from "./ems-chain";
import { FortiGateLb } from "../constructs/fortigate-lb";
import { DeploymentSecrets } from "../constructs/secrets";

export interface StandalonePostgresProps {
  readonly deployment: Deployment;
  readonly secrets: DeploymentSecrets;
}

/**
 * The remote PostgreSQL server. Managed: one terraform_data runs the idempotent setup script on
 * the server (the DB password arrives as a sensitive file the script deletes). Existing: nothing.
 */
export class StandalonePostgres extends Construct {
  public readonly server: DbNodeConfig;
  /** The setup step (managed mode only); EMS depends on it. */
  public readonly setup?: RemoteScript;
  /** The setup script (managed mode only; no secrets in it). */
  public readonly script?: string;

  constructor(scope: Construct, id: string, props: StandalonePostgresProps) {
    super(scope, id);
    const d = props.deployment;
    this.server = standaloneServer(d);
    const s = d.standalone;
    if (!s) throw new Error(`${id}: the deployment has no standalone section; add standalone: { mode: "existing" | "managed" }`);
    if (s.mode !== "managed") return;
    this.script = renderStandaloneDbScript(d, s);
    this.setup = new RemoteScript(this, "setup", {
      host: this.server,
      policy: d.ssh,
      name: "standalone-db",
      script: this.script,
      secretFiles: [{ name: "db_password", content: props.secrets.dbPassword.stringValue, path: STANDALONE_PASSWORD_FILE }],
      uploads: s.extensions ? [{ source: s.extensions.path, destination: EXTENSIONS_UPLOAD_PATH, sha256: s.extensions.sha256 }] : [],
      triggers: { server: this.server.name, address: this.server.address, extensions: s.extensions?.sha256 ?? "none" },
      timeout: "10m",
    });
  }
}

/** A bounded check, on an EMS node, that the DB server answers on its port. */
export function dbReachableFrom(scope: Construct, id: string, d: Deployment, dependsOn: ITerraformDependable[]): RemoteScript {
  const server = standaloneServer(d);
  const from = d.emsNodes[0]!;
  return new RemoteScript(scope, id, {
    host: from,
    policy: d.ssh,
    name: "db-reachable",
    script: `#!/usr/bin/env bash\n${renderDbReachableCheck(server.address, d.database.port)}\n`,
    triggers: { from: from.address, server: server.address, port: String(d.database.port) },
    // A check needs no root.
    sudo: false,
    dependsOn,
  });
}

export class StandaloneDbStack extends TerraformStack {
  public readonly secrets: DeploymentSecrets;
  public readonly database: StandalonePostgres;
  public readonly emsNodes: EmsNode[];
  public readonly fortigate?: FortiGateLb;

  constructor(scope: Construct, id: string, d: Deployment) {
    super(scope, id);
    this.secrets = new DeploymentSecrets(this, "secrets", { fortigateToken: d.fortigate !== undefined, repmgrPassword: false });
    this.database = new StandalonePostgres(this, "database", { deployment: d, secrets: this.secrets });
    const reachable = dbReachableFrom(this, "db-reachable", d, this.database.setup ? [this.database.setup] : []);
    const dbHosts = [this.database.server.address];
    this.emsNodes = buildEmsChain(this, { deployment: d, secrets: this.secrets, afterDatabase: [reachable], dbHosts });
    if (d.fortigate) {
      this.fortigate = new FortiGateLb(this, "fortigate", { deployment: d, secrets: this.secrets, dependsOn: this.emsNodes.map((e) => e.resource) });
      new LiteralOutput(this, "fortios_cli", { value: this.fortigate.cliScript, description: "The FortiGate configuration as CLI commands" });
    }
    new LiteralOutput(this, "gui_checklist", { value: guiChecklist(d), description: "EMS GUI steps to do by hand" });
    new LiteralOutput(this, "installer_command_lines", {
      value: d.emsNodes.map((_, i) =>
        installerCommandLine(d.installer.version, { primary: i === 0, dbHosts, dbPort: d.database.port, dbUser: d.database.user, passwordExpr: '"$DB_PASS"' }),
      ),
      description: "The installer command line of each EMS node, in install order (password as $DB_PASS)",
    });
  }
}
