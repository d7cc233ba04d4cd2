/** Valid example deployments, and copies with fields replaced by hostile values (schema bypassed on purpose). */
import singleRegion from "../../../examples/single-region";
import upgrade from "../../../examples/upgrade-7-4-4";
import standalone from "../../../examples/standalone-db";
import native from "../../../examples/native-single-region";
import { parseDeployment, type Deployment, type DeploymentInput } from "../../../src/config";

const EXAMPLES = { "single-region": singleRegion, "upgrade-7-4-4": upgrade, "standalone-db": standalone, "native-single-region": native } as const;
export type ExampleName = keyof typeof EXAMPLES;

/** The validated example. */
export function example(name: ExampleName): Deployment {
  return parseDeployment(structuredClone(EXAMPLES[name]) as DeploymentInput);
}

/**
 * The validated example with `change` applied AFTER validation: the renderers see values the
 * schema would reject, so what is tested is their own escaping.
 */
export function hostile(name: ExampleName, change: (d: any) => void): Deployment {
  const d = structuredClone(example(name)) as any;
  change(d);
  return d as Deployment;
}
