/**
 * The repmgr additions a Docker data node's container merges at every start
 * (src/render/bitnami.ts, dockerRepmgrFiles), merged as the stand-in image merges them.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import single from "../../examples/single-region";
import { parseDeployment } from "../../src/config/parse";
import type { DeploymentInput } from "../../src/config/schema";
import { containerSpec, dockerRepmgrFiles } from "../../src/render/bitnami";
import { tempDir } from "../helpers/tmp";

const LIB = join(__dirname, "../standins/ems-postgres-ha/libstandin.sh");

function withRerun(seconds: number | undefined) {
  const input = structuredClone(single) as DeploymentInput;
  input.database = { ...input.database, failover: { profile: "default", ...(seconds === undefined ? {} : { electionRerunIntervalSeconds: seconds }) } };
  return parseDeployment(input);
}

describe("a Docker data node's repmgr.conf additions", () => {
  it("only settings, one per line: the image's merge reads every line as a pattern (a blank one would drop all)", () => {
    const conf = dockerRepmgrFiles(withRerun(undefined)).repmgrConf;
    const lines = conf.split("\n");
    expect(lines.pop()).toBe("");
    for (const l of lines) expect(l).toMatch(/^[a-z_]+=\S/);
    expect(lines).toEqual(["failover_validation_command='/bin/bash /bitnami/repmgr/conf/ems-ha-validate-failover %n'", "election_rerun_interval=15"]);
    expect(dockerRepmgrFiles(withRerun(40)).repmgrConf).toContain("\nelection_rerun_interval=40\n");
  });

  it("data nodes only", () => {
    const d = withRerun(undefined);
    for (const n of d.database.nodes) expect(containerSpec(d, n).repmgrFiles === undefined).toBe(n.role === "witness");
  });

  it("win over the generated file's own keys when merged", () => {
    const dir = tempDir("ems-ha-repmgr-files-");
    mkdirSync(join(dir, "mounted"));
    writeFileSync(join(dir, "mounted", "repmgr.conf"), dockerRepmgrFiles(withRerun(9)).repmgrConf);
    writeFileSync(join(dir, "repmgr.conf"), "node_id=1002\nelection_rerun_interval=15\nlog_level=INFO\n");
    const r = spawnSync("bash", ["-c", `source ${LIB}; REPMGR_MOUNTED_CONF_DIR=${dir}/mounted standin_merge_mounted_repmgr_conf ${dir}/repmgr.conf`], {
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(dir, "repmgr.conf"), "utf8")).toBe(
      "node_id=1002\nlog_level=INFO\nfailover_validation_command='/bin/bash /bitnami/repmgr/conf/ems-ha-validate-failover %n'\nelection_rerun_interval=9\n",
    );
  });
});
