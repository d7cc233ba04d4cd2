/**
 * FortiGateLb: the FortiGate in front of the EMS nodes (the guide's step 6): the TCP health
 * check, one server-load-balance VIP per EMS port with every EMS node as a real server, and
 * the firewall policy (plus one per extra EMS subnet).
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { Deployment, FortiGateConfig } from "../src/config/schema";
import { fortigateObjects, renderFortiOsCli, type FortiGateObjects } from "../src/render/fortios";
import { FirewallLdbmonitor, FirewallPolicy, FirewallVip, FortiosProvider } from "./fortios/bindings";
import type { DeploymentSecrets } from "./secrets";

export interface FortiGateLbProps {
  readonly deployment: Deployment;
  /** @default deployment.fortigate */
  readonly fortigate?: FortiGateConfig;
  /** Supplies fortigate_token; declare it with `new DeploymentSecrets(..., { fortigateToken: true })`. */
  readonly secrets: DeploymentSecrets;
  /** Configure the FortiGate after these (e.g. the EMS installs). @default none */
  readonly dependsOn?: ITerraformDependable[];
  /**
   * A fortios provider of your own (for example one aliased per FortiGate).
   * @default a provider for fortigate.address, aliased "ems_ha" so it never clashes with yours
   */
  readonly provider?: FortiosProvider;
}

export class FortiGateLb extends Construct {
  public readonly provider: FortiosProvider;
  public readonly monitor: FirewallLdbmonitor;
  /** VIPs by port. */
  public readonly vips: ReadonlyMap<number, FirewallVip>;
  public readonly policies: ReadonlyArray<FirewallPolicy>;
  /** The objects as data (also rendered as a CLI script by `cliScript`). */
  public readonly objects: FortiGateObjects;
  /** The same configuration as FortiOS CLI commands. */
  public readonly cliScript: string;

  constructor(scope: Construct, id: string, props: FortiGateLbProps) {
    super(scope, id);
    const fg = props.fortigate ?? props.deployment.fortigate;
    if (!fg) throw new Error(`${id}: the deployment has no fortigate section; add one or leave FortiGateLb out`);
    if (!props.provider && !props.secrets.fortigateToken) throw new Error(`${id}: secrets has no fortigate_token; create DeploymentSecrets with { fortigateToken: true }`);
    this.objects = fortigateObjects(props.deployment, fg);
    this.cliScript = renderFortiOsCli(this.objects, fg.vdom);
    this.provider =
      props.provider ??
      new FortiosProvider(this, "provider", {
        hostname: fg.address,
        token: props.secrets.fortigateToken!.stringValue,
        insecure: !fg.verifyTls,
        cabundlefile: fg.caBundleFile,
        vdom: fg.vdom,
        alias: "ems_ha",
      });
    const opts = { provider: this.provider, dependsOn: props.dependsOn };
    this.monitor = new FirewallLdbmonitor(this, "health-check", this.objects.monitor, opts);
    const vips = new Map<number, FirewallVip>();
    for (const v of this.objects.vips) {
      vips.set(Number(v.extport), new FirewallVip(this, `vip-${v.extport}`, v, { ...opts, dependsOn: [this.monitor, ...(props.dependsOn ?? [])] }));
    }
    this.vips = vips;
    this.policies = this.objects.policies.map(
      (p, i) => new FirewallPolicy(this, i === 0 ? "policy" : `policy-${i + 1}`, p, { ...opts, dependsOn: [...vips.values()] }),
    );
  }
}
