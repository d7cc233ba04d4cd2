/**
 * What the reconciliation service keeps on a host (saved WAL of rewinds, data directories set aside
 * before a re-clone), as `ems-ha status` lists it: the command run here with the machine's real
 * bash and du, its parsing and the table. test/ops/cluster.test.ts runs status and `ack-rewind
 * --remove-wal` over a real sshd.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { keptCommand, listMarkersCommand, parseKept, parseMarkers } from "../../src/ops/rewind";
import { renderStatusTable, type ClusterStatus } from "../../src/ops/status";
import { tempDir } from "../helpers/tmp";

function run(command: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync("bash", ["-c", command], { encoding: "utf8", timeout: 20_000, env });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe("what self-healing keeps", () => {
  it("lists one node's saved WAL (acknowledged or not) and its set-aside data directories with du's sizes, and nothing of a node whose name starts alike", () => {
    const dir = tempDir("ems-ha-kept-");
    const data = join(dir, "pg", "main");
    mkdirSync(data, { recursive: true });
    for (const [name, kb] of [
      ["rewind-pg-1-20261101T000000Z.wal", 512],
      ["rewind-pg-1-20261002T000000Z.wal", 256],
      ["rewind-pg-1-b-20261101T000000Z.wal", 128],
      ["rewind-pg-1-20261101T000000Z.wal.tmp", 64],
    ] as const) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, "seg"), Buffer.alloc(kb * 1024, 1));
    }
    writeFileSync(join(dir, "rewind-pg-1-20261101T000000Z.txt"), "node: pg-1\n");
    writeFileSync(join(dir, "rewind-pg-1-b-20261101T000000Z.txt"), "node: pg-1-b\n");
    mkdirSync(join(dir, "pg", "main.pre-rejoin-20261103120000"));
    writeFileSync(join(dir, "pg", "main.pre-rejoin-20261103120000", "PG_VERSION"), Buffer.alloc(1024 * 1024, 1));
    // a file, not a directory, is not something kept
    writeFileSync(join(dir, "pg", "main.pre-rejoin-note"), "x");

    const out = run(`${listMarkersCommand(dir, "pg-1")}; ${keptCommand(dir, "pg-1", data)}`);
    const markers = parseMarkers("pg-1", out);
    expect(markers.map((m) => m.file)).toEqual([join(dir, "rewind-pg-1-20261101T000000Z.txt")]);
    expect(markers[0]!.summary).toEqual(["node: pg-1"]);
    const kept = parseKept("pg-1", out, markers);
    expect(kept.map((k) => [k.kind, k.path, k.acknowledged])).toEqual([
      ["rewind-wal", join(dir, "rewind-pg-1-20261002T000000Z.wal"), true],
      ["rewind-wal", join(dir, "rewind-pg-1-20261101T000000Z.wal"), false],
      ["old-data-dir", `${data}.pre-rejoin-20261103120000`, undefined],
    ]);
    // du -sk: the file's blocks plus the directory's own (filesystem-dependent, a few kB)
    const sizes = kept.map((k) => k.kb!);
    for (const [i, want] of [256, 512, 1024].entries()) {
      expect(sizes[i]).toBeGreaterThanOrEqual(want);
      expect(sizes[i]).toBeLessThan(want + 64);
    }
    // without a data directory (Docker hosts) only the saved WAL
    expect(parseKept("pg-1", run(keptCommand(dir, "pg-1")), []).map((k) => k.kind)).toEqual(["rewind-wal", "rewind-wal"]);
    // nothing kept: no line
    expect(run(keptCommand(join(dir, "none"), "pg-1", join(dir, "none", "main")))).toBe("");
  });

  it("a directory du cannot measure is listed with an unknown size, shown as ?", () => {
    const dir = tempDir("ems-ha-kept-");
    mkdirSync(join(dir, "rewind-pg-2-20261101T000000Z.wal"));
    const bin = join(dir, "bin");
    mkdirSync(bin);
    // a du that fails as it does for a user who may not read the directory (the SSH user is not root)
    writeFileSync(join(bin, "du"), "#!/bin/sh\necho \"du: cannot read directory '$3': Permission denied\" >&2\nexit 1\n");
    chmodSync(join(bin, "du"), 0o755);
    const kept = parseKept("pg-2", run(keptCommand(dir, "pg-2"), { ...process.env, PATH: `${bin}:${process.env.PATH}` }), []);
    expect(kept).toEqual([{ node: "pg-2", kind: "rewind-wal", path: join(dir, "rewind-pg-2-20261101T000000Z.wal"), kb: null, acknowledged: true }]);
    const s: ClusterStatus = {
      name: "t",
      topology: "native-single-region",
      dbNodes: [],
      writablePrimaries: [],
      emsNodes: [],
      rewinds: [],
      fenced: [],
      kept: [...kept, { node: "pg-1", kind: "old-data-dir", path: "/var/lib/postgresql/15/main.pre-rejoin-20261103120000", kb: 5 * 1024 * 1024 }],
      degraded: false,
      reasons: [],
      warnings: [],
    };
    const table = renderStatusTable(s);
    expect(table).toMatch(/Kept by self-healing/);
    expect(table).toMatch(/pg-2\s+saved WAL, acknowledged\s+\?\s+\S+rewind-pg-2-20261101T000000Z\.wal/);
    expect(table).toMatch(/pg-1\s+data directory set aside\s+5\.0 GB\s+\/var\/lib\/postgresql\/15\/main\.pre-rejoin-20261103120000/);
  });

  it("parses a kept line's path as the host's text without control characters", () => {
    expect(parseKept("pg-1", "==K 12\t/d/main.pre-rejoin-\x1b[2Jx\n==K -\t/s/rewind-pg-1-20261101T000000Z.wal\nnoise\n==K 7 no tab\n", [])).toEqual([
      { node: "pg-1", kind: "old-data-dir", path: "/d/main.pre-rejoin-?[2Jx", kb: 12 },
      { node: "pg-1", kind: "rewind-wal", path: "/s/rewind-pg-1-20261101T000000Z.wal", kb: null, acknowledged: true },
    ]);
  });
});
