/**
 * The stacks of the guide's topologies, for apps that want a whole topology as one stack
 * (`new SingleRegionStack(app, "ems", deployment)`), and the registry the ems-ha app uses.
 *
 * @module ems-ha/stacks
 */
export * from "./single-region";
export * from "./geo-redundant";
export * from "./standalone-db";
export * from "./vm-appliances";
export * from "./native-single-region";
export * from "./upgrade-7-4-4";
/** Moved to constructs/ems-chain.ts; re-exported for compatibility. */
export * from "../constructs/ems-chain";
export * from "./registry";
export * from "./backend";
