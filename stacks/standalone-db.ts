/**
 * standalone-db: "EMS nodes in HA with standalone remote DB". One remote PostgreSQL server
 * (database.nodes[0]), either existing or set up natively by this stack over SSH, two or more
 * EMS nodes installed with `--db_host <server> --db_port <port>`, and the FortiGate as before.
 */
import { TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { LiteralOutput } from "../constructs/literal-output";
import type { Deployment } from "../src/config/schema";
import { guiChecklist } from "../src/render/checklist";
import { installerCommandLine } from "../src/render/installer";
import type { EmsNode } from "../constructs/ems-node";
import { buildEmsChain } from "../constructs/ems-chain";
import { StandalonePostgres, dbReachableFrom } from "../constructs/standalone-postgres";
import { FortiGateLb } from "../constructs/fortigate-lb";
import { DeploymentSecrets } from "../constructs/secrets";

/** Moved to constructs/standalone-postgres.ts; re-exported for compatibility. */
export { StandalonePostgres, dbReachableFrom, type StandalonePostgresProps } from "../constructs/standalone-postgres";

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
