/**
 * Acme's cdktf app: Acme's stack, backend, provider and construct ids, with an EMS HA cluster
 * composed from the ems-ha constructs next to a container Acme already ran.
 *
 * Build and synthesize: `npx tsc && node main.js` (or `cdktf synth`, which runs the same).
 */
import { Container } from "@cdktf/provider-docker/lib/container";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { App, LocalBackend, TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { DeploymentSecrets, EmsNode, FortiGateLb, PgHaNode, PrimaryReady, WitnessNode } from "ems-ha";
import { initialPrimary, parseDeployment, type DbNodeConfig, type Deployment } from "ems-ha/config";
import { dockerRunCommand } from "ems-ha/render";
import ledgerInput from "./deployment";

/** A DB node of the deployment by name (Acme's deployment file names them). */
function nodeNamed(deployment: Deployment, name: string): DbNodeConfig {
  const node = deployment.database.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`deployment.ts: no database node "${name}"; add it to database.nodes`);
  return node;
}

/** Acme's stack: its own state location, its own docker host, and the EMS cluster. */
export class LedgerStack extends TerraformStack {
  public readonly databases: PgHaNode[];
  public readonly witness: WitnessNode;
  public readonly ems: EmsNode[];

  constructor(scope: Construct, id: string, deployment: Deployment) {
    super(scope, id);
    new LocalBackend(this, { path: "state/ledger.tfstate" });

    // Acme's own provider: the operations docker host, unrelated to the EMS database hosts.
    const opsDocker = new DockerProvider(this, "acme-ops-docker", { alias: "acme_ops", host: "tcp://ops.acme.example:2376" });

    // Secrets are sensitive variables at stack level: TF_VAR_db_password, TF_VAR_repmgr_password, TF_VAR_fortigate_token.
    const secrets = new DeploymentSecrets(this, "ledger-secrets", { fortigateToken: true });

    // The cluster, in the guide's order, under Acme's construct ids. Each construct takes the
    // node object it builds, and `dependsOn` takes the constructs to wait for (their `done`).
    const [db1, db2, dbw3] = [initialPrimary(deployment), nodeNamed(deployment, "ledger-db-2"), nodeNamed(deployment, "ledger-dbw-3")];
    const primary = new PgHaNode(this, "ledger-db-primary", { deployment, node: db1, secrets });
    const standby = new PgHaNode(this, "ledger-db-standby", { deployment, node: db2, secrets, dependsOn: [primary] });
    this.databases = [primary, standby];
    this.witness = new WitnessNode(this, "ledger-db-witness", { deployment, node: dbw3, secrets, dependsOn: this.databases });
    const ready = new PrimaryReady(this, "ledger-db-ready", {
      primary: primary.dbNode,
      port: deployment.database.port,
      user: deployment.database.user,
      dependsOn: [...this.databases, this.witness],
    });
    const [emsA, emsB] = deployment.emsNodes;
    const emsPrimary = new EmsNode(this, "ledger-ems-a", { deployment, node: emsA!, primary: true, secrets, dependsOn: [ready] });
    const emsSecondary = new EmsNode(this, "ledger-ems-b", { deployment, node: emsB!, primary: false, secrets, dependsOn: [emsPrimary] });
    this.ems = [emsPrimary, emsSecondary];
    new FortiGateLb(this, "ledger-edge", { deployment, secrets, dependsOn: this.ems });

    // Acme's existing metrics exporter, now pointed at the new primary, started after its container.
    new Container(this, "acme-db-exporter", {
      provider: opsDocker,
      name: "acme-ledger-pg-exporter",
      image: "quay.io/prometheuscommunity/postgres-exporter:v0.15.0",
      env: [`DATA_SOURCE_URI=${primary.address}:${deployment.database.port}/postgres?sslmode=disable`],
      dependsOn: primary.done,
    });

    new TerraformOutput(this, "acme_db_addresses", { value: this.databases.map((n) => n.address) });
    new TerraformOutput(this, "acme_docker_run", { value: [...this.databases, this.witness].map((n) => dockerRunCommand(n.spec)) });
  }
}

/** Builds the app; the output goes to `outdir` (cdktf.out unless CDKTF_OUTDIR says otherwise). */
export function synthLedger(outdir = process.env.CDKTF_OUTDIR ?? "cdktf.out"): string {
  const app = new App({ outdir });
  new LedgerStack(app, "acme-ledger", parseDeployment(ledgerInput, "deployment.ts"));
  app.synth();
  return outdir;
}

if (require.main === module) {
  process.stdout.write(`synthesized to ${synthLedger()}\n`);
}
