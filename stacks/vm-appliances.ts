/**
 * vm-appliances: "Setting up HA for EMS VM appliances". Two or more EMS VM appliances on one
 * remote PostgreSQL server (existing, or set up by this stack as in standalone-db). The
 * appliance's SSH login is an interactive CLI, not a shell, so each appliance is driven by
 * `ems-ha appliance run` from local-exec: ping, hostname, redirect, ha get nodes. The primary
 * redirects first (it deploys the EMS database), then the secondaries, one after the other.
 */
import { DataResource, TerraformStack, TerraformVariable, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { LiteralOutput } from "../constructs/literal-output";
import { resolve } from "node:path";
import { appliancesSchema, type Deployment, type EmsNodeConfig } from "../src/config/schema";
import { guiChecklist } from "../src/render/checklist";
import { applianceSecretFilesCommand, runnerArgv, shellWord, type ApplianceRole } from "../src/render/appliance";
import { standaloneServer } from "../src/render/standalone-db";
import { terraformLiteral } from "../constructs/connection";
import { FortiGateLb } from "../constructs/fortigate-lb";
import { DeploymentSecrets } from "../constructs/secrets";
import { StandalonePostgres } from "./standalone-db";

/** The appliance login password variable (set TF_VAR_appliance_password). */
export const APPLIANCE_PASSWORD_VARIABLE = "appliance_password";
/** Directory, relative to Terraform's working directory, of the one-run secret files. */
export const SECRET_FILE_DIR = ".ems-ha-secrets";
/** How local-exec starts the CLI: this checkout's bin/ems-ha.js under the node running Terraform's PATH. */
export const DEFAULT_RUNNER = `node ${resolve(__dirname, "..", "bin", "ems-ha.js")}`;

export interface ApplianceRedirectProps {
  readonly deployment: Deployment;
  readonly node: EmsNodeConfig;
  readonly role: ApplianceRole;
  readonly secrets: DeploymentSecrets;
  readonly appliancePassword: TerraformVariable;
  /** The command that starts ems-ha. @default DEFAULT_RUNNER */
  readonly runner?: string;
  readonly dependsOn?: ITerraformDependable[];
}

/**
 * One appliance's redirect: a local-exec that writes the two secrets to 0600 files (its output
 * is suppressed because its environment is sensitive; it prints nothing), then a local-exec that
 * runs the runner, whose output stays visible. The runner deletes the files once read.
 */
export class ApplianceRedirect extends Construct {
  public readonly resource: DataResource;
  /** The runner's command line (no secret in it). */
  public readonly command: string;

  constructor(scope: Construct, id: string, props: ApplianceRedirectProps) {
    super(scope, id);
    const d = props.deployment;
    const a = d.appliances ?? appliancesSchema.parse({});
    const server = standaloneServer(d);
    const node = props.node;
    const hostname = a.hostnames[node.name] ?? node.name;
    const dbFile = `${SECRET_FILE_DIR}/${node.name}.db`;
    const loginFile = `${SECRET_FILE_DIR}/${node.name}.login`;
    const argv = runnerArgv({
      host: node.address,
      port: node.ssh.port,
      user: node.ssh.user,
      role: props.role,
      hostname,
      dbHost: server.address,
      dbPort: d.database.port,
      dbUser: d.database.user,
      dbPasswordFile: dbFile,
      loginPasswordFile: loginFile,
      privateKeyPath: node.ssh.privateKeyPath,
      promptPattern: a.promptPattern,
      loginTimeoutSeconds: a.loginTimeoutSeconds,
      commandTimeoutSeconds: a.commandTimeoutSeconds,
      redirectTimeoutSeconds: a.redirectTimeoutSeconds,
      hostKeyCheck: a.hostKeyCheck,
      knownHostsPath: a.knownHostsPath,
    });
    this.command = `${props.runner ?? DEFAULT_RUNNER} ${argv.map(shellWord).join(" ")}`;
    this.resource = new DataResource(this, "redirect", {
      triggersReplace: {
        node: node.name,
        address: node.address,
        role: props.role,
        hostname,
        db: `${d.database.user}@${server.address}:${d.database.port}`,
      },
      provisioners: [
        {
          type: "local-exec",
          command: terraformLiteral(applianceSecretFilesCommand(SECRET_FILE_DIR, dbFile, loginFile)),
          environment: {
            EMS_HA_DB_PASSWORD: props.secrets.dbPassword.stringValue,
            EMS_HA_APPLIANCE_PASSWORD: props.appliancePassword.stringValue,
          },
        },
        { type: "local-exec", command: terraformLiteral(this.command) },
      ],
      dependsOn: props.dependsOn,
    });
  }
}

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
          dependsOn: previous ? [previous.resource] : this.database.setup ? [this.database.setup] : undefined,
        }),
      );
    });
    if (d.fortigate) {
      this.fortigate = new FortiGateLb(this, "fortigate", { deployment: d, secrets: this.secrets, dependsOn: this.appliances.map((a) => a.resource) });
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
