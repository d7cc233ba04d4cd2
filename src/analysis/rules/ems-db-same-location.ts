import { initialPrimary, locationOf } from "../../config/derive";
import type { TopologyRule } from "./rule";

/** The EMS primary (first EMS node) and the initial DB primary should share a data centre. */
export const emsDbSameLocation: TopologyRule = {
  id: "ems-db-same-location",
  level: "warning",
  summary: "the EMS primary and the DB primary are preferred in the same location",
  check: (d) => {
    const ems = d.emsNodes[0];
    const db = initialPrimary(d);
    if (!ems || ems.location === locationOf(db)) return [];
    return [
      {
        nodes: [ems.name, db.name],
        message: `the EMS primary ${ems.name} is in location ${ems.location} but the DB primary ${db.name} is in ${locationOf(db)}; every EMS query crosses between them (the guide: performance degrades)`,
        fix: `list an EMS node of ${locationOf(db)} first in emsNodes, or make a data node of ${ems.location} the initialPrimary; give EMS nodes the same location names as DB nodes`,
      },
    ];
  },
};
