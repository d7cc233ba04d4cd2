/**
 * StandalonePostgres: the remote PostgreSQL server of the standalone-db and vm-appliances
 * topologies (existing, or set up natively over SSH), and the check that it answers.
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { DbNodeConfig, Deployment } from "../src/config/schema";
import {
  EXTENSIONS_UPLOAD_PATH,
  STANDALONE_PASSWORD_FILE,
  renderDbReachableCheck,
  renderStandaloneDbScript,
  standaloneServer,
} from "../src/render/standalone-db";
import { RemoteScript } from "./remote-script";
import type { DeploymentSecrets } from "./secrets";

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
