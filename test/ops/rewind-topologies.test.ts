/**
 * Where `ems-ha status` and `ems-ha ack-rewind` look for rewind records: on the data nodes' hosts
 * of every topology whose hosts run the reconciliation service (native, and the Docker hosts of
 * single-region and geo-redundant), never on witnesses; other topologies are refused by
 * ack-rewind with a clear error. No host is reached here: the example addresses do not answer,
 * which makes every looked-at node a warning.
 */
import { describe, expect, it } from "vitest";
import geo from "../../examples/geo-redundant";
import single from "../../examples/single-region";
import standalone from "../../examples/standalone-db";
import { ConfigError } from "../../src/config/errors";
import { parseDeployment } from "../../src/config/parse";
import { ackRewind, findRewindMarkers, RECONCILED_TOPOLOGIES } from "../../src/ops/rewind";

const env = { ...process.env, EMS_HA_INSECURE_HOST_KEYS: "1" };

describe("rewind records by topology", () => {
  it("are looked for on the Docker data nodes' hosts (single-region, geo-redundant), not on witnesses", async () => {
    for (const input of [single, geo]) {
      const d = parseDeployment(input);
      expect(RECONCILED_TOPOLOGIES.has(d.topology)).toBe(true);
      const r = await findRewindMarkers(d, { env, timeoutMs: 1500 });
      const asked = r.warnings.map((w) => /on (\S+?):/.exec(w)?.[1]).sort();
      expect(asked).toEqual(
        d.database.nodes
          .filter((n) => n.role === "data")
          .map((n) => n.name)
          .sort(),
      );
      expect(r.markers).toEqual([]);
    }
  }, 60_000);

  it("ack-rewind refuses a topology whose hosts run no reconciliation service, naming it", async () => {
    const d = parseDeployment(standalone);
    const err = await ackRewind(d, "db-1", { env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as ConfigError).message)).toMatch(/standalone-db/);
    expect(String((err as ConfigError).message)).toMatch(/native-single-region, single-region, geo-redundant/);
  });

  it("ack-rewind on a Docker deployment names the data nodes when NODE is not one", async () => {
    const d = parseDeployment(single);
    const err = await ackRewind(d, "pgw-1", { env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as ConfigError).message)).toMatch(/pg-1, pg-2/);
  });
});
