/**
 * The renderers: pure functions from a validated deployment to configuration text, scripts,
 * command lines and FortiOS objects. No cdktf here; use them from any tool.
 *
 * @module ems-ha/render
 */
export * from "./bitnami";
export * from "./checklist";
export * from "./docker-host";
export * from "./ems-services";
export * from "./fortios";
export * from "./installer";
export * from "./pgtune";
