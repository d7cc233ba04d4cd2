/**
 * A repmgr.conf change restarts repmgrd even when the preparation (a run of its own, before the
 * join) is the run that rewrote the file: the join then finds it unchanged, and only the marker the
 * preparation leaves says that repmgrd still runs with the old settings. Real bash, the setup
 * script's own functions, files under a temporary root.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { Deployment } from "../../src/config";
import { nativeMembers } from "../../src/render/native/layout";
import { renderSetupScript } from "../../src/render/native/setup-script";
import { bashFunction } from "../helpers/bash-function";
import { tempDir } from "../helpers/tmp";
import { exampleDeployment } from "./helpers";

const part = (script: string, from: string, to: string) => script.slice(script.indexOf(from), script.indexOf(to, script.indexOf(from)));

function functions(d: Deployment): { lib: string; files: string; repmgrd: string } {
  const s = renderSetupScript(d, nativeMembers(d)[0]!);
  return {
    lib: part(s, "log() {", "install_packages() {"),
    files: bashFunction(s, "configure_files"),
    repmgrd: bashFunction(s, "configure_repmgrd"),
  };
}

describe("repmgrd follows a repmgr.conf the preparation rewrote", () => {
  it("prepare writes the new repmgr.conf, the join restarts repmgrd once, a later join leaves it alone", () => {
    const before = exampleDeployment();
    const after = exampleDeployment((i) => ({ ...i, database: { ...i.database, failover: { profile: "tuned" } } }));
    const v1 = functions(before);
    const v2 = functions(after);
    expect(v2.files).not.toEqual(v1.files); // the failover timing is in repmgr.conf
    const root = tempDir("ems-ha-repmgrd-");
    // Each run is a process of its own, as the preparation and the join are.
    const step = (fns: string, call: string) =>
      [
        "set -euo pipefail",
        "NODE_NAME=t",
        v2.lib,
        `eval "$(declare -f install_text | sed '1s/install_text/real_install_text/')"`,
        'install_text() { real_install_text "$ROOT$1" "$2" "$(id -un):$(id -gn)"; }',
        "merge_block() { cat >/dev/null; WROTE=0; }",
        "ensure_include_dir() { :; }",
        "ensure_datadir_include() { :; }",
        "systemctl() { :; }",
        "stop_stray_repmgrd() { :; }",
        'start_unit() { echo "start_unit $1 changed=$2"; }',
        'REPMGR_LOG_DIR="$ROOT/log" HBA_FILE="$ROOT/hba" STATE_DIR="$ROOT/state"',
        "PG_RESTART=0 PG_RELOAD=0 REPMGR_CONF_CHANGED=0",
        fns,
        call,
      ].join("\n");
    const run = (fns: string, call: string): string => {
      const r = spawnSync("bash", ["-c", step(fns, call)], { encoding: "utf8", timeout: 20_000, env: { PATH: process.env.PATH, ROOT: root, HOME: root } });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      return r.stdout
        .split("\n")
        .filter((l) => l.startsWith("start_unit"))
        .join("\n");
    };
    // First deploy: prepare and join of v1; then the join's repmgrd step starts it once.
    run(v1.files, "configure_files >/dev/null");
    expect(run(`${v1.files}\n${v1.repmgrd}`, "configure_files >/dev/null; configure_repmgrd")).toBe("start_unit repmgrd changed=1");
    expect(run(`${v1.files}\n${v1.repmgrd}`, "configure_files >/dev/null; configure_repmgrd")).toBe("start_unit repmgrd changed=0");
    // The change: the preparation rewrites repmgr.conf; the join (a new process) sees it unchanged.
    run(v2.files, "configure_files >/dev/null");
    expect(run(`${v2.files}\n${v2.repmgrd}`, "configure_files >/dev/null; configure_repmgrd")).toBe("start_unit repmgrd changed=1");
    expect(run(`${v2.files}\n${v2.repmgrd}`, "configure_files >/dev/null; configure_repmgrd")).toBe("start_unit repmgrd changed=0");
  });
});
