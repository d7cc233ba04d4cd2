/**
 * NativeRollingRestart: after every node of the native topology is set up, applies what needs a
 * PostgreSQL restart one node at a time (src/render/native/rolling.ts): one step per node and
 * round, each after the previous one, so Terraform's parallelism never restarts two nodes at once.
 * Round 1 (`--others`, every node) restarts the standbys and witnesses with a restart pending;
 * round 2 (`--primary`, the data nodes) switches the primary over to a restarted standby, which
 * restarts it as its standby. Who is primary is read live on the hosts, not taken from the
 * deployment, so the order holds after any failover.
 *
 * The steps re-run (and find what is pending) whenever a node's setup script changes; a re-apply
 * of an unchanged deployment, even after a failover, runs none of them and moves no primary.
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { Deployment } from "../src/config/schema";
import type { NativeMember } from "../src/render/native/layout";
import { renderRollingScript, ROLLING_SCRIPT, type RollingRound } from "../src/render/native/rolling";
import { sha256 } from "../src/render/native/setup-script";
import { dependables, type Dependency, type IDeployStep } from "./deploy-step";
import { RemoteScript } from "./remote-script";

/** A node of the stack: its member entry and the setup script it runs (NativePgNode, NativeWitnessNode). */
export interface RollingNode {
  readonly member: NativeMember;
  readonly script: string;
}

export interface NativeRollingRestartProps {
  /** The validated deployment (topology native-single-region). */
  readonly deployment: Deployment;
  /** Every DB node, in the order the rounds visit them (the setup order). */
  readonly nodes: ReadonlyArray<RollingNode>;
  /** What must be done first: every node's setup and the postgres SSH key exchange (the switchover needs it). */
  readonly dependsOn: ReadonlyArray<Dependency>;
}

export class NativeRollingRestart extends Construct implements IDeployStep {
  /** Every step in the order they run; the last one is what "restarts done" means in dependsOn. */
  public readonly steps: RemoteScript[] = [];

  constructor(scope: Construct, id: string, props: NativeRollingRestartProps) {
    super(scope, id);
    const d = props.deployment;
    // Any change to any node's setup may leave a restart pending somewhere: every step looks again.
    const generation = sha256(props.nodes.map((n) => `${n.member.name} ${sha256(n.script)}`).join("\n"));
    const rounds: Array<[RollingRound, string, ReadonlyArray<RollingNode>]> = [
      ["--others", "others", props.nodes],
      ["--primary", "primary", props.nodes.filter((n) => n.member.role === "data")],
    ];
    let previous: ITerraformDependable[] = dependables(props.dependsOn);
    for (const [round, label, nodes] of rounds) {
      for (const n of nodes) {
        const step = new RemoteScript(this, `${label}-${n.member.name}`, {
          host: n.member.config,
          policy: d.ssh,
          name: `native-rolling-${label}`,
          script: renderRollingScript(d, n.member),
          args: [round],
          installAs: ROLLING_SCRIPT,
          triggers: { node: n.member.name, round: label, generation },
          dependsOn: previous,
        });
        this.steps.push(step);
        previous = [step];
      }
    }
  }

  /** The last step: depend on it (or on the construct) to run after every restart. */
  public get done(): ITerraformDependable[] {
    return [this.steps[this.steps.length - 1]!];
  }
}
