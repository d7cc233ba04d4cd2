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
import { EmsCluster } from "../constructs/ems-cluster";
import { DbReachable, StandalonePostgres } from "../constructs/standalone-postgres";
import { FortiGateLb } from "../constructs/fortigate-lb";
import { DeploymentSecrets } from "../constructs/secrets";

/** Moved to constructs/standalone-postgres.ts; re-exported for compatibility. */
export { DbReachable, StandalonePostgres, dbReachableFrom, type DbReachableProps, type StandalonePostgresProps } from "../constructs/standalone-postgres";

export class StandaloneDbStack extends TerraformStack {
  public readonly secrets: DeploymentSecrets;
  public readonly database: StandalonePostgres;
  /** The check, from the first EMS node, that the server answers. */
  public readonly reachable: DbReachable;
  public readonly ems: EmsCluster;
  /** The EMS nodes (ems.nodes), the EMS primary first. */
  public readonly emsNodes: EmsNode[];
  public readonly fortigate?: FortiGateLb;

  constructor(scope: Construct, id: string, d: Deployment) {
    super(scope, id);
    this.secrets = new DeploymentSecrets(this, "secrets", { fortigateToken: d.fortigate !== undefined, repmgrPassword: false });
    this.database = new StandalonePostgres(this, "database", { deployment: d, secrets: this.secrets });
    this.reachable = new DbReachable(this, "db-reachable", { deployment: d, dependsOn: [this.database] });
    const dbHosts = [this.database.server.address];
    this.ems = new EmsCluster(this, { deployment: d, secrets: this.secrets, dependsOn: [this.reachable], dbHosts });
    this.emsNodes = this.ems.nodes;
    if (d.fortigate) {
      this.fortigate = new FortiGateLb(this, "fortigate", { deployment: d, secrets: this.secrets, dependsOn: [this.ems] });
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
