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
import { dependablesOrNone, type Dependency, type IDeployStep } from "./deploy-step";
import { RemoteScript } from "./remote-script";
import type { DeploymentSecrets } from "./secrets";

export interface StandalonePostgresProps {
  /** The validated deployment (topology standalone-db or vm-appliances, with a `standalone` section). */
  readonly deployment: Deployment;
  /** Supplies db_password (managed mode: the password the setup gives the EMS user). */
  readonly secrets: DeploymentSecrets;
}

/**
 * The remote PostgreSQL server. Managed: one terraform_data runs the idempotent setup script on
 * the server (the DB password arrives as a sensitive file the script deletes). Existing: nothing.
 */
export class StandalonePostgres extends Construct implements IDeployStep {
  /** The server (database.nodes[0]). */
  public readonly server: DbNodeConfig;
  /** The setup step (managed mode only); EMS depends on it. */
  public readonly setup?: RemoteScript;
  /** The setup script (managed mode only; no secrets in it). */
  public readonly script?: string;
  /** The setup step in managed mode; empty for an existing server (nothing to wait for). */
  public readonly done: ITerraformDependable[] = [];

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
    this.done.push(this.setup);
  }
}

export interface DbReachableProps {
  /** The validated deployment: the check runs on emsNodes[0] against database.nodes[0]. */
  readonly deployment: Deployment;
  /** What must be ready first (the StandalonePostgres). @default none */
  readonly dependsOn?: ReadonlyArray<Dependency>;
}

/**
 * A bounded check, on the first EMS node, that the DB server answers on its port. It is the
 * step itself (a RemoteScript), so its Terraform address is `terraform_data.<id>`.
 */
export class DbReachable extends RemoteScript {
  constructor(scope: Construct, id: string, props: DbReachableProps) {
    const d = props.deployment;
    const server = standaloneServer(d);
    const from = d.emsNodes[0]!;
    super(scope, id, {
      host: from,
      policy: d.ssh,
      name: "db-reachable",
      script: `#!/usr/bin/env bash\n${renderDbReachableCheck(server.address, d.database.port)}\n`,
      triggers: { from: from.address, server: server.address, port: String(d.database.port) },
      // A check needs no root.
      sudo: false,
      dependsOn: dependablesOrNone(props.dependsOn),
    });
  }
}

/** @deprecated use `new DbReachable(scope, id, { deployment, dependsOn })`. */
export function dbReachableFrom(scope: Construct, id: string, d: Deployment, dependsOn: ITerraformDependable[]): RemoteScript {
  return new DbReachable(scope, id, { deployment: d, dependsOn });
}
