/**
 * ems-ha: CDK for Terraform constructs for FortiClient EMS high availability, the deployment
 * schema that validates their input, and the renderers behind them.
 *
 * ```ts
 * import { parseDeployment, PgHaNode, WitnessNode, EmsNode, FortiGateLb } from "ems-ha";
 * ```
 *
 * The same names are available from the subpaths `ems-ha/config`, `ems-ha/render` and
 * `ems-ha/constructs`; import `ems-ha/config` alone to validate input without loading cdktf.
 *
 * @module ems-ha
 */
export * from "./src/config";
export * from "./src/render";
export * from "./constructs";
// Both ems-ha/config (a semantic check) and ems-ha/render (the server of a standalone-db
// deployment) export standaloneServer; here it is the renderer's. The check stays available
// from ems-ha/config.
export { standaloneServer } from "./src/render";
