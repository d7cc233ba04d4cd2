export * from "./xml";
export * from "./topology-svg";
export * from "./deployment-order";
export * from "./markdown";
export * from "./md";
