export * from "./schema";
export * from "./errors";
export * from "./derive";
export * from "./semantics";
export * from "./parse";
export * from "./load";
