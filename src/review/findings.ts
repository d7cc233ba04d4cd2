/** What the plan review reports: findings in HA terms, ranked most dangerous first. */

/** The kinds of change the review knows, most dangerous first (the order is the ranking). */
export const CHANGE_KINDS = [
  "data-loss",
  "primary-restart",
  "quorum",
  "membership",
  "standby-reclone",
  "standby-restart",
  "witness-restart",
  "ems-db-hosts",
  "ems-reinstall",
  "traffic",
  "secret-rotation",
  "node-setup",
  "unknown-resource",
  "harmless",
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/**
 * refused: data loss without acknowledgement (exit 2); acknowledged: data loss the deployment
 * acknowledged (still needs a reviewer); review: needs a reviewer (exit 1); info: safe.
 */
export type Severity = "refused" | "acknowledged" | "review" | "info";

export interface Cause {
  /** Attribute path in the plan, e.g. triggers_replace.script_sha256 or env.REPMGR_PARTNER_NODES. */
  readonly attribute: string;
  /** The deployment field (or secret variable) it comes from. */
  readonly field: string;
  /** Printable old and new values; absent for sensitive values (never shown) and hashes. */
  readonly before?: string;
  readonly after?: string;
  readonly sensitive?: boolean;
}

export interface Finding {
  readonly kind: ChangeKind;
  readonly severity: Severity;
  /** One line: what happens to the running deployment. */
  readonly title: string;
  /** Resource addresses involved (one, or several for a grouped finding). */
  readonly addresses: ReadonlyArray<string>;
  /** Node (DB or EMS) the finding is about, when one. */
  readonly node?: string;
  /** create / update / replace / delete. */
  readonly action?: string;
  readonly causes: ReadonlyArray<Cause>;
  /** What the resource is and why the change matters. */
  readonly detail: string;
  /** What to do about it. */
  readonly advice?: string;
}

export type Verdict = "safe" | "review" | "refused";

export interface PlanReview {
  readonly stack?: string;
  readonly verdict: Verdict;
  /** 0 safe, 1 review needed, 2 refused. */
  readonly exitCode: 0 | 1 | 2;
  readonly findings: ReadonlyArray<Finding>;
  /** General remarks (for example secrets that a plan cannot show). */
  readonly notes: ReadonlyArray<string>;
  /** Counts of changed resources by action. */
  readonly counts: Readonly<Record<"create" | "update" | "replace" | "delete", number>>;
}

export function kindRank(k: ChangeKind): number {
  return CHANGE_KINDS.indexOf(k);
}

const SEVERITY_RANK: Record<Severity, number> = { refused: 0, acknowledged: 1, review: 2, info: 3 };

export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      kindRank(a.kind) - kindRank(b.kind) ||
      (a.addresses[0] ?? "").localeCompare(b.addresses[0] ?? ""),
  );
}

export function verdictOf(findings: ReadonlyArray<Finding>): { verdict: Verdict; exitCode: 0 | 1 | 2 } {
  if (findings.some((f) => f.severity === "refused")) return { verdict: "refused", exitCode: 2 };
  if (findings.some((f) => f.severity !== "info")) return { verdict: "review", exitCode: 1 };
  return { verdict: "safe", exitCode: 0 };
}
