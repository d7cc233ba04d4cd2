/**
 * The part of a deployment the failover models look at: the DB nodes with their
 * role, priority, location and repmgr node id. Pure data, so tests can build
 * clusters without a whole deployment.
 */
import { locationOf, nodeIdOf, priorityOf } from "../../config/derive";
import type { Deployment } from "../../config/schema";

export interface ClusterNode {
  readonly name: string;
  readonly role: "data" | "witness";
  /** repmgr priority; witnesses are always 0. */
  readonly priority: number;
  /** repmgr location ("default" when unset). */
  readonly location: string;
  /** repmgr node id (the tie-breaker: lower wins). */
  readonly nodeId: number;
}

export type FailoverModelName = "repmgr" | "vendor";
export const FAILOVER_MODELS: ReadonlyArray<FailoverModelName> = ["repmgr", "vendor"];

/** What one failure looks like to a model. */
export interface FailoverInput {
  readonly nodes: ReadonlyArray<ClusterNode>;
  /** Name of the node that is primary before the failure. */
  readonly primary: string;
  /** Names of the nodes that are down (unreachable from every other node). */
  readonly down: ReadonlyArray<string>;
  /** Last received LSN per node; nodes not listed count as equal (repmgr model only). */
  readonly lsn?: Readonly<Record<string, bigint>>;
}

/** The rule that decided an outcome. */
export type DecidingRule =
  | "primary-up" // the primary did not fail: nothing happens
  | "no-candidate" // no node that may be promoted is up
  | "only-standby" // repmgr: no siblings, the single standby wins (or not, across locations)
  | "location" // repmgr: no visible node in the failed primary's location
  | "majority" // repmgr: visible <= shared / 2
  | "quorum" // vendor: fewer than (n/2)+1 nodes up
  | "order"; // a candidate won on LSN / priority / node id

export interface FailoverOutcome {
  readonly model: FailoverModelName;
  readonly primary: string;
  readonly down: ReadonlyArray<string>;
  /** The primary after the failure: the old one if it is up, the promoted node, or null. */
  readonly newPrimary: string | null;
  /** A node other than the old primary was promoted automatically. */
  readonly promoted: boolean;
  /** Nobody was promoted although a data node is up: an operator must run `standby promote`. */
  readonly manualPromotion: boolean;
  /** With manualPromotion: the node to promote by hand (the best up data node). */
  readonly manualCandidate: string | null;
  readonly rule: DecidingRule;
  /** Nodes the election counts as visible (repmgr: itself included) ... */
  readonly visible: number;
  /** ... out of this many (repmgr: siblings + 1; vendor: every node of the cluster). */
  readonly total: number;
  /** Up candidates, best first. */
  readonly candidates: ReadonlyArray<string>;
  /** One sentence: what happened and why. */
  readonly reason: string;
}

/** The DB nodes of a deployment as the failover models see them. */
export function clusterOf(d: Deployment): ClusterNode[] {
  return d.database.nodes.map((n, i) => ({
    name: n.name,
    role: n.role,
    priority: priorityOf(n),
    location: locationOf(n),
    // The id the topology gives the node (natively: nodeId or the position + 1); never undefined for a valid deployment.
    nodeId: nodeIdOf(d, n, i) ?? i + 1,
  }));
}

/** A node that may be promoted automatically (repmgr: priority > 0 and not a witness). */
export function isCandidate(n: ClusterNode): boolean {
  return n.role === "data" && n.priority > 0;
}

/** Checks the names of an input; throws Error naming the unknown node. */
export function checkInput(input: FailoverInput): void {
  const names = new Set(input.nodes.map((n) => n.name));
  const primary = input.nodes.find((n) => n.name === input.primary);
  if (!primary) throw new Error(`primary ${input.primary} is not a DB node (nodes: ${[...names].join(", ")})`);
  if (primary.role !== "data") throw new Error(`primary ${input.primary} is a witness; only a data node can be primary`);
  for (const d of input.down) if (!names.has(d)) throw new Error(`down node ${d} is not a DB node (nodes: ${[...names].join(", ")})`);
}

/** Sorts candidates by the given keys: higher LSN, higher priority, lower node id. */
export function rankCandidates(cands: ReadonlyArray<ClusterNode>, lsn?: Readonly<Record<string, bigint>>): ClusterNode[] {
  const lsnOf = (n: ClusterNode) => lsn?.[n.name] ?? 0n;
  return [...cands].sort((a, b) => {
    const la = lsnOf(a);
    const lb = lsnOf(b);
    if (la !== lb) return la > lb ? -1 : 1;
    if (a.priority !== b.priority) return b.priority - a.priority;
    return a.nodeId - b.nodeId;
  });
}

/** Why the winner beat the runner-up, in words. */
export function orderReason(ranked: ReadonlyArray<ClusterNode>, lsn?: Readonly<Record<string, bigint>>, useLsn = true): string {
  const [w, r] = ranked;
  if (!w) return "";
  if (!r) return `${w.name} is the only candidate that is up`;
  const lw = lsn?.[w.name] ?? 0n;
  const lr = lsn?.[r.name] ?? 0n;
  if (useLsn && lw !== lr) return `${w.name} has received the most WAL (LSN ahead of ${r.name})`;
  const lsnNote = useLsn ? (lsn && Object.keys(lsn).length > 0 ? "equal LSN, " : "LSN assumed equal, ") : "";
  if (w.priority !== r.priority) return `${w.name} wins: ${lsnNote}highest priority (${w.priority} over ${r.name}'s ${r.priority})`;
  return `${w.name} wins: ${lsnNote}equal priority ${w.priority}, lower node id (${w.nodeId} < ${r.nodeId} of ${r.name})`;
}

/** Outcome when the primary is still up: no election happens. */
export function primaryUp(model: FailoverModelName, input: FailoverInput): FailoverOutcome {
  const up = input.nodes.filter((n) => !input.down.includes(n.name));
  return {
    model,
    primary: input.primary,
    down: [...input.down],
    newPrimary: input.primary,
    promoted: false,
    manualPromotion: false,
    manualCandidate: null,
    rule: "primary-up",
    visible: up.length,
    total: input.nodes.length,
    candidates: [],
    reason: `the primary ${input.primary} is up, so no election happens; ${input.primary} stays primary`,
  };
}

/** Fields shared by every "nobody is promoted" outcome. */
export function nobody(
  model: FailoverModelName,
  input: FailoverInput,
  rule: DecidingRule,
  counts: { visible: number; total: number; candidates: ReadonlyArray<string> },
  why: string,
): FailoverOutcome {
  const upData = input.nodes.filter((n) => n.role === "data" && !input.down.includes(n.name));
  const preferred = upData.filter(isCandidate).length > 0 ? upData.filter(isCandidate) : upData;
  const pick = rankCandidates(preferred, input.lsn)[0]?.name ?? null;
  const tail = pick ? `; needs manual promotion (\`ems-ha promote ${pick}\`)` : "; no data node is up: bring one back (nothing to promote)";
  return {
    model,
    primary: input.primary,
    down: [...input.down],
    newPrimary: null,
    promoted: false,
    manualPromotion: pick !== null,
    manualCandidate: pick,
    rule,
    ...counts,
    reason: `nobody is promoted: ${why}${tail}`,
  };
}
