/**
 * The cdktf constructs. Each takes `(scope, id, props)` with a validated deployment
 * (from `ems-ha/config`) and renders its content through `ems-ha/render`.
 *
 * @module ems-ha/constructs
 */
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
export * from "./secrets";
export * from "./connection";
export * from "./fortios/bindings";
export * from "./remote-script";
export * from "./literal-output";
