import { DOCKER_TOPOLOGIES } from "../../config/semantics";
import type { TopologyRule } from "./rule";

/**
 * Synchronous replication with the Docker image: the image writes synchronous_standby_names only on
 * the initial primary's first boot, into a postgresql.conf it regenerates at every start, so the
 * cluster is asynchronous again after a container restart or a failover
 * (docs/reliability.md#synchronous-replication-with-the-docker-image).
 */
export const synchronousReplicationDocker: TopologyRule = {
  id: "synchronous-replication-docker",
  level: "warning",
  summary: "with the Docker image, synchronous replication holds only until a restart or failover",
  check: (d) => {
    if (!DOCKER_TOPOLOGIES.has(d.topology) || d.database.synchronousReplication.mode === "off") return [];
    const data = d.database.nodes.filter((n) => n.role === "data").map((n) => n.name);
    return [
      {
        nodes: data,
        message:
          "the image applies database.synchronousReplication on the initial primary's first boot only: after a container restart or a failover commits no longer wait for a standby (ems-ha status then reports an empty synchronous_standby_names)",
        fix: "use topology native-single-region for synchronous replication that survives restarts and failovers, or acknowledge this rule",
      },
    ];
  },
};
