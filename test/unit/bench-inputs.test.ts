import { describe, expect, it } from "vitest";
import { scaledDeployment } from "../../bench/synth";
import { validateDeployment } from "../../src/config/parse";

// `npm run bench` synthesizes these deployments; one the schema refuses makes the bench exit 2
// (it did once the EMS node limit came in and the x10 case still asked for 20 EMS nodes).
describe("bench inputs", () => {
  it.each([1, 10])("the single-region deployment scaled x%i is one the schema accepts", (factor) => {
    const r = validateDeployment(scaledDeployment(factor));
    expect(r.issues).toEqual([]);
    expect(r.ok).toBe(true);
  });
});
