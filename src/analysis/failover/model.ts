/** Picks a failover model by name. */
import type { FailoverInput, FailoverModelName, FailoverOutcome } from "./cluster";
import { repmgrFailover } from "./repmgr";
import { vendorFailover } from "./vendor";

export function failover(model: FailoverModelName, input: FailoverInput): FailoverOutcome {
  return model === "repmgr" ? repmgrFailover(input) : vendorFailover(input);
}

export function otherModel(model: FailoverModelName): FailoverModelName {
  return model === "repmgr" ? "vendor" : "repmgr";
}

/** Two outcomes disagree when they name a different primary after the failure. */
export function disagree(a: FailoverOutcome, b: FailoverOutcome): boolean {
  return a.newPrimary !== b.newPrimary;
}

/** The outcome in a few words, e.g. "pg-2 becomes primary" or "nobody (manual promotion)". */
export function shortOutcome(o: FailoverOutcome): string {
  if (o.rule === "primary-up") return `${o.primary} stays primary`;
  if (o.newPrimary) return `${o.newPrimary} becomes primary`;
  return o.manualPromotion ? `nobody: manual promotion of ${o.manualCandidate}` : "nobody: no data node is up";
}
