/**
 * Every failure worth asking about, for each node that can be primary: each single
 * node, each pair of nodes and each whole location. Results print as the guide's
 * failover table (one status column per data node, notes with the reason).
 */
import { initialPrimary } from "../../config/derive";
import type { Deployment } from "../../config/schema";
import { mdKeepCode, mdText } from "../report/md";
import { type ClusterNode, type FailoverModelName, type FailoverOutcome, isCandidate } from "./cluster";
import { disagree, failover, otherModel, shortOutcome } from "./model";

export interface Scenario {
  /** e.g. "pg-1 (the primary) and pg-2 become unavailable" */
  readonly label: string;
  readonly primary: string;
  /** Down nodes in cluster order. */
  readonly down: ReadonlyArray<string>;
}

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly outcome: FailoverOutcome;
  /** The same scenario under the other model. */
  readonly other: FailoverOutcome;
}

/** The JSON form `ems-ha scenarios --json` prints. */
export interface ScenarioJson {
  readonly primary: string;
  readonly down: string[];
  readonly newPrimary: string | null;
  readonly manualPromotion: boolean;
  readonly reason: string;
}

/** Data nodes that can be primary: every candidate, plus the initial primary. */
export function possiblePrimaries(nodes: ReadonlyArray<ClusterNode>, initial?: string): string[] {
  return nodes.filter((n) => isCandidate(n) || n.name === initial).map((n) => n.name);
}

function nameWithRole(name: string, primary: string): string {
  return name === primary ? `${name} (the primary)` : name;
}

/** Scenarios for one primary, without duplicates (a location equal to a pair is one row). */
export function scenariosFor(nodes: ReadonlyArray<ClusterNode>, primary: string): Scenario[] {
  const order = new Map(nodes.map((n, i) => [n.name, i]));
  const byKey = new Map<string, { labels: string[]; down: string[] }>();
  const add = (down: string[], label: string) => {
    const sorted = [...down].sort((a, b) => order.get(a)! - order.get(b)!);
    const key = sorted.join(",");
    const seen = byKey.get(key);
    if (seen) seen.labels.push(label);
    else byKey.set(key, { labels: [label], down: sorted });
  };
  for (const n of nodes) add([n.name], `${nameWithRole(n.name, primary)} becomes unavailable`);
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      add([nodes[i]!.name, nodes[j]!.name], `${nameWithRole(nodes[i]!.name, primary)} and ${nameWithRole(nodes[j]!.name, primary)} become unavailable`);
    }
  }
  const locations = [...new Set(nodes.map((n) => n.location))];
  for (const loc of locations) {
    const members = nodes.filter((n) => n.location === loc).map((n) => n.name);
    const where = members.includes(primary) ? `; ${primary} was the primary` : "";
    add(members, `location ${loc} becomes unavailable (${members.join(", ")}${where})`);
  }
  return [...byKey.values()].map(({ labels, down }) => ({ label: labels.join(" = "), primary, down }));
}

export function runScenarios(nodes: ReadonlyArray<ClusterNode>, model: FailoverModelName, primaries: ReadonlyArray<string>): ScenarioResult[] {
  return primaries.flatMap((primary) =>
    scenariosFor(nodes, primary).map((scenario) => {
      const input = { nodes, primary, down: scenario.down };
      return { scenario, outcome: failover(model, input), other: failover(otherModel(model), input) };
    }),
  );
}

/**
 * Most scenarios evaluated for one deployment (each under both models). The initial primary's
 * scenarios always run (at most 32 + 496 + locations with the 32-node limit); other possible
 * primaries are added in cluster order while the total stays within this bound, so `scenarios`
 * and `report` take well under a second at the maximum node count.
 */
export const MAX_EVALUATED_SCENARIOS = 2000;

export interface ScenarioRun {
  readonly results: ScenarioResult[];
  /** Primaries whose scenarios were evaluated, in cluster order. */
  readonly primaries: string[];
  /** Possible primaries left out to stay within the bound. */
  readonly omittedPrimaries: string[];
  /** Scenarios evaluated (results.length). */
  readonly evaluated: number;
}

/** The scenarios of the initial primary, then of the other possible primaries while they fit in `limit`. */
export function boundedScenarios(
  nodes: ReadonlyArray<ClusterNode>,
  model: FailoverModelName,
  primaries: ReadonlyArray<string>,
  initial: string | undefined,
  limit = MAX_EVALUATED_SCENARIOS,
): ScenarioRun {
  const ordered = initial !== undefined && primaries.includes(initial) ? [initial, ...primaries.filter((p) => p !== initial)] : [...primaries];
  const planned = new Map<string, Scenario[]>();
  let total = 0;
  const omitted: string[] = [];
  for (const p of ordered) {
    const list = scenariosFor(nodes, p);
    if (planned.size > 0 && total + list.length > limit) {
      omitted.push(p);
      continue;
    }
    planned.set(p, list);
    total += list.length;
  }
  const included = primaries.filter((p) => planned.has(p));
  const other = otherModel(model);
  const results = included.flatMap((primary) =>
    planned.get(primary)!.map((scenario) => {
      const input = { nodes, primary, down: scenario.down };
      return { scenario, outcome: failover(model, input), other: failover(other, input) };
    }),
  );
  return { results, primaries: included, omittedPrimaries: primaries.filter((p) => omitted.includes(p)), evaluated: results.length };
}

/** The bounded scenario run of a deployment under a model. */
export function deploymentScenarioRun(d: Deployment, model: FailoverModelName, nodes: ReadonlyArray<ClusterNode>): ScenarioRun {
  const initial = initialPrimary(d).name;
  return boundedScenarios(nodes, model, possiblePrimaries(nodes, initial), initial);
}

/** Scenarios of a deployment under a model (bounded: see MAX_EVALUATED_SCENARIOS). */
export function deploymentScenarios(d: Deployment, model: FailoverModelName, nodes: ReadonlyArray<ClusterNode>): ScenarioResult[] {
  return deploymentScenarioRun(d, model, nodes).results;
}

export function scenarioJson(results: ReadonlyArray<ScenarioResult>): ScenarioJson[] {
  return results.map(({ outcome: o }) => ({
    primary: o.primary,
    down: [...o.down],
    newPrimary: o.newPrimary,
    manualPromotion: o.manualPromotion,
    reason: o.reason,
  }));
}

/** What one data node does in an outcome, in the guide's words. */
export function nodeStatus(node: string, o: FailoverOutcome): string {
  if (o.down.includes(node)) return "unreachable";
  if (o.newPrimary === node) return o.rule === "primary-up" ? "remains the primary" : "**becomes the primary**";
  if (o.manualCandidate === node) return "remains secondary. **Needs manual promotion to primary.**";
  return "remains secondary";
}

export interface TableOptions {
  /** Leave out the rows where the primary stays up. @default false */
  readonly onlyPrimaryFailures?: boolean;
}

/** The guide-style failover table, as Markdown. */
export function scenarioTable(nodes: ReadonlyArray<ClusterNode>, results: ReadonlyArray<ScenarioResult>, opts: TableOptions = {}): string {
  const data = nodes.filter((n) => n.role === "data");
  const rows = opts.onlyPrimaryFailures ? results.filter((r) => r.outcome.rule !== "primary-up") : results;
  const model = results[0]?.outcome.model ?? "repmgr";
  const other = otherModel(model);
  const head = ["Scenario", ...data.map((n) => mdText(`${n.name} (${n.location}) status`)), "Notes", `${other} model`];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const r of rows) {
    // Escaped where assembled: labels and reasons carry node and location names; the statuses
    // and the "differs" markup are the toolkit's own Markdown.
    const differs = disagree(r.outcome, r.other) ? `**differs:** ${mdText(shortOutcome(r.other))}` : "same";
    const cells = [mdText(r.scenario.label), ...data.map((n) => nodeStatus(n.name, r.outcome)), mdKeepCode(r.outcome.reason), differs];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/** The rows where the two models name a different new primary. */
export function disagreements(results: ReadonlyArray<ScenarioResult>): ScenarioResult[] {
  return results.filter((r) => disagree(r.outcome, r.other));
}
