/**
 * `ems-ha check` runs every validation synth runs: a deployment check accepts must synthesize
 * (the topology rules at synth and the topology's stack) without an error. Generated with the
 * hostile-deployment generator (seeded); synthesis is slow, so the accepted ones of a bounded
 * sample are synthesized, plus the cases that used to pass check and fail only at synth.
 */
import { Testing } from "cdktf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import nativeExample from "../../examples/native-single-region";
import singleExample from "../../examples/single-region";
import { checkDeployment } from "../../src/analysis/check";
import { synthFindings } from "../../src/analysis/rules";
import { STACKS } from "../../stacks/registry";
import { hostileDeployment, type Json } from "./hostile-deployments";

const SEED = 4242;
/** Accepted deployments synthesized (each takes about a second). */
const SYNTHS = 30;

function synth(input: Json): void {
  const r = checkDeployment(input);
  expect(r.errors, JSON.stringify(r.errors)).toEqual([]);
  const d = r.deployment!;
  synthFindings(d, () => undefined);
  const stack = STACKS[d.topology]!(Testing.app(), d.topology, d);
  expect(Testing.synth(stack).length).toBeGreaterThan(0);
}

describe("check accepts => synth succeeds", () => {
  it(`synthesizes the first ${SYNTHS} accepted generated deployments`, () => {
    const accepted = fc
      .sample(hostileDeployment, { seed: SEED, numRuns: 3000 })
      .map((x) => x.input)
      .filter((input) => checkDeployment(input).errors.length === 0)
      .slice(0, SYNTHS);
    expect(accepted).toHaveLength(SYNTHS);
    for (const input of accepted) synth(input);
  }, 180_000);

  it("what synth used to find alone is now a check error", () => {
    const clone = <T>(x: T): Json => JSON.parse(JSON.stringify(x));
    const nativeDup = clone(nativeExample);
    nativeDup.database.nodes[0].nodeId = 2;
    const badPrimary = clone(singleExample);
    badPrimary.database.initialPrimary = "pgw-1";
    const noStandalone = clone(singleExample);
    noStandalone.topology = "standalone-db";
    noStandalone.database.nodes = [noStandalone.database.nodes[0]];
    for (const [input, rule] of [
      [nativeDup, "unique-node-ids"],
      [badPrimary, "initial-primary-is-data"],
      [noStandalone, "standalone-server"],
    ] as const) {
      expect(checkDeployment(input).errors.map((e) => e.ruleId)).toContain(rule);
    }
  });
});
