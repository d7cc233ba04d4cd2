/** Plan review: a Terraform plan (JSON) read in HA terms, for pull-request comments and CI gates. */
export * from "./analyze";
export * from "./findings";
export * from "./markdown";
export * from "./plan-json";
export * from "./resource-classes";
export * from "./values";
export * from "./plan-runner";
