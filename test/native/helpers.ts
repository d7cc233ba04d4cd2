/** Shared by the native topology tests: the example deployment and its synthesized stack. */
import { Testing } from "cdktf";
import example from "../../examples/native-single-region";
import { parseDeployment, type Deployment, type DeploymentInput } from "../../src/config";
import { NativeSingleRegionStack } from "../../stacks/native-single-region";

/** The example, validated, with optional changes to its input. */
export function exampleDeployment(change?: (input: DeploymentInput) => DeploymentInput): Deployment {
  const input = structuredClone(example) as DeploymentInput;
  return parseDeployment(change ? change(input) : input);
}

export function nativeStack(d: Deployment = exampleDeployment()): NativeSingleRegionStack {
  return new NativeSingleRegionStack(Testing.app(), "native-single-region", d);
}

/** The stack's Terraform JSON as an object. */
export function synthJson(d?: Deployment): { resource: Record<string, Record<string, any>>; variable: Record<string, any>; output: Record<string, any> } {
  return JSON.parse(Testing.synth(nativeStack(d)));
}

/** Dummy secret values used by the tests; none of them may appear in any output. */
export const DUMMY_SECRETS = {
  db_password: "Dummy-DB-pass-4821'x:y",
  repmgr_password: "Dummy-repmgr-pass-7713",
  symmetric_key: "0123456789abcdef0123",
} as const;
