/** Deployments for the analysis tests, built from the examples. */
import geoExample from "../../examples/geo-redundant";
import singleExample from "../../examples/single-region";
import { parseDeployment } from "../../src/config/parse";
import { type Deployment, type DeploymentInput, deploymentSchema } from "../../src/config/schema";

export function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

/** sha256 of the text "ems-ha test": stands in for a real checksum where the examples carry zeros. */
export const TEST_SHA256 = "c35ff1a5d27d6710311263df9f1545b7d65e05e82ca8114622339028edb674ff";

/** The deployment with every placeholder checksum replaced by TEST_SHA256. */
export function withRealChecksums(input: DeploymentInput): DeploymentInput {
  return JSON.parse(JSON.stringify(input).replace(/"0{64}"/g, `"${TEST_SHA256}"`)) as DeploymentInput;
}

/** The geo example (real-looking checksums: the examples' zeros are a warning of their own). */
export function geoInput(): DeploymentInput {
  return withRealChecksums(clone(geoExample));
}

export function singleInput(): DeploymentInput {
  return withRealChecksums(clone(singleExample));
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
