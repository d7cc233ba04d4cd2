/**
 * database.maxSlotWalKeepSize in the Docker data nodes' conf.d/extra.conf (the native drop-in:
 * test/native/renderers.test.ts), and its validation. The lab tests read the setting back from a
 * real PostgreSQL (test/lab/lab-e2e.test.ts, test/lab/docker-single-region.test.ts).
 */
import { describe, expect, it } from "vitest";
import single from "../../examples/single-region";
import { ConfigError } from "../../src/config/errors";
import { parseDeployment } from "../../src/config/parse";
import { containerSpec } from "../../src/render/bitnami";
import { renderSlotCapConf } from "../../src/render/slot-cap";

const withCap = (cap: unknown) => ({ ...single, database: { ...single.database, maxSlotWalKeepSize: cap } });

describe("database.maxSlotWalKeepSize", () => {
  it("is absent by default: extra.conf is PGTune's alone, as before", () => {
    const d = parseDeployment(single);
    expect(renderSlotCapConf(d)).toBe("");
    const pg1 = d.database.nodes.find((n) => n.name === "pg-1")!;
    expect(containerSpec(d, pg1).extraConf).not.toMatch(/max_slot_wal_keep_size/);
  });

  it("is appended to each data node's extra.conf after PGTune's lines, never given to a witness", () => {
    const d = parseDeployment(withCap("50GB"));
    for (const n of d.database.nodes) {
      const extra = containerSpec(d, n).extraConf;
      if (n.role === "witness") expect(extra).toBeUndefined();
      else {
        expect(extra).toMatch(/^max_connections = 1092$/m);
        expect(extra!.endsWith("\n\n# ems-ha: database.maxSlotWalKeepSize (WAL kept for an absent standby's slot)\nmax_slot_wal_keep_size = 50GB\n")).toBe(
          true,
        );
      }
    }
  });

  it("refuses what is not a size PostgreSQL takes, naming the field and the form", () => {
    for (const bad of ["50G", "0GB", "-1", "50 GB", "1PB", "5GB\nfsync = off"]) {
      const err = (() => {
        try {
          parseDeployment(withCap(bad));
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, bad).toBeInstanceOf(ConfigError);
      expect(String((err as ConfigError).message)).toMatch(/database\.maxSlotWalKeepSize/);
      expect(String((err as ConfigError).message)).toMatch(/a size like 50GB/);
    }
  });
});
