export * from "./cluster";
export * from "./repmgr";
export * from "./vendor";
export * from "./model";
export * from "./scenarios";
