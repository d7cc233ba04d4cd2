/**
 * Worst-case outage per failure class, from the deployment's settings.
 *
 * - DB primary lost: repmgrd notices within one monitor interval, then retries
 *   (reconnect_attempts - 1) x reconnect_interval, each attempt possibly waiting
 *   connect_timeout when the host is unreachable (docs/background.md#repmgr-automatic-failover, #native-postgresql-and-repmgr), then promotes.
 *   An election that does not promote runs again after election_rerun_interval (the line's note).
 * - DB primary lost with a standby whose host stops answering (three data nodes or more): the
 *   failover validation waits for that standby, refuses once, and repmgrd elects again after
 *   election_rerun_interval, going through its reconnect attempts again first
 *   (docs/reliability.md#two-standbys-promoted-at-once).
 * - EMS finds the new DB primary: it polls the data nodes every 10 s (the guide).
 * - EMS primary node lost: 2 x keep-alive without heartbeat, then up to 60 s (the guide).
 * - FortiGate notices a dead real server: retry probes, interval apart, the last
 *   one timing out; a revived server is seen at the next probe (one interval).
 */
import { dataNodes, failoverTiming } from "../config/derive";
import type { Deployment } from "../config/schema";
import { failoverValidationTiming } from "../render/failover-validation";

/** Time allowed for `repmgr standby promote` itself (measured ~1 s on the lab, docs/background.md#native-postgresql-and-repmgr). */
export const PROMOTION_SECONDS = 5;
/** EMS checks which DB node is read-write every 10 s (guide, "PostgreSQL DB HA"). */
export const EMS_DB_POLL_SECONDS = 10;
/** A new EMS primary is promoted "within up to another 60 seconds" (guide, "EMS application HA"). */
export const EMS_PROMOTION_SECONDS = 60;
/** The guide's FortiGate health check: TCP 8013, interval 10, timeout 2, retry 3. */
export const GUIDE_HEALTH_CHECK = { intervalSeconds: 10, timeoutSeconds: 2, retry: 3 } as const;

export interface RtoTerm {
  readonly label: string;
  /** How the seconds come about, e.g. "(3 − 1) × 5 s". */
  readonly formula?: string;
  readonly seconds: number;
}

export interface RtoLine {
  readonly id: string;
  readonly label: string;
  readonly seconds: number;
  /** The parts added up (or, with `max`, the longest of them). */
  readonly terms: RtoTerm[];
  readonly combine: "sum" | "max";
  readonly note?: string;
}

export interface RtoBudget {
  readonly classes: RtoLine[];
  readonly endToEnd: RtoLine[];
  /** The longest end-to-end line. */
  readonly worst: RtoLine;
}

function line(id: string, label: string, terms: RtoTerm[], combine: "sum" | "max" = "sum", note?: string): RtoLine {
  const seconds = combine === "sum" ? terms.reduce((s, t) => s + t.seconds, 0) : Math.max(...terms.map((t) => t.seconds));
  return { id, label, seconds, terms, combine, ...(note ? { note } : {}) };
}

function healthCheckOf(d: Deployment): { intervalSeconds: number; timeoutSeconds: number; retry: number } {
  // A deployment may carry its own health check settings once the schema has them.
  const hc = (d.fortigate as { healthCheck?: Partial<typeof GUIDE_HEALTH_CHECK> } | undefined)?.healthCheck;
  return { ...GUIDE_HEALTH_CHECK, ...(hc ?? {}) };
}

export function rtoBudget(d: Deployment): RtoBudget {
  const t = failoverTiming(d);
  const hc = healthCheckOf(d);
  const k = d.ems.keepaliveSeconds;

  const dbTerms: RtoTerm[] = [
    { label: "detection (monitor_interval_secs)", seconds: t.monitorIntervalSeconds },
    {
      label: "reconnect attempts",
      formula: `(${t.reconnectAttempts} − 1) × ${t.reconnectIntervalSeconds} s`,
      seconds: (t.reconnectAttempts - 1) * t.reconnectIntervalSeconds,
    },
    {
      label: "connect timeouts (host unreachable)",
      formula: `${t.reconnectAttempts} × ${t.connectTimeoutSeconds} s`,
      seconds: t.reconnectAttempts * t.connectTimeoutSeconds,
    },
  ];
  // repmgrd's failover window: everything before the promotion
  const window = dbTerms.reduce((s, x) => s + x.seconds, 0);
  const db = line(
    "db-primary-lost",
    "DB primary lost (repmgr promotes a standby)",
    [...dbTerms, { label: "promotion", seconds: PROMOTION_SECONDS }],
    "sum",
    `An election that does not promote (a peer or witness silent past connect_timeout on a loaded host, or the failover validation refusing) runs again after election_rerun_interval: add ${t.electionRerunIntervalSeconds} s and the window before the promotion again, ${window} s (docs/reliability.md#two-standbys-promoted-at-once)`,
  );
  const v = failoverValidationTiming(d);
  const withStandby =
    dataNodes(d).length >= 3
      ? [
          line(
            "db-primary-and-standby-lost",
            "DB primary lost with a standby that stops answering (the failover validation's second election)",
            [
              { label: "repmgrd's first election (detection and reconnect attempts)", seconds: window },
              {
                label: "the failover validation waits for the silent standby, and for the primary",
                formula: `${v.peerTries} × ${v.peerTimeoutSeconds} s + ${v.primaryTimeoutSeconds} s`,
                seconds: v.peerTries * v.peerTimeoutSeconds + v.primaryTimeoutSeconds,
              },
              { label: "election_rerun_interval", seconds: t.electionRerunIntervalSeconds },
              { label: "repmgrd's second election (detection and reconnect attempts again)", seconds: window },
              { label: "promotion", seconds: PROMOTION_SECONDS },
            ],
            "sum",
            "A standby whose host refuses connections (its PostgreSQL stopped) is taken as down at once: the first line then applies",
          ),
        ]
      : [];
  const poll = line("ems-db-redetect", "EMS finds the new DB primary", [{ label: "EMS poll of the data nodes", seconds: EMS_DB_POLL_SECONDS }]);
  const ems = line("ems-primary-lost", "EMS primary node lost (a secondary takes over)", [
    { label: "missed heartbeats", formula: `2 × keep-alive ${k} s`, seconds: 2 * k },
    { label: "promotion of the new EMS primary", seconds: EMS_PROMOTION_SECONDS },
  ]);
  const fg = line("fortigate-dead-server", "FortiGate marks a dead EMS node down", [
    { label: "failed probes", formula: `retry ${hc.retry} × interval ${hc.intervalSeconds} s`, seconds: hc.retry * hc.intervalSeconds },
    { label: "last probe's timeout", seconds: hc.timeoutSeconds },
  ]);
  const fgUp: RtoTerm = { label: "FortiGate's next probe sees the new EMS primary", seconds: hc.intervalSeconds };

  const e2eDb = line("e2e-db-primary", "DB primary host lost → EMS works again", [
    { label: db.label, seconds: db.seconds },
    { label: poll.label, seconds: poll.seconds },
  ]);
  const emsPath = ems.seconds + fgUp.seconds;
  const e2eEms = line(
    "e2e-ems-primary",
    "EMS primary host lost → clients reach the new EMS primary",
    [
      { label: `EMS takeover + ${fgUp.label}`, formula: `${ems.seconds} s + ${fgUp.seconds} s`, seconds: emsPath },
      { label: fg.label, seconds: fg.seconds },
    ],
    "max",
    "The FortiGate's detection runs in parallel with the EMS takeover",
  );
  const e2eSite = line(
    "e2e-site",
    "Both primaries lost together (shared host or data centre) → clients reach EMS again",
    [
      { label: db.label, seconds: db.seconds },
      { label: poll.label, seconds: poll.seconds },
      { label: ems.label, seconds: ems.seconds },
      { label: fgUp.label, seconds: fgUp.seconds },
    ],
    "sum",
    "EMS keeps its heartbeats in the database, so its takeover can only finish after the DB failover; applies only where the failover table shows an automatic promotion for that loss",
  );
  const endToEnd = [e2eDb, e2eEms, e2eSite];
  const worst = endToEnd.reduce((a, b) => (b.seconds > a.seconds ? b : a));
  return { classes: [db, ...withStandby, poll, ems, fg], endToEnd, worst };
}

function termsText(l: RtoLine): string {
  const parts = l.terms.map((t) => `${t.label} ${t.formula ? `${t.formula} = ` : ""}${t.seconds} s`);
  return l.combine === "sum" ? parts.join(" + ") : `longest of: ${parts.join("; ")}`;
}

/** The budget as a Markdown table. */
export function rtoTable(b: RtoBudget): string {
  const rows = [...b.classes, ...b.endToEnd].map((l) => `| ${l.label} | **${l.seconds} s** | ${termsText(l)}${l.note ? `. ${l.note}` : ""} |`);
  return [
    "| Failure | Worst case | How it adds up |",
    "|---|---|---|",
    ...rows,
    "",
    `End-to-end worst case: **${b.worst.seconds} s** (${b.worst.label}).`,
  ].join("\n");
}
