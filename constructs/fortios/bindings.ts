/**
 * Typed cdktf bindings for the few fortinetdev/fortios resources the toolkit uses, written
 * here because no prebuilt cdktf provider exists for FortiOS. Attribute names follow the
 * provider's schema (docs/background.md#the-fortios-provider); values come from src/render/fortios.ts.
 */
import { TerraformProvider, TerraformResource, type TerraformResourceLifecycle, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { LbPolicy, LbVip, LdbMonitor } from "../../src/render/fortios";

export const FORTIOS_SOURCE = "fortinetdev/fortios";
export const FORTIOS_VERSION = "~> 1.25";

export interface FortiosProviderConfig {
  /** FortiGate address (FORTIOS_ACCESS_HOSTNAME). */
  readonly hostname: string;
  /** REST API token (FORTIOS_ACCESS_TOKEN); pass a sensitive variable's value. */
  readonly token: string;
  /** Skip TLS verification (the token then goes to whoever answers). @default false: verify against cabundlefile */
  readonly insecure?: boolean;
  readonly cabundlefile?: string;
  readonly vdom?: string;
  readonly alias?: string;
}

export class FortiosProvider extends TerraformProvider {
  private aliasName?: string;

  /** The provider alias; resources name it as fortios.<alias>. */
  public get alias(): string | undefined {
    return this.aliasName;
  }

  public set alias(value: string | undefined) {
    this.aliasName = value;
  }

  constructor(
    scope: Construct,
    id: string,
    private readonly config: FortiosProviderConfig,
  ) {
    super(scope, id, {
      terraformResourceType: "fortios",
      terraformGeneratorMetadata: { providerName: "fortios", providerVersionConstraint: FORTIOS_VERSION },
      terraformProviderSource: FORTIOS_SOURCE,
    });
    this.alias = config.alias;
  }

  protected synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return {
      hostname: c.hostname,
      token: c.token,
      insecure: c.insecure ?? false,
      cabundlefile: c.cabundlefile,
      vdom: c.vdom,
    };
  }
}

/** Meta-arguments of the FortiOS resources. */
export interface FortiosResourceOptions {
  readonly provider?: TerraformProvider;
  readonly dependsOn?: ITerraformDependable[];
  readonly lifecycle?: TerraformResourceLifecycle;
}

/** Base of the bindings: a resource whose attributes are given in the provider's snake_case names. */
abstract class FortiosResource<T extends object> extends TerraformResource {
  protected constructor(
    scope: Construct,
    id: string,
    type: string,
    protected readonly attrs: T,
    opts: FortiosResourceOptions,
  ) {
    super(scope, id, {
      terraformResourceType: type,
      terraformGeneratorMetadata: { providerName: "fortios", providerVersionConstraint: FORTIOS_VERSION },
      provider: opts.provider,
      dependsOn: opts.dependsOn,
      lifecycle: opts.lifecycle,
    });
  }

  protected synthesizeAttributes(): Record<string, unknown> {
    return { ...(this.attrs as Record<string, unknown>) };
  }
}

/** fortios_firewall_ldbmonitor: the load balancer's health check. */
export class FirewallLdbmonitor extends FortiosResource<LdbMonitor> {
  static readonly tfResourceType = "fortios_firewall_ldbmonitor";
  constructor(scope: Construct, id: string, attrs: LdbMonitor, opts: FortiosResourceOptions = {}) {
    super(scope, id, FirewallLdbmonitor.tfResourceType, attrs, opts);
  }
}

/** fortios_firewall_vip: one server-load-balance virtual server. */
export class FirewallVip extends FortiosResource<LbVip> {
  static readonly tfResourceType = "fortios_firewall_vip";
  constructor(scope: Construct, id: string, attrs: LbVip, opts: FortiosResourceOptions = {}) {
    super(scope, id, FirewallVip.tfResourceType, attrs, opts);
  }
}

/** fortios_firewall_policy: the policy that lets clients reach the VIPs. */
export class FirewallPolicy extends FortiosResource<LbPolicy> {
  static readonly tfResourceType = "fortios_firewall_policy";
  constructor(scope: Construct, id: string, attrs: LbPolicy, opts: FortiosResourceOptions = {}) {
    super(scope, id, FirewallPolicy.tfResourceType, attrs, opts);
  }
}

/**
 * fortios_firewall_security_policyseq: moves policy `policy_src_id` before or after policy
 * `policy_dst_id` (a new policy is appended at the bottom of the list, where a broader policy
 * above can shadow it). `enable_state_checking` makes a refresh see a policy moved by hand.
 */
export interface PolicySeq {
  readonly policy_src_id: number;
  readonly policy_dst_id: number;
  readonly alter_position: "before" | "after";
  readonly enable_state_checking?: boolean;
  readonly comment?: string;
}

export class FirewallSecurityPolicyseq extends FortiosResource<PolicySeq> {
  static readonly tfResourceType = "fortios_firewall_security_policyseq";
  constructor(scope: Construct, id: string, attrs: PolicySeq, opts: FortiosResourceOptions = {}) {
    super(scope, id, FirewallSecurityPolicyseq.tfResourceType, attrs, opts);
  }
}
