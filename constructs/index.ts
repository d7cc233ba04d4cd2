/**
 * The cdktf constructs. Each takes `(scope, id, props)` with a validated deployment
 * (from `ems-ha/config`) and renders its content through `ems-ha/render`; the composites
 * (DockerPgHaCluster, NativePgHaCluster, EmsCluster, DockerUpgrade744) take `(scope, props)` and add their
 * constructs into `scope`. Every one exposes `done` (IDeployStep) to be depended on.
 *
 * @module ems-ha/constructs
 */
export * from "./deploy-step";
export * from "./node-ref";
export * from "./pg-ha-node";
export * from "./docker-host-prepare";
export * from "./docker-ssh-node";
export * from "./docker-db-node";
export * from "./docker-reconcile";
export * from "./primary-ready";
export * from "./ems-node";
export * from "./fortigate-lb";
export * from "./native-node";
export * from "./native-ssh-keys";
export * from "./native-rolling-restart";
export * from "./secrets";
export * from "./connection";
export * from "./fortios/bindings";
export * from "./remote-script";
export * from "./literal-output";
export * from "./docker-pg-ha-cluster";
export * from "./native-pg-ha-cluster";
export * from "./ems-cluster";
export * from "./ems-chain";
export * from "./docker-deployment";
export * from "./standalone-postgres";
export * from "./appliance-redirect";
export * from "./upgrade-node-step";
export * from "./docker-upgrade-744";
