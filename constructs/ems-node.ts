/**
 * EmsNode: installs FortiClient EMS on one host over SSH with Terraform's built-in
 * terraform_data and provisioners (no provider download), then checks the services
 * the guide lists for the node's role and fails the apply when one is missing.
 */
import { DataResource, type FileProvisioner, type ITerraformDependable, type RemoteExecProvisioner } from "cdktf";
import { Construct } from "constructs";
import { createHash } from "node:crypto";
import { dataNodes } from "../src/config/derive";
import type { Deployment, EmsNodeConfig } from "../src/config/schema";
import {
  DB_PASSWORD_FILE,
  EMS_STATE_DIR,
  INSTALL_SCRIPT_PATH,
  SECRET_DIR,
  installerPath,
  renderEmsInstallScript,
} from "../src/render/installer";
import { sshConnection, terraformLiteral } from "./connection";
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
  readonly dependsOn?: ITerraformDependable[];
}

export class EmsNode extends Construct {
  /** The terraform_data that runs the installer; use it in dependsOn. */
  public readonly resource: DataResource;
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
    const scriptHash = createHash("sha256").update(this.script).digest("hex");
    const src = d.installer.source;

    const provisioners: Array<FileProvisioner | RemoteExecProvisioner> = [
      {
        type: "remote-exec",
        inline: [`mkdir -p ${d.installer.installDir} ${EMS_STATE_DIR} && install -d -m 700 ${SECRET_DIR}`],
      },
    ];
    if (src.kind === "file") {
      provisioners.push({ type: "file", source: src.path, destination: installerPath(d) });
    }
    provisioners.push(
      // Terraform hides this provisioner's output because the content is sensitive; it prints nothing anyway.
      { type: "file", content: props.secrets.dbPassword.stringValue, destination: DB_PASSWORD_FILE },
      { type: "file", content: terraformLiteral(this.script), destination: INSTALL_SCRIPT_PATH },
      { type: "remote-exec", inline: [`chmod 700 ${INSTALL_SCRIPT_PATH}`, `bash ${INSTALL_SCRIPT_PATH}`] },
    );

    this.resource = new DataResource(this, "install", {
      triggersReplace: {
        node: props.node.name,
        address: props.node.address,
        version: d.installer.version,
        installerSha256: src.sha256,
        role: props.primary ? "primary" : "secondary",
        dbHosts: dbHosts.join(","),
        script: scriptHash,
      },
      connection: sshConnection(props.node, "10m"),
      provisioners,
      dependsOn: props.dependsOn,
    });
  }
}
