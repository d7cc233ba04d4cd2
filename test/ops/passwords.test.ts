/**
 * The pure parts of `ems-ha set-passwords` (src/ops/passwords.ts). The rotation itself runs against
 * real servers in test/ops/backup-passwords.test.ts and on the Docker lab in
 * test/drills/docker-rotation.test.ts.
 */
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/errors";
import { alterRoleStatements, newPasswordsFromEnv, saslprepMapped, scramVerifier } from "../../src/ops/passwords";

describe("SCRAM-SHA-256 verifiers", () => {
  it("has PostgreSQL's form, a fresh salt each time, and keys derived as RFC 5802 says", () => {
    const v = scramVerifier("pencil");
    const m = /^SCRAM-SHA-256\$4096:([A-Za-z0-9+/=]{24})\$([A-Za-z0-9+/=]{44}):([A-Za-z0-9+/=]{44})$/.exec(v);
    expect(m).not.toBeNull();
    expect(scramVerifier("pencil")).not.toBe(v);
    const salt = Buffer.from(m![1]!, "base64");
    const salted = pbkdf2Sync("pencil", salt, 4096, 32, "sha256");
    expect(m![2]).toBe(createHash("sha256").update(createHmac("sha256", salted).update("Client Key").digest()).digest("base64"));
    expect(m![3]).toBe(createHmac("sha256", salted).update("Server Key").digest("base64"));
    expect(scramVerifier("pencil", salt)).toBe(v);
  });

  it("SASLprep's mapping: non-ASCII spaces become spaces, soft hyphens and zero-width characters go, NFKC; ASCII stays", () => {
    expect(saslprepMapped("a\u00A0b\u3000c")).toBe("a b c");
    expect(saslprepMapped("pass\u00ADword\u200D\u200B")).toBe("password ");
    expect(saslprepMapped("ﬁsh ①")).toBe("fish 1");
    expect(saslprepMapped("Grüße 日本 Ω")).toBe("Grüße 日本 Ω");
    const ascii = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("") + "\t\u0007";
    expect(saslprepMapped(ascii)).toBe(ascii);
  });

  it("is set with statement logging off for the transaction, the role quoted as an identifier", () => {
    expect(alterRoleStatements('we"ird', "SCRAM-SHA-256$4096:a$b:c")).toEqual([
      "set local log_statement = 'none'",
      "set local log_min_error_statement = 'panic'",
      `alter role "we""ird" password 'SCRAM-SHA-256$4096:a$b:c'`,
    ]);
  });
});

describe("the new passwords come from the environment only", () => {
  const issuesOf = (env: NodeJS.ProcessEnv) => {
    try {
      newPasswordsFromEnv(env);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as ConfigError).message;
    }
    return "";
  };

  it("one or both; none is bad input naming both variables; a line break is refused without showing the value", () => {
    expect(newPasswordsFromEnv({ EMS_HA_NEW_DB_PASSWORD: "a" })).toEqual({ dbPassword: "a", repmgrPassword: undefined });
    expect(newPasswordsFromEnv({ EMS_HA_NEW_REPMGR_PASSWORD: "b", EMS_HA_NEW_DB_PASSWORD: "" })).toEqual({ dbPassword: undefined, repmgrPassword: "b" });
    expect(issuesOf({})).toMatch(
      /EMS_HA_NEW_DB_PASSWORD \/ EMS_HA_NEW_REPMGR_PASSWORD: no new password is given .*Fix: set EMS_HA_NEW_DB_PASSWORD, EMS_HA_NEW_REPMGR_PASSWORD or both/,
    );
    const broken = issuesOf({ EMS_HA_NEW_DB_PASSWORD: "sec\nret" });
    expect(broken).toMatch(/EMS_HA_NEW_DB_PASSWORD: contains a line break/);
    expect(broken).not.toContain("sec");
  });

  it("refuses a password SASLprep would change (clients could disagree on its key), without showing it; a normalised non-ASCII one is fine", () => {
    for (const pw of ["ﬁsh-secret", "a\u00A0secret", "soft\u00ADsecret", "lone\uD800secret", "ﬁ\uE000secret"]) {
      const m = issuesOf({ EMS_HA_NEW_REPMGR_PASSWORD: pw });
      expect(m, JSON.stringify(pw)).toMatch(
        /EMS_HA_NEW_REPMGR_PASSWORD: SASLprep changes this password .*Fix: choose a password that Unicode normalisation leaves as it is/,
      );
      expect(m).not.toContain("secret");
    }
    expect(newPasswordsFromEnv({ EMS_HA_NEW_DB_PASSWORD: "Grüße 日本 Ω" }).dbPassword).toBe("Grüße 日本 Ω");
  });
});
