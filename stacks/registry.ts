/** Topology name -> stack class. Each topology of the guide is one stack id. */
import type { Construct } from "constructs";
import type { TerraformStack } from "cdktf";
import type { Deployment, Topology } from "../src/config/schema";
import { SingleRegionStack } from "./single-region";
import { GeoRedundantStack } from "./geo-redundant";
import { StandaloneDbStack } from "./standalone-db";
import { VmAppliancesStack } from "./vm-appliances";
import { Upgrade744Stack } from "./upgrade-7-4-4";
import { NativeSingleRegionStack } from "./native-single-region";

export type StackFactory = (scope: Construct, id: string, deployment: Deployment) => TerraformStack;

export const STACKS: Partial<Record<Topology, StackFactory>> = {
  "single-region": (s, id, d) => new SingleRegionStack(s, id, d),
  "geo-redundant": (s, id, d) => new GeoRedundantStack(s, id, d),
  "standalone-db": (s, id, d) => new StandaloneDbStack(s, id, d),
  "vm-appliances": (s, id, d) => new VmAppliancesStack(s, id, d),
  "upgrade-7-4-4": (s, id, d) => new Upgrade744Stack(s, id, d),
  "native-single-region": (s, id, d) => new NativeSingleRegionStack(s, id, d),
};
