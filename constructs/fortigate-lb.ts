/**
 * FortiGateLb: the FortiGate in front of the EMS nodes (the guide's step 6): the TCP health
 * check, one server-load-balance VIP per EMS port with every EMS node as a real server, and
 * the firewall policy (plus one per extra EMS subnet).
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { Deployment, FortiGateConfig } from "../src/config/schema";
import { fortigateObjects, renderFortiOsCli, type FortiGateObjects } from "../src/render/fortios";
import { absoluteLocalPath } from "../src/config/local-files";
import { FirewallLdbmonitor, FirewallPolicy, FirewallSecurityPolicyseq, FirewallVip, FortiosProvider } from "./fortios/bindings";
import type { DeploymentSecrets } from "./secrets";
import { dependables, dependablesOrNone, resourcesUnder, type Dependency, type IDeployStep } from "./deploy-step";

export interface FortiGateLbProps {
  readonly deployment: Deployment;
  /** @default deployment.fortigate */
  readonly fortigate?: FortiGateConfig;
  /** Supplies fortigate_token; declare it with `new DeploymentSecrets(..., { fortigateToken: true })`. */
  readonly secrets: DeploymentSecrets;
  /** Configure the FortiGate after these (e.g. the EMS installs). @default none */
  readonly dependsOn?: ReadonlyArray<Dependency>;
  /**
   * A fortios provider of your own (for example one aliased per FortiGate).
   * @default a provider for fortigate.address, aliased "ems_ha" so it never clashes with yours
   */
  readonly provider?: FortiosProvider;
}

export class FortiGateLb extends Construct implements IDeployStep {
  public readonly provider: FortiosProvider;
  public readonly monitor: FirewallLdbmonitor;
  /** VIPs by port. */
  public readonly vips: ReadonlyMap<number, FirewallVip>;
  public readonly policies: ReadonlyArray<FirewallPolicy>;
  /** Moves the first policy before fortigate.placeBefore / after placeAfter, when one is given. */
  public readonly placement?: FirewallSecurityPolicyseq;
  /** The objects as data (also rendered as a CLI script by `cliScript`). */
  public readonly objects: FortiGateObjects;
  /** The same configuration as FortiOS CLI commands. */
  public readonly cliScript: string;
  /** Every FortiGate object it creates (health check, VIPs, policies, placements). */
  public readonly done: ITerraformDependable[];

  constructor(scope: Construct, id: string, props: FortiGateLbProps) {
    super(scope, id);
    const fg = props.fortigate ?? props.deployment.fortigate;
    if (!fg) throw new Error(`${id}: the deployment has no fortigate section; add one or leave FortiGateLb out`);
    if (!props.provider && !props.secrets.fortigateToken)
      throw new Error(`${id}: secrets has no fortigate_token; create DeploymentSecrets with { fortigateToken: true }`);
    this.objects = fortigateObjects(props.deployment, fg);
    this.cliScript = renderFortiOsCli(this.objects, fg.vdom);
    this.provider =
      props.provider ??
      new FortiosProvider(this, "provider", {
        hostname: fg.address,
        token: props.secrets.fortigateToken!.stringValue,
        // TLS is verified unless the deployment says verifyTls: false (ems-ha check warns then).
        insecure: !fg.verifyTls,
        cabundlefile: fg.caBundleFile ? absoluteLocalPath(fg.caBundleFile) : undefined,
        vdom: fg.vdom,
        alias: "ems_ha",
      });
    const after = dependables(props.dependsOn);
    const opts = { provider: this.provider, dependsOn: dependablesOrNone(props.dependsOn) };
    this.monitor = new FirewallLdbmonitor(this, "health-check", this.objects.monitor, opts);
    const vips = new Map<number, FirewallVip>();
    for (const v of this.objects.vips) {
      vips.set(Number(v.extport), new FirewallVip(this, `vip-${v.extport}`, v, { ...opts, dependsOn: [this.monitor, ...after] }));
    }
    this.vips = vips;
    this.policies = this.objects.policies.map(
      (p, i) => new FirewallPolicy(this, i === 0 ? "policy" : `policy-${i + 1}`, p, { ...opts, dependsOn: [...vips.values()] }),
    );
    const anchor = fg.placeBefore ?? fg.placeAfter;
    if (anchor !== undefined && this.policies.length > 0) {
      // The first policy goes right before (or after) the anchor; each further one right after the previous.
      const first = this.objects.policies[0]!.policyid;
      const position = fg.placeBefore !== undefined ? "before" : "after";
      this.placement = new FirewallSecurityPolicyseq(
        this,
        "placement",
        {
          policy_src_id: first,
          policy_dst_id: anchor,
          alter_position: position,
          enable_state_checking: true,
          comment: `ems-ha: ${fg.namePrefix} policy ${position} ${anchor}`,
        },
        { provider: this.provider, dependsOn: [...this.policies] },
      );
      this.cliScript += `config firewall policy\n    move ${first} ${position} ${anchor}\n${this.objects.policies
        .slice(1)
        .map((p, i) => `    move ${p.policyid} after ${this.objects.policies[i]!.policyid}\n`)
        .join("")}end\n`;
      let previous = first;
      let after: FirewallSecurityPolicyseq = this.placement;
      this.objects.policies.slice(1).forEach((p, i) => {
        after = new FirewallSecurityPolicyseq(
          this,
          `placement-${i + 2}`,
          {
            policy_src_id: p.policyid,
            policy_dst_id: previous,
            alter_position: "after",
            enable_state_checking: true,
            comment: `ems-ha: ${fg.namePrefix} policy after ${previous}`,
          },
          { provider: this.provider, dependsOn: [after] },
        );
        previous = p.policyid;
      });
    }
    this.done = resourcesUnder(this);
  }
}
