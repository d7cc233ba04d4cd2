/**
 * The repmgrd systemd unit and /etc/default/repmgrd.
 *
 * Departures from the guide: one directive per line (the witness's copy has
 * `Restart=on-failure LimitNOFILE=16384` on one line), repmgrd runs in the foreground
 * (Type=simple, --daemonize=false) so systemd sees it die (`repmgrd --daemonize` exits 0
 * even when the daemon then fails, docs/background.md#native-postgresql-and-repmgr), the pid file lives in /run/repmgrd rather
 * than /tmp, /etc/default/repmgrd names /etc/repmgr.conf (the guide's note says
 * /etc/repmgrd.conf, which does not exist), and a stop that SIGTERM does not finish in 15 s
 * kills it (docs/reliability.md, "Self-healing").
 */
import { UnsafeValueError } from "../escape";
import { nativeLayout } from "./layout";

export interface UnitSection {
  readonly name: string;
  readonly directives: ReadonlyArray<readonly [string, string]>;
}

/** A systemd unit file. A line break in a value would start another directive: refused. */
export function formatUnit(sections: ReadonlyArray<UnitSection>, header: string): string {
  const line = (x: string): string => {
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(x)) throw new UnsafeValueError(`systemd unit: ${JSON.stringify(x)} contains a control character`);
    return x;
  };
  const out = ["# " + line(header)];
  for (const s of sections) {
    out.push("", "[" + line(s.name) + "]", ...s.directives.map(([k, v]) => line(k) + "=" + line(v)));
  }
  return out.join("\n") + "\n";
}

export function repmgrdUnitSections(pgVersion = 15): UnitSection[] {
  const l = nativeLayout(pgVersion);
  return [
    {
      name: "Unit",
      directives: [
        ["Description", "PostgreSQL replication manager daemon (repmgrd)"],
        ["After", `network-online.target ${l.service}.service`],
        ["Wants", "network-online.target"],
      ],
    },
    {
      name: "Service",
      directives: [
        ["Type", "simple"],
        ["User", "postgres"],
        ["Group", "postgres"],
        ["Environment", `REPMGRD_CONF=${l.repmgrConf}`],
        ["EnvironmentFile", `-${l.repmgrdDefaults}`],
        ["RuntimeDirectory", "repmgrd"],
        ["ExecStart", `${l.bindir}/repmgrd -f \${REPMGRD_CONF} --daemonize=false $REPMGRD_OPTS`],
        ["ExecReload", "/bin/kill -HUP $MAINPID"],
        ["Restart", "on-failure"],
        ["RestartSec", "5s"],
        // repmgrd keeps no state to flush, and one waiting on a peer cut off from the network
        // ignores SIGTERM for minutes (a libpq call that retries its poll): killed after 15 s
        ["TimeoutStopSec", "15s"],
        ["LimitNOFILE", "16384"],
      ],
    },
    { name: "Install", directives: [["WantedBy", "multi-user.target"]] },
  ];
}

export function renderRepmgrdUnit(pgVersion = 15): string {
  return formatUnit(repmgrdUnitSections(pgVersion), "Managed by ems-ha (native-single-region).");
}

/** /etc/default/repmgrd, read by the unit above (and by Debian's /etc/init.d/repmgrd, which the unit replaces). */
export function renderRepmgrdDefaults(pgVersion = 15): string {
  const l = nativeLayout(pgVersion);
  return [
    "# Managed by ems-ha (native-single-region). Read by /etc/systemd/system/repmgrd.service.",
    "REPMGRD_ENABLED=yes",
    `REPMGRD_CONF="${l.repmgrConf}"`,
    'REPMGRD_OPTS=""',
    "REPMGRD_USER=postgres",
    `REPMGRD_BIN=${l.bindir}/repmgrd`,
    `REPMGRD_PIDFILE=${l.repmgrdPidFile}`,
    "",
  ].join("\n");
}

/** Weeks of repmgrd's log kept by logrotate (besides the current file). */
export const REPMGRD_LOG_ROTATIONS = 8;
/** A log file past this size is rotated at logrotate's next run, before its week is over. */
export const REPMGRD_LOG_MAX_SIZE = "100M";

/**
 * /etc/logrotate.d/ems-ha-repmgrd: repmgrd writes to repmgr.conf's log_file and nothing else
 * rotates it (the packages ship no logrotate configuration for it), so a cluster's log would grow for
 * its whole life. Weekly, or sooner past REPMGRD_LOG_MAX_SIZE; compressed; repmgrd reopens its log
 * file on SIGHUP (repmgr's documentation, "repmgrd log rotation"), sent to the unit's main process
 * only. A stopped repmgrd is no error: the file is rotated all the same.
 */
export function renderRepmgrdLogrotate(pgVersion = 15): string {
  const l = nativeLayout(pgVersion);
  return [
    "# Managed by ems-ha (native-single-region): repmgrd's log (repmgr.conf log_file).",
    `${l.repmgrLogDir}/repmgr.log {`,
    "    weekly",
    `    maxsize ${REPMGRD_LOG_MAX_SIZE}`,
    `    rotate ${REPMGRD_LOG_ROTATIONS}`,
    "    compress",
    "    delaycompress",
    "    missingok",
    "    notifempty",
    "    create 0640 postgres postgres",
    "    postrotate",
    "        systemctl kill --kill-whom=main --signal=HUP repmgrd.service >/dev/null 2>&1 || true",
    "    endscript",
    "}",
    "",
  ].join("\n");
}
