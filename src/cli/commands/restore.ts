import { resolve } from "node:path";
import { restore } from "../../ops/restore";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment } from "../deployment-file";

export const restoreCommand = defineCommand({
  name: "restore",
  summary: "Put databases of an ems-ha backup back on the writable primary, keeping each database it replaces under another name",
  flags: {
    config: CONFIG_FLAG,
    from: { type: "string", required: true, placeholder: "DIR", description: "the backup's directory (the one holding manifest.json)" },
    database: {
      type: "string",
      placeholder: "NAME",
      description: "restore only this database of the backup (default: every one but postgres)",
    },
    timeout: {
      type: "number",
      default: 240,
      placeholder: "MINUTES",
      description: "give up on a database's restore after this long (what it restored is then undone)",
      min: 1,
      max: 7 * 24 * 60,
    },
    "skip-space-check": {
      type: "boolean",
      description: "restore even when, by its estimate, the primary's data filesystem would be 95% full or more afterwards",
    },
    "dry-run": { type: "boolean", description: "make every check and print what it would do (roles created, databases kept and restored), change nothing" },
    json: { type: "boolean", description: "print the result as JSON" },
  },
  notes: [
    "EMS must be stopped on every EMS node: a database with sessions connected is not replaced.",
    "The primary's data filesystem must hold the restored databases beside the ones they replace, and their WAL.",
    "DB password: $EMS_HA_DB_PASSWORD or $TF_VAR_db_password (never a flag); pg_restore reads it from its standard input.",
  ].join("\n"),
  async run({ flags }, io) {
    const { deployment: d } = readDeployment(flags.config, io);
    const r = await restore(d, {
      env: io.env,
      from: resolve(io.cwd, flags.from),
      database: flags.database,
      restoreTimeoutMs: flags.timeout * 60_000,
      skipSpaceCheck: flags["skip-space-check"],
      dryRun: flags["dry-run"] === true,
      onProgress: (l) => io.err(l),
    });
    if (flags.json) io.out(JSON.stringify(r, null, 2));
    else (r.ok ? io.out : io.err)(r.message);
    if (flags.json && !r.ok) io.err(r.message);
    return r.ok ? 0 : 1;
  },
});
