/** Deployments for the analysis tests, built from the examples. */
import geoExample from "../../examples/geo-redundant";
import singleExample from "../../examples/single-region";
import { parseDeployment } from "../../src/config/parse";
import { type Deployment, type DeploymentInput, deploymentSchema } from "../../src/config/schema";

export function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

export function geoInput(): DeploymentInput {
  return clone(geoExample);
}

export function singleInput(): DeploymentInput {
  return clone(singleExample);
}

export function parsed(input: DeploymentInput): Deployment {
  return parseDeployment(input);
}

/** Schema defaults only, without the semantic checks (so error rules can fire). */
export function schemaOnly(input: DeploymentInput): Deployment {
  return deploymentSchema.parse(input);
}

/** The geo deployment with every node in one shared location. */
export function geoOneLocation(): DeploymentInput {
  const g = geoInput();
  for (const n of g.database.nodes) delete n.location;
  // The geo stack requires per-DC locations (docs/background.md#errors-in-the-guide); as a what-if, the same hosts without them.
  g.topology = "single-region";
  return g;
}
