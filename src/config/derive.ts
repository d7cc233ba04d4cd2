/** Values derived from a deployment: never typed per node by the user. */
import type { DbNodeConfig, Deployment } from "./schema";

/** Seeds the Bitnami image adds to the name's number (the guide: 2000 for witnesses). */
export const DATA_ID_SEED = 1000;
export const WITNESS_ID_SEED = 2000;

/** The number after the last '-' of a node name, or undefined. */
export function nameNumber(name: string): number | undefined {
  const m = /-(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** repmgr node id as the Bitnami image computes it (explicit nodeId wins). */
export function repmgrNodeId(node: Pick<DbNodeConfig, "name" | "role" | "nodeId">): number | undefined {
  if (node.nodeId !== undefined) return node.nodeId;
  const n = nameNumber(node.name);
  if (n === undefined) return undefined;
  return n + (node.role === "witness" ? WITNESS_ID_SEED : DATA_ID_SEED);
}

/**
 * repmgr node id of database.nodes[index] as the deployment's topology assigns it: natively the
 * explicit nodeId, else the position + 1 (the guide: 1, 2, witness 3); with the Docker image the
 * explicit nodeId, else the name's number + 1000 / 2000. Undefined when it cannot be derived.
 */
export function nodeIdOf(d: Pick<Deployment, "topology">, node: Pick<DbNodeConfig, "name" | "role" | "nodeId">, index: number): number | undefined {
  if (d.topology === "native-single-region") return node.nodeId ?? index + 1;
  return repmgrNodeId(node);
}

export function priorityOf(node: Pick<DbNodeConfig, "role" | "priority">): number {
  if (node.role === "witness") return 0;
  return node.priority ?? 100;
}

export function locationOf(node: Pick<DbNodeConfig, "location">): string {
  return node.location ?? "default";
}

/** Whether every DB node is in one repmgr location. */
export function oneLocation(d: Deployment): boolean {
  return new Set(d.database.nodes.map(locationOf)).size === 1;
}

export function dataNodes(d: Deployment): DbNodeConfig[] {
  return d.database.nodes.filter((n) => n.role === "data");
}

export function witnessNodes(d: Deployment): DbNodeConfig[] {
  return d.database.nodes.filter((n) => n.role === "witness");
}

/** The data node that starts as primary, or undefined when the deployment names none that exists. */
export function findInitialPrimary(d: Deployment): DbNodeConfig | undefined {
  const want = d.database.initialPrimary;
  return want !== undefined ? d.database.nodes.find((n) => n.name === want && n.role === "data") : dataNodes(d)[0];
}

/** The data node that starts as primary (of a validated deployment). */
export function initialPrimary(d: Deployment): DbNodeConfig {
  const want = d.database.initialPrimary;
  const found = findInitialPrimary(d);
  if (!found) throw new Error(`initial primary ${want ?? "(first data node)"} not found; validate the deployment first`);
  return found;
}

/** Ports the FortiGate publishes, in the guide's order. */
export function emsPorts(fg: { chromebook: boolean; acme: boolean }): number[] {
  const ports = [10443, 443, 8013, 8015, 8871];
  if (fg.chromebook) ports.push(8443);
  if (fg.acme) ports.push(80);
  return ports;
}

/** EMS nodes in install order: the first is the EMS primary. */
export function emsInstallOrder(d: Deployment) {
  return d.emsNodes.map((node, index) => ({ node, index, primary: index === 0 }));
}

export interface FailoverTiming {
  readonly reconnectAttempts: number;
  readonly reconnectIntervalSeconds: number;
  readonly connectTimeoutSeconds: number;
  readonly monitorIntervalSeconds: number;
  /** repmgrd's election_rerun_interval (repmgr's default 15 s). */
  readonly electionRerunIntervalSeconds: number;
  /** Which fields the user set explicitly (the rest are defaults of the topology/profile). */
  readonly explicit: ReadonlySet<string>;
}

const DOCKER = new Set(["single-region", "geo-redundant", "upgrade-7-4-4"]);

/**
 * Seconds from a primary's loss to the end of repmgrd's reconnect attempts, when it elects: one
 * monitoring interval, then each attempt waits connect_timeout and the reconnect interval.
 */
export function failoverWindowSeconds(d: Deployment): number {
  const t = failoverTiming(d);
  return t.monitorIntervalSeconds + t.reconnectAttempts * (t.reconnectIntervalSeconds + t.connectTimeoutSeconds);
}

/** Effective repmgr failover timing of a deployment (docs/background.md#repmgr-automatic-failover). */
export function failoverTiming(d: Deployment): FailoverTiming {
  const f = d.database.failover;
  const base =
    f.profile === "tuned"
      ? { reconnectAttempts: 3, reconnectIntervalSeconds: 2 }
      : DOCKER.has(d.topology)
        ? { reconnectAttempts: 3, reconnectIntervalSeconds: 5 }
        : { reconnectAttempts: 6, reconnectIntervalSeconds: 10 };
  const explicit = new Set<string>();
  for (const k of [
    "reconnectAttempts",
    "reconnectIntervalSeconds",
    "connectTimeoutSeconds",
    "monitorIntervalSeconds",
    "electionRerunIntervalSeconds",
  ] as const) {
    if (f[k] !== undefined) explicit.add(k);
  }
  if (f.profile === "tuned") {
    explicit.add("reconnectAttempts");
    explicit.add("reconnectIntervalSeconds");
  }
  return {
    reconnectAttempts: f.reconnectAttempts ?? base.reconnectAttempts,
    reconnectIntervalSeconds: f.reconnectIntervalSeconds ?? base.reconnectIntervalSeconds,
    connectTimeoutSeconds: f.connectTimeoutSeconds ?? 2,
    monitorIntervalSeconds: f.monitorIntervalSeconds ?? 2,
    electionRerunIntervalSeconds: f.electionRerunIntervalSeconds ?? 15,
    explicit,
  };
}
