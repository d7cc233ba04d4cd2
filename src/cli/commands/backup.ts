import { resolve } from "node:path";
import { backup } from "../../ops/backup";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment } from "../deployment-file";

export const backupCommand = defineCommand({
  name: "backup",
  summary: "Dump the deployment's databases (pg_dump, custom format) from the primary into a new directory, with a manifest and checksums",
  flags: {
    config: CONFIG_FLAG,
    out: { type: "string", required: true, placeholder: "DIR", description: "where the backup's directory is created (0700; made when missing)" },
    node: { type: "string", placeholder: "NODE", description: "dump this data node instead of the writable primary (a standby spares the primary)" },
    timeout: {
      type: "number",
      default: 240,
      placeholder: "MINUTES",
      description: "give up on a database's dump after this long",
      min: 1,
      max: 7 * 24 * 60,
    },
    keep: {
      type: "integer",
      placeholder: "N",
      description: "once the backup is complete, remove this deployment's older backups in --out so that the newest N remain (the new one among them)",
      min: 1,
      max: 100_000,
    },
    "skip-space-check": {
      type: "boolean",
      description: "take the backup even when --out's filesystem has less free than the newest backup there took",
    },
    json: { type: "boolean", description: "print the manifest as JSON" },
  },
  notes: "DB password: $EMS_HA_DB_PASSWORD or $TF_VAR_db_password (never a flag); the dumps read it from their standard input.",
  async run({ flags }, io) {
    const { deployment: d } = readDeployment(flags.config, io);
    const r = await backup(d, {
      env: io.env,
      outDir: resolve(io.cwd, flags.out),
      node: flags.node,
      dumpTimeoutMs: flags.timeout * 60_000,
      onProgress: (l) => io.err(l),
      keep: flags.keep,
      skipSpaceCheck: flags["skip-space-check"],
    });
    if (flags.json && r.manifest) io.out(JSON.stringify({ dir: r.dir, ...r.manifest, ...(r.pruned ? { removed: r.pruned.removed } : {}) }, null, 2));
    else (r.ok ? io.out : io.err)(r.message);
    if (flags.json && !r.ok) io.err(r.message);
    return r.ok ? 0 : 1;
  },
});
