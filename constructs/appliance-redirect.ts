/**
 * ApplianceRedirect: one EMS VM appliance's redirect to the remote database, driven by
 * `ems-ha appliance run` from local-exec (the appliance's SSH login is a CLI, not a shell).
 */
import { DataResource, type ITerraformDependable, type TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { resolve } from "node:path";
import { appliancesSchema, type Deployment, type EmsNodeConfig } from "../src/config/schema";
import { applianceSecretFilesCommand, runnerArgv, shellWord, type ApplianceRole } from "../src/render/appliance";
import { standaloneServer } from "../src/render/standalone-db";
import { terraformLiteral } from "./connection";
import { dependablesOrNone, type Dependency, type IDeployStep } from "./deploy-step";
import type { DeploymentSecrets } from "./secrets";

/** Directory, relative to Terraform's working directory, of the one-run secret files. */
export const SECRET_FILE_DIR = ".ems-ha-secrets";
/** How local-exec starts the CLI: this checkout's bin/ems-ha.js under the node running Terraform's PATH. */
export const DEFAULT_RUNNER = `node ${resolve(__dirname, "..", "bin", "ems-ha.js")}`;

export interface ApplianceRedirectProps {
  /** The validated deployment (topology vm-appliances). */
  readonly deployment: Deployment;
  /** The appliance, one of deployment.emsNodes. */
  readonly node: EmsNodeConfig;
  /** "primary" (deploys the EMS database; redirect first) or "secondary". */
  readonly role: ApplianceRole;
  /** Supplies db_password. */
  readonly secrets: DeploymentSecrets;
  /** The sensitive variable holding the appliances' CLI login password. */
  readonly appliancePassword: TerraformVariable;
  /** The command that starts ems-ha. @default DEFAULT_RUNNER */
  readonly runner?: string;
  /** What must be done first (the database, the previous appliance). @default none */
  readonly dependsOn?: ReadonlyArray<Dependency>;
}

/**
 * One appliance's redirect: a local-exec that writes the two secrets to 0600 files (its output
 * is suppressed because its environment is sensitive; it prints nothing), then a local-exec that
 * runs the runner, whose output stays visible. The runner deletes the files once read.
 */
export class ApplianceRedirect extends Construct implements IDeployStep {
  /** The terraform_data that runs the redirect. */
  public readonly resource: DataResource;
  /** The redirect step. */
  public readonly done: ITerraformDependable[];
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
      dependsOn: dependablesOrNone(props.dependsOn),
    });
    this.done = [this.resource];
  }
}
