/**
 * EmsNode: installs FortiClient EMS on one host over SSH with Terraform's built-in
 * terraform_data and provisioners (no provider download), then checks the services
 * the guide lists for the node's role and fails the apply when one is missing.
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { dataNodes } from "../src/config/derive";
import type { Deployment, EmsNodeConfig } from "../src/config/schema";
import { DB_PASSWORD_FILE, installerPath, renderEmsInstallScript } from "../src/render/installer";
import { dependablesOrNone, type Dependency, type IDeployStep } from "./deploy-step";
import { RemoteScript } from "./remote-script";
import type { DeploymentSecrets } from "./secrets";

export interface EmsNodeProps {
  /** The validated deployment. */
  readonly deployment: Deployment;
  /** The EMS host to install. */
  readonly node: EmsNodeConfig;
  /** The first EMS node is the primary: it deploys the EMS database; the others pass --skip_db_deploy. */
  readonly primary: boolean;
  /** Where the DB password comes from (a sensitive variable). */
  readonly secrets: DeploymentSecrets;
  /**
   * Hosts passed as --db_host.
   * @default the addresses of every data node, in config order
   */
  readonly dbHosts?: ReadonlyArray<string>;
  /** What must exist before this node installs (the DB primary, or the first EMS node). @default none */
  readonly dependsOn?: ReadonlyArray<Dependency>;
}

export class EmsNode extends Construct implements IDeployStep {
  /** The terraform_data that runs the installer. */
  public readonly resource: RemoteScript;
  /** The install step: the node is done once EMS is installed and its services checked. */
  public readonly done: ITerraformDependable[];
  /** The install script this node runs (no secrets in it). */
  public readonly script: string;
  /** The EMS host this construct installs. */
  public readonly host: EmsNodeConfig;
  public readonly primary: boolean;

  constructor(scope: Construct, id: string, props: EmsNodeProps) {
    super(scope, id);
    const d = props.deployment;
    this.host = props.node;
    this.primary = props.primary;
    const dbHosts = props.dbHosts ?? dataNodes(d).map((n) => n.address);
    this.script = renderEmsInstallScript(d, props.node, { primary: props.primary, dbHosts });
    const src = d.installer.source;
    this.resource = new RemoteScript(this, "install", {
      host: props.node,
      policy: d.ssh,
      name: "install-ems",
      script: this.script,
      // The install script reads the password from DB_PASSWORD_FILE; the runner places it there and removes it afterwards.
      secretFiles: [{ name: "db_password", content: props.secrets.dbPassword.stringValue, path: DB_PASSWORD_FILE }],
      uploads: src.kind === "file" ? [{ source: src.path, destination: installerPath(d), sha256: src.sha256 }] : [],
      triggers: {
        node: props.node.name,
        address: props.node.address,
        version: d.installer.version,
        installerSha256: src.sha256,
        role: props.primary ? "primary" : "secondary",
        dbHosts: dbHosts.join(","),
      },
      timeout: "10m",
      dependsOn: dependablesOrNone(props.dependsOn),
    });
    this.done = [this.resource];
  }
}
