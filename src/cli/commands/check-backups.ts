import { resolve } from "node:path";
import { checkBackups, renderBackupsTable, VERIFY_CHOICES, type VerifyChoice } from "../../ops/check-backups";
import { backupMetrics } from "../../ops/metrics";
import { renderPrometheus } from "../../render/prometheus";
import { usageError } from "../args";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment } from "../deployment-file";

export const checkBackupsCommand = defineCommand({
  name: "check-backups",
  summary: "List the deployment's backups in a directory, check the newest one's files against its checksums, and fail when it is missing, damaged or too old",
  flags: {
    config: CONFIG_FLAG,
    dir: { type: "string", required: true, placeholder: "DIR", description: "the directory `ems-ha backup --out` writes the backups into" },
    "max-age": {
      type: "number",
      placeholder: "HOURS",
      description: "fail when the newest backup was taken longer ago than this (default: no limit)",
      min: 0.1,
      max: 24 * 366,
    },
    verify: {
      type: "string",
      default: "newest",
      choices: VERIFY_CHOICES,
      description: "whose files are read against their manifest's SHA-256 sums",
    },
    json: { type: "boolean", description: "print the backups and the verdict as JSON" },
    prometheus: {
      type: "boolean",
      description: "print the verdict as Prometheus metrics (text format, for node_exporter's textfile collector); the exit code stays the same",
    },
  },
  notes: "Reads local files only (no database, no SSH). Exit 1: no backup, a damaged one among those read, or the newest older than --max-age.",
  async run({ flags }, io) {
    if (flags.json && flags.prometheus) throw usageError("--prometheus", true, "cannot be combined with --json", "choose one of --json and --prometheus");
    const { deployment: d } = readDeployment(flags.config, io);
    const dir = resolve(io.cwd, flags.dir);
    const r = await checkBackups(d.name, {
      dir,
      maxAgeHours: flags["max-age"],
      verify: flags.verify as VerifyChoice,
      onProgress: (l) => io.err(l),
    });
    for (const p of r.ignored) io.err(p);
    if (flags.prometheus) {
      io.out(renderPrometheus(backupMetrics(d.name, dir, r, new Date())).trimEnd());
      if (!r.ok) io.err(r.message);
      return r.ok ? 0 : 1;
    }
    if (flags.json) io.out(JSON.stringify(r, null, 2));
    else if (r.backups.length > 0) io.out(renderBackupsTable(r.backups));
    if (!flags.json || !r.ok) (r.ok ? io.out : io.err)(r.message);
    return r.ok ? 0 : 1;
  },
});
