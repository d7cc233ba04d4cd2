/**
 * /etc/repmgr.conf of a native node: the guide's file with the corrections of docs/background.md#errors-in-the-guide, #native-postgresql-and-repmgr
 * (real pg_bindir, service_*_command through systemd, no deprecated `cluster=`) and the
 * failover timing of database.failover.
 */
import { failoverTiming } from "../../config/derive";
import type { Deployment } from "../../config/schema";
import { repmgrConfValue } from "../escape";
import { failoverValidationCommand, failoverValidationTiming, renderFailoverValidationScript } from "../failover-validation";
import { connectTimeout, nativeLayout, nativeSettings, repmgrConninfo, type NativeMember } from "./layout";

export interface RepmgrSetting {
  readonly key: string;
  readonly value: string | number;
}

/** The systemctl command repmgr runs (through sudo, as postgres) for one action on the cluster's unit. */
export function serviceCommand(action: "start" | "stop" | "restart" | "reload", pgVersion = 15): string {
  const l = nativeLayout(pgVersion);
  return `sudo -n ${l.systemctl} ${action} ${l.service}`;
}

export function repmgrSettings(d: Deployment, m: NativeMember): RepmgrSetting[] {
  const s = nativeSettings(d);
  const l = nativeLayout(s.pgVersion);
  const t = failoverTiming(d);
  const repmgr = `${l.bindir}/repmgr` as const;
  const out: RepmgrSetting[] = [
    { key: "node_id", value: m.nodeId },
    { key: "node_name", value: m.name },
    { key: "conninfo", value: repmgrConninfo(m, connectTimeout(d)) },
    { key: "data_directory", value: l.dataDir },
    { key: "config_directory", value: l.confDir },
    { key: "pg_bindir", value: l.bindir },
    { key: "use_replication_slots", value: "yes" },
    { key: "location", value: m.location },
    { key: "priority", value: m.priority },
    { key: "failover", value: m.role === "witness" ? "manual" : "automatic" },
    { key: "promote_command", value: `${repmgr} standby promote -f ${l.repmgrConf} --log-to-file` },
    { key: "follow_command", value: `${repmgr} standby follow -f ${l.repmgrConf} --log-to-file --upstream-node-id=%n` },
    { key: "reconnect_attempts", value: t.reconnectAttempts },
    { key: "reconnect_interval", value: t.reconnectIntervalSeconds },
    { key: "monitor_interval_secs", value: t.monitorIntervalSeconds },
    { key: "service_start_command", value: serviceCommand("start", s.pgVersion) },
    { key: "service_stop_command", value: serviceCommand("stop", s.pgVersion) },
    { key: "service_restart_command", value: serviceCommand("restart", s.pgVersion) },
    { key: "service_reload_command", value: serviceCommand("reload", s.pgVersion) },
    { key: "repmgrd_pid_file", value: l.repmgrdPidFile },
    { key: "log_file", value: `${l.repmgrLogDir}/repmgr.log` },
    { key: "log_level", value: s.logLevel },
  ];
  // The election's winner checks again before it promotes (docs/reliability.md#two-standbys-promoted-at-once).
  // After a refusal, repmgrd elects again this many seconds later.
  if (m.role === "data")
    out.push(
      { key: "failover_validation_command", value: failoverValidationCommand(l.validateFailoverScript) },
      { key: "election_rerun_interval", value: t.electionRerunIntervalSeconds },
    );
  return out;
}

export function renderRepmgrConf(d: Deployment, m: NativeMember): string {
  const body = repmgrSettings(d, m).map((x) => x.key + "=" + repmgrConfValue(x.value));
  return ["# Managed by ems-ha (native-single-region); changes are overwritten on the next deploy.", ...body].join("\n") + "\n";
}

/** The script repmgr.conf's failover_validation_command runs on a native data node (as postgres). */
export function renderNativeFailoverValidation(d: Deployment, m: NativeMember): string {
  const l = nativeLayout(nativeSettings(d).pgVersion);
  return renderFailoverValidationScript({
    psql: `${l.bindir}/psql`,
    localPort: m.port,
    stateFile: l.validateFailoverState,
    ...failoverValidationTiming(d),
  });
}
