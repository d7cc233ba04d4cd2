/**
 * The deployment schema (zod), its validation and the values derived from it. Free of cdktf:
 * import `ems-ha/config` to validate a deployment without the constructs.
 *
 * @module ems-ha/config
 */
export * from "./schema";
export * from "./errors";
export * from "./derive";
export * from "./semantics";
export * from "./parse";
export * from "./load";
export * from "./values";
export * from "./checksums";
export * from "./local-files";
export * from "./host-keys";
export * from "./state";
export * from "./deployments";
