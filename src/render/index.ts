/**
 * The renderers: pure functions from a validated deployment to configuration text, scripts,
 * command lines and FortiOS objects. No cdktf here; use them from any tool.
 *
 * @module ems-ha/render
 */
export * from "./bitnami";
export * from "./candidate-rank";
export * from "./checklist";
export * from "./docker-cli";
export * from "./docker-membership";
export * from "./docker-host";
export * from "./docker-reconcile";
export * from "./election-repair";
export * from "./ems-services";
export * from "./failover-validation";
export * from "./fortios";
export * from "./installer";
export * from "./pgtune";
export * from "./prometheus";
export * from "./replay-timeline";
export * from "./slot-cap";
export * from "./escape";
export * from "./standalone-db";
// standalone-db.ts and native/pg-hba.ts both name their pg_hba.conf markers HBA_BEGIN/HBA_END:
// the native ones keep the names, the standalone ones get a prefix.
export { HBA_BEGIN, HBA_END } from "./native/pg-hba";
export { HBA_BEGIN as STANDALONE_HBA_BEGIN, HBA_END as STANDALONE_HBA_END } from "./standalone-db";
export * from "./upgrade";
export * from "./appliance";
export * from "./native/layout";
export * from "./native/membership";
export * from "./native/pg-hba";
export * from "./native/postgresql-conf";
export * from "./native/reconcile";
export * from "./native/repmgr-conf";
export * from "./native/repmgrd";
export * from "./native/rolling";
export * from "./native/setup-lib";
export * from "./native/setup-script";
export * from "./native/shell";
export * from "./native/synchronous";
