/** Topology name -> stack class. Each topology of the guide is one stack id. */
import type { Construct } from "constructs";
import type { TerraformStack } from "cdktf";
import type { Deployment, Topology } from "../src/config/schema";
import { SingleRegionStack } from "./single-region";

export type StackFactory = (scope: Construct, id: string, deployment: Deployment) => TerraformStack;

export const STACKS: Partial<Record<Topology, StackFactory>> = {
  "single-region": (s, id, d) => new SingleRegionStack(s, id, d),
};
