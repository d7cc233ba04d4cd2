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
    // an election that does not promote: the rerun interval (15 s) and the window before the promotion again
    expect(b.classes.find((l) => l.id === "db-primary-lost")!.note).toContain(`add 15 s and the window before the promotion again, ${2 + 10 + 6} s`);
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

  it("a standby lost with the primary: the failover validation's wait, the rerun interval and a second election", () => {
    const s = geoInput();
    expect(s.database.nodes.filter((n) => n.role !== "witness").length).toBeGreaterThanOrEqual(3);
    s.database.failover = {
      reconnectAttempts: 3,
      reconnectIntervalSeconds: 5,
      connectTimeoutSeconds: 3,
      monitorIntervalSeconds: 2,
      electionRerunIntervalSeconds: 20,
    };
    const b = rtoBudget(parsed(s));
    const window = 2 + 2 * 5 + 3 * 3;
    // the validation: 2 tries x max(5, 2 x 3) s for the standby, 3 s for the primary
    expect(secs(b, "db-primary-and-standby-lost")).toBe(window + (2 * 6 + 3) + 20 + window + PROMOTION_SECONDS);
    expect(secs(b, "db-primary-and-standby-lost") - secs(b, "db-primary-lost")).toBe(2 * 6 + 3 + 20 + window);
    expect(rtoTable(b)).toContain("DB primary lost with a standby that stops answering");
  });

  it("no such line with two data nodes: a standby lost with the primary leaves nobody to promote", () => {
    const s = singleInput();
    const witness = s.database.nodes.find((n) => n.role === "witness");
    s.database.nodes = [...s.database.nodes.filter((n) => n.role !== "witness").slice(0, 2), ...(witness ? [witness] : [])];
    const b = rtoBudget(parsed(s));
    expect([...b.classes, ...b.endToEnd].some((l) => l.id === "db-primary-and-standby-lost")).toBe(false);
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
