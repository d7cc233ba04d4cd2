/**
 * vm-appliances: "Setting up HA for EMS VM appliances". Two or more EMS VM appliances on one
 * remote PostgreSQL server (existing, or set up by this stack as in standalone-db). The
 * appliance's SSH login is an interactive CLI, not a shell, so each appliance is driven by
 * `ems-ha appliance run` from local-exec: ping, hostname, redirect, ha get nodes. The primary
 * redirects first (it deploys the EMS database), then the secondaries, one after the other.
 */
import { TerraformStack, TerraformVariable } from "cdktf";
import type { Construct } from "constructs";
import { LiteralOutput } from "../constructs/literal-output";
import type { Deployment } from "../src/config/schema";
import { guiChecklist } from "../src/render/checklist";
import { ApplianceRedirect } from "../constructs/appliance-redirect";
import { FortiGateLb } from "../constructs/fortigate-lb";
import { DeploymentSecrets } from "../constructs/secrets";
import { StandalonePostgres } from "../constructs/standalone-postgres";

/** Moved to constructs/appliance-redirect.ts; re-exported for compatibility. */
export { ApplianceRedirect, DEFAULT_RUNNER, SECRET_FILE_DIR, type ApplianceRedirectProps } from "../constructs/appliance-redirect";

/** The appliance login password variable (set TF_VAR_appliance_password). */
export const APPLIANCE_PASSWORD_VARIABLE = "appliance_password";
export interface VmAppliancesOptions {
  /** The command that starts ems-ha in local-exec. @default DEFAULT_RUNNER */
  readonly runner?: string;
}

export class VmAppliancesStack extends TerraformStack {
  public readonly secrets: DeploymentSecrets;
  public readonly appliancePassword: TerraformVariable;
  public readonly database: StandalonePostgres;
  /** In redirect order: the primary first. */
  public readonly appliances: ApplianceRedirect[];
  public readonly fortigate?: FortiGateLb;

  constructor(scope: Construct, id: string, d: Deployment, options: VmAppliancesOptions = {}) {
    super(scope, id);
    this.secrets = new DeploymentSecrets(this, "secrets", { fortigateToken: d.fortigate !== undefined, repmgrPassword: false });
    this.appliancePassword = new TerraformVariable(this, APPLIANCE_PASSWORD_VARIABLE, {
      type: "string",
      sensitive: true,
      nullable: false,
      default: "",
      description: "SSH password of the appliances' CLI user, after the first-login change (set TF_VAR_appliance_password); empty with key login.",
    });
    this.database = new StandalonePostgres(this, "database", { deployment: d, secrets: this.secrets });
    this.appliances = [];
    d.emsNodes.forEach((node, i) => {
      const previous = this.appliances[i - 1];
      this.appliances.push(
        new ApplianceRedirect(this, node.name, {
          deployment: d,
          node,
          role: i === 0 ? "primary" : "secondary",
          secrets: this.secrets,
          appliancePassword: this.appliancePassword,
          runner: options.runner,
          dependsOn: previous ? [previous] : this.database.setup ? [this.database] : undefined,
        }),
      );
    });
    if (d.fortigate) {
      this.fortigate = new FortiGateLb(this, "fortigate", { deployment: d, secrets: this.secrets, dependsOn: this.appliances });
      new LiteralOutput(this, "fortios_cli", { value: this.fortigate.cliScript, description: "The FortiGate configuration as CLI commands" });
    }
    const primary = d.emsNodes[0]!;
    new LiteralOutput(this, "gui_checklist", {
      value: [
        `Before deploying: log in once to each appliance (ssh ${primary.ssh.user}@<address>, initial password "ems") and change the password; give the new one as TF_VAR_appliance_password.`,
        `After the primary's redirect: open https://${primary.address} and complete the initial configuration (user, password, license).`,
        ...guiChecklist(d).slice(1),
      ],
      description: "EMS steps to do by hand",
    });
  }
}
