import { describe, expect, it } from "vitest";
import { EMS_DB_POLL_SECONDS, PROMOTION_SECONDS, rtoBudget, rtoTable } from "../../src/analysis/rto";
import { geoInput, parsed, singleInput } from "./fixtures";

const secs = (b: ReturnType<typeof rtoBudget>, id: string) => [...b.classes, ...b.endToEnd].find((l) => l.id === id)!.seconds;

describe("RTO budget", () => {
  it("follows the Docker image's repmgr defaults (3 x 5 s) and the guide's EMS and FortiGate settings", () => {
    const b = rtoBudget(parsed(singleInput()));
    // 2 s detection + (3 - 1) x 5 s + 3 x 2 s connect timeouts + promotion.
    expect(secs(b, "db-primary-lost")).toBe(2 + 10 + 6 + PROMOTION_SECONDS);
    expect(secs(b, "ems-db-redetect")).toBe(EMS_DB_POLL_SECONDS);
    expect(secs(b, "ems-primary-lost")).toBe(2 * 10 + 60);
    expect(secs(b, "fortigate-dead-server")).toBe(3 * 10 + 2);
  });

  it("changes with the settings: explicit repmgr timing and keep-alive", () => {
    const s = singleInput();
    s.database.failover = { reconnectAttempts: 6, reconnectIntervalSeconds: 10, connectTimeoutSeconds: 3, monitorIntervalSeconds: 4 };
    s.ems.keepaliveSeconds = 30;
    const b = rtoBudget(parsed(s));
    expect(secs(b, "db-primary-lost")).toBe(4 + 50 + 18 + PROMOTION_SECONDS);
    expect(secs(b, "ems-primary-lost")).toBe(120);
    // EMS takeover (120 s) plus the FortiGate's next probe (10 s) outlasts its dead-server detection (32 s).
    expect(secs(b, "e2e-ems-primary")).toBe(130);
  });

  it("adds up the end-to-end figures and picks the worst", () => {
    const b = rtoBudget(parsed(geoInput()));
    const db = secs(b, "db-primary-lost");
    expect(secs(b, "e2e-db-primary")).toBe(db + 10);
    expect(secs(b, "e2e-site")).toBe(db + 10 + 80 + 10);
    expect(b.worst.id).toBe("e2e-site");
    const table = rtoTable(b);
    expect(table).toContain(`End-to-end worst case: **${db + 100} s**`);
    expect(table).toContain("(3 − 1) × 5 s = 10 s");
  });
});
