import { waitForPrimary } from "../../ops/wait";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment } from "../deployment-file";

export const waitPrimaryCommand = defineCommand({
  name: "wait-primary",
  summary: "Wait (bounded) until exactly one writable primary answers; exit 1 on timeout",
  flags: {
    config: CONFIG_FLAG,
    timeout: { type: "number", default: 300, placeholder: "SECONDS", description: "give up after this long", min: 1, max: 86_400 },
    interval: { type: "number", default: 2, placeholder: "SECONDS", description: "time between two checks", min: 0.1, max: 600 },
    json: { type: "boolean", description: "print the result as JSON" },
  },
  notes: "DB password: $EMS_HA_DB_PASSWORD or $TF_VAR_db_password (never a flag).",
  async run({ flags }, io) {
    const { deployment: d } = readDeployment(flags.config, io);
    const timeout = flags.timeout;
    const r = await waitForPrimary(d, { env: io.env, timeoutMs: timeout * 1000, intervalMs: flags.interval * 1000, onProgress: (l) => io.err(l) });
    if (flags.json) io.out(JSON.stringify(r, null, 2));
    else if (r.ok) io.out(`primary: ${r.primary}`);
    else {
      io.out(`no single writable primary after ${timeout} s. Last observed:`);
      for (const n of r.last.dbNodes) io.out(`  ${n.name} (${n.address}): ${n.reachable ? n.role : `unreachable: ${n.error ?? "no answer"}`}`);
      for (const reason of r.last.reasons) io.out(`  - ${reason}`);
    }
    return r.ok ? 0 : 1;
  },
});
