/** Analysis of a deployment before anything is deployed: failover models, topology rules, RTO budget, review report. */
export * from "./failover";
export * from "./rules";
export * from "./rto";
export * from "./report";
export * from "./check";
