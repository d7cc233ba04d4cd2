import { NEW_DB_PASSWORD_ENV, NEW_REPMGR_PASSWORD_ENV, setPasswords } from "../../ops/passwords";
import { defineCommand } from "../command";
import { CONFIG_FLAG, readDeployment, verifyTimeoutFlag } from "../deployment-file";

export const setPasswordsCommand = defineCommand({
  name: "set-passwords",
  summary: "Set new DB and repmgr passwords in the running cluster (the first step of a rotation; repmgrd must be paused)",
  flags: {
    config: CONFIG_FLAG,
    "verify-timeout": verifyTimeoutFlag(60, "how long to wait for every node (a standby after replay) to accept the new passwords"),
  },
  notes: [
    `New passwords: $${NEW_DB_PASSWORD_ENV} and/or $${NEW_REPMGR_PASSWORD_ENV}; current ones: $EMS_HA_DB_PASSWORD / $TF_VAR_db_password,`,
    "$EMS_HA_REPMGR_PASSWORD / $TF_VAR_repmgr_password (never flags). Sent to the servers as SCRAM-SHA-256 verifiers only.",
  ].join("\n"),
  async run({ flags }, io) {
    const { deployment: d } = readDeployment(flags.config, io);
    const r = await setPasswords(d, { env: io.env, verifyTimeoutMs: flags["verify-timeout"] * 1000, onProgress: (l) => io.err(l) });
    (r.ok ? io.out : io.err)(r.message);
    return r.ok ? 0 : 1;
  },
});
