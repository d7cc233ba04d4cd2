import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scaledDeployment, writeDeploymentsDir } from "../../bench/synth";
import { loadDeploymentsDir } from "../../src/config/deployments";
import { checkLocalFiles, localFiles } from "../../src/config/local-files";
import { validateDeployment } from "../../src/config/parse";

// `npm run bench` synthesizes these deployments; one that synth refuses makes the bench fail
// (it did once the EMS node limit came in and the x10 case still asked for 20 EMS nodes).
describe("bench inputs", () => {
  it.each([1, 10])("the single-region deployment scaled x%i is one the schema accepts", (factor) => {
    const r = validateDeployment(scaledDeployment(factor));
    expect(r.issues).toEqual([]);
    expect(r.ok).toBe(true);
  });
});

describe("the bench's deployments directory", () => {
  it("holds deployments that load, and every local file they name exists with its sha256 (synth checks them)", () => {
    const dir = mkdtempSync(join(tmpdir(), "ems-ha-bench-inputs-"));
    try {
      writeDeploymentsDir(join(dir, "d"), 3, join(dir, "state"));
      const entries = loadDeploymentsDir(join(dir, "d"));
      expect(entries.map((e) => e.deployment.name)).toEqual(["site-001", "site-002", "site-003"]);
      for (const e of entries) {
        // the examples do name such files: the check below is not vacuous
        expect(localFiles(e.deployment).length).toBeGreaterThan(0);
        expect(checkLocalFiles(e.deployment)).toEqual([]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
