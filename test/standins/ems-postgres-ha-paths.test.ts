/**
 * The stand-in image plays the image's paths: the ones the toolkit writes into commands and mounts
 * (src/render/bitnami.ts) must be the ones the stand-in's scripts use, or a lab would test a
 * contract the product does not have.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BITNAMI_ENTRYPOINT, BITNAMI_REPMGR_CONF, REPMGR_CONF_MOUNT } from "../../src/render/bitnami";

const dir = join(__dirname, "ems-postgres-ha");
const lib = readFileSync(join(dir, "libstandin.sh"), "utf8");

describe("the stand-in image's paths are the toolkit's", () => {
  it("repmgr.conf", () => {
    expect(lib).toMatch(new RegExp(`^REPMGR_CONF=${BITNAMI_REPMGR_CONF.replace(/[.]/g, "\\.")}$`, "m"));
  });

  it("the mounted repmgr configuration's default directory", () => {
    expect(lib).toContain(`\${REPMGR_MOUNTED_CONF_DIR:-${REPMGR_CONF_MOUNT}}/repmgr.conf`);
  });

  it("the entrypoint the toolkit runs commands through", () => {
    const build = readFileSync(join(dir, "build.ts"), "utf8");
    const scriptsDir = BITNAMI_ENTRYPOINT.slice(0, BITNAMI_ENTRYPOINT.lastIndexOf("/"));
    expect(lib).toMatch(new RegExp(`^STANDIN_DIR=${scriptsDir}$`, "m"));
    // the image is built with its entrypoint there
    expect(build).toContain(`const SCRIPT_DIR = "${scriptsDir.slice(1)}";`);
    expect(build).toContain("Entrypoint: [`/${SCRIPT_DIR}/entrypoint.sh`]");
    expect(BITNAMI_ENTRYPOINT.endsWith("/entrypoint.sh")).toBe(true);
  });
});
