/**
 * The deployment's secrets as sensitive Terraform variables. They are never
 * config fields, so their values never reach the synthesized JSON.
 * Set them with TF_VAR_db_password, TF_VAR_repmgr_password, TF_VAR_fortigate_token
 * (and TF_VAR_symmetric_key for the native topology).
 */
import { TerraformVariable, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { IDeployStep } from "./deploy-step";

export interface SecretsProps {
  /** Declare fortigate_token. @default false */
  readonly fortigateToken?: boolean;
  /** Declare symmetric_key (native PostgreSQL topologies). @default false */
  readonly symmetricKey?: boolean;
  /** Declare repmgr_password. @default true */
  readonly repmgrPassword?: boolean;
}

export const SECRET_VARIABLES = {
  dbPassword: "db_password",
  repmgrPassword: "repmgr_password",
  fortigateToken: "fortigate_token",
  symmetricKey: "symmetric_key",
} as const;

/** A sensitive variable whose Terraform name is fixed, wherever the construct sits (TF_VAR_<name> works). */
function secretVariable(scope: Construct, name: string, description: string): TerraformVariable {
  const v = new TerraformVariable(scope, name, { type: "string", sensitive: true, nullable: false, description });
  v.overrideLogicalId(name);
  return v;
}

export class DeploymentSecrets extends Construct implements IDeployStep {
  /** Nothing to wait for: variables are inputs of the plan. Always empty. */
  public readonly done: ITerraformDependable[] = [];
  /** Password of the PostgreSQL user EMS connects as. */
  public readonly dbPassword: TerraformVariable;
  public readonly repmgrPassword?: TerraformVariable;
  public readonly fortigateToken?: TerraformVariable;
  public readonly symmetricKey?: TerraformVariable;

  constructor(scope: Construct, id: string, props: SecretsProps = {}) {
    super(scope, id);
    this.dbPassword = secretVariable(this, SECRET_VARIABLES.dbPassword, "Password of the PostgreSQL user EMS connects as (set TF_VAR_db_password).");
    if (props.repmgrPassword ?? true) {
      this.repmgrPassword = secretVariable(this, SECRET_VARIABLES.repmgrPassword, "Password of the repmgr user (set TF_VAR_repmgr_password).");
    }
    if (props.fortigateToken) {
      this.fortigateToken = secretVariable(this, SECRET_VARIABLES.fortigateToken, "FortiGate REST API token (set TF_VAR_fortigate_token).");
    }
    if (props.symmetricKey) {
      this.symmetricKey = secretVariable(
        this,
        SECRET_VARIABLES.symmetricKey,
        "Symmetric key of the EMS PostgreSQL extension, shared by the data nodes (set TF_VAR_symmetric_key).",
      );
    }
  }
}
