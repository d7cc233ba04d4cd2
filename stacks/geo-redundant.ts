/**
 * geo-redundant: "EMS nodes in HA with Postgres DB HA cluster for geo-redundancy". The Docker
 * PG HA cluster of single-region spread over data centres: every DB node, witnesses included,
 * carries its data centre as REPMGR_NODE_LOCATION; partner lists, add-hosts, --db_host lists
 * and node ids are all derived from the one cluster description, so the guide's copy error in
 * the region-2 witness (docs/background.md#errors-in-the-guide) cannot be made. EMS nodes install in config order (the first,
 * in the primary data centre, is the EMS primary) and the FortiGate follows.
 */
import { LiteralOutput } from "../constructs/literal-output";
import type { Construct } from "constructs";
import { locationOf, priorityOf, repmgrNodeId } from "../src/config/derive";
import type { Deployment } from "../src/config/schema";
import { SingleRegionStack } from "./single-region";

export class GeoRedundantStack extends SingleRegionStack {
  constructor(scope: Construct, id: string, d: Deployment) {
    super(scope, id, d);
    new LiteralOutput(this, "locations", {
      value: d.database.nodes.map((n) => `${n.name}: ${n.role}, location ${locationOf(n)}, priority ${priorityOf(n)}, repmgr node id ${repmgrNodeId(n)}`),
      description: "Each DB node's data centre, priority and repmgr node id as the containers get them",
    });
  }
}
