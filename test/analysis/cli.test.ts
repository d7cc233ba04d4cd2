import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CliIo } from "../../src/cli/command";
import { runCli } from "../../src/cli/main";
import { spawnAsync } from "../../src/spawn-async";
import { electionRepair } from "../../src/render/election-repair";
import { geoInput, parsed, singleInput } from "./fixtures";
import { tempDir } from "../helpers/tmp";

const ROOT = resolve(__dirname, "../..");
const dir = tempDir("ems-ha-analysis-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function jsonConfig(name: string, value: unknown): string {
  const p = join(dir, `${name}.json`);
  writeFileSync(p, JSON.stringify(value));
  return p;
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIo = { out: (t) => void (out += `${t}\n`), err: (t) => void (err += `${t}\n`), cwd: dir, env: {} };
  const code = await runCli(argv, io);
  return { code, out, err };
}

const geoJson = jsonConfig("geo", geoInput());

describe("ems-ha failover", () => {
  it("prints who becomes primary and why (JSON config, location name in --down)", async () => {
    const r = await cli(["failover", "--config", geoJson, "--primary", "pg-3", "--down", "dc2"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Result: nobody is promoted: manual promotion needed (`ems-ha promote pg-1`)");
    expect(r.out).toContain("Decided by: location rule");
    expect(r.out).toContain("Counts: 3 of 4 nodes visible");
    expect(r.out).toContain("The vendor model disagrees: pg-1 becomes primary");
  });

  it("after an election cancelled for want of a majority, says what the reconciliation service does once a majority answers (single location with fencing only)", async () => {
    const singleJson = jsonConfig("single", singleInput());
    const after = electionRepair(parsed(singleInput())).afterSeconds;
    const r = await cli(["failover", "--config", singleJson, "--down", "pg-1,pgw-1"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Decided by: majority rule");
    expect(r.out).toContain(
      `Afterwards: once a majority of the DB nodes answers again and no data node has answered as primary for ${after} s, the reconciliation service promotes`,
    );
    const j = await cli(["failover", "--config", singleJson, "--down", "pg-1,pgw-1", "--json"]);
    expect(JSON.parse(j.out).afterwards).toContain(`for ${after} s`);
    // a promotion, or geo (repmgr's location rule is left to it): no such line
    expect((await cli(["failover", "--config", singleJson, "--down", "pg-1"])).out).not.toContain("Afterwards:");
    expect((await cli(["failover", "--config", geoJson, "--primary", "pg-3", "--down", "dc2"])).out).not.toContain("Afterwards:");
  });

  it("--model vendor --json", async () => {
    const r = await cli(["failover", "--config", geoJson, "--primary", "pg-3", "--down", "pg-3,pgw-2", "--model", "vendor", "--json"]);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.out);
    expect(o).toMatchObject({ model: "vendor", primary: "pg-3", down: ["pg-3", "pgw-2"], newPrimary: "pg-1", manualPromotion: false, visible: 3, total: 5 });
  });

  it("--lsn decides between candidates", async () => {
    const r = await cli(["failover", "--config", geoJson, "--down", "pg-1", "--lsn", "pg-2=0/3000000,pg-3=0/3000060", "--json"]);
    expect(JSON.parse(r.out).newPrimary).toBe("pg-3");
  });

  it("bad input exits 2 naming the flag, value and fix", async () => {
    const r = await cli(["failover", "--config", geoJson, "--down", "pg-7"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--down");
    expect(r.err).toContain('"pg-7"');
    expect(r.err).toContain("Fix: use DB node names");
    expect((await cli(["failover", "--config", geoJson, "--down", "pg-1", "--model", "raft"])).code).toBe(2);
    expect((await cli(["failover", "--config", geoJson, "--primary", "pgw-1", "--down", "pg-1"])).code).toBe(2);
    expect((await cli(["failover", "--down", "pg-1"])).err).toContain("--config");
  });

  it("loads a TypeScript module through the real CLI", async () => {
    const r = await spawnAsync(
      process.execPath,
      [join(ROOT, "bin/ems-ha.js"), "failover", "--config", "examples/geo-redundant.ts", "--down", "pg-1,pg-2", "--json"],
      {
        cwd: ROOT,
        timeoutMs: 60_000,
      },
    );
    // stderr names the deployment file and nothing else.
    expect(r.stderr).toBe(`ems-ha: deployment ${join(ROOT, "examples/geo-redundant.ts")} (from --config)\n`);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ primary: "pg-1", newPrimary: "pg-3" });
  });
});

describe("ems-ha scenarios", () => {
  it("prints the table and the disagreements", async () => {
    const r = await cli(["scenarios", "--config", geoJson]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("| Scenario | pg-1 (dc1) status | pg-2 (dc1) status | pg-3 (dc2) status | Notes | vendor model |");
    expect(r.out).toContain("The models disagree on 1 scenario(s):");
  });

  it("--json prints the array of the issue", async () => {
    const r = await cli(["scenarios", "--config", geoJson, "--model", "vendor", "--json"]);
    const rows = JSON.parse(r.out) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(48);
    expect(rows.find((x) => x.primary === "pg-3" && (x.down as string[]).join() === "pg-3,pgw-2")).toMatchObject({
      newPrimary: "pg-1",
      manualPromotion: false,
    });
  });
});

describe("ems-ha check", () => {
  it("exits 0 and prints warnings", async () => {
    const s = singleInput();
    s.database.nodes = s.database.nodes.filter((n) => n.role === "data");
    const r = await cli(["check", "--config", jsonConfig("two-nodes", s)]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("[Warning] even-voting-nodes [pg-1, pg-2]");
    expect(r.out).toContain("0 error(s), 2 warning(s), 0 acknowledged.");
  });

  it("exits 2 on an error finding, with its rule id", async () => {
    const g = geoInput();
    g.database.nodes[4]!.name = "pgw-1";
    const r = await cli(["check", "--config", jsonConfig("dup", g)]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("[Error] unique-names [pgw-1]");
    expect(r.err).toContain("[Error] unique-node-ids");
  });

  it("--json lists the findings", async () => {
    const r = await cli(["check", "--config", geoJson, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual([expect.objectContaining({ ruleId: "location-loss-no-majority", level: "warning", acknowledged: expect.any(String) })]);
  });
});

describe("ems-ha report", () => {
  it("writes report.md and topology.svg", async () => {
    const out = join(dir, "review");
    const r = await cli(["report", "--config", geoJson, "--out", out]);
    expect(r.code).toBe(0);
    expect(readFileSync(join(out, "report.md"), "utf8")).toContain("# EMS HA review: ems-geo (geo-redundant)");
    expect(readFileSync(join(out, "topology.svg"), "utf8")).toContain("<svg");
  });

  it("writes nothing for a bad deployment", async () => {
    const g = geoInput();
    g.ems.vip = "vip.example.com";
    const out = join(dir, "bad-review");
    const r = await cli(["report", "--config", jsonConfig("bad", g), "--out", out]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("ems.vip");
    expect(existsSync(out)).toBe(false);
  });
});
