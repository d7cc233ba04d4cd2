/**
 * The Docker stacks' bounded wait for exactly one writable primary, run in real bash with
 * stand-ins for `docker exec` and `psql` (no Docker engine here): the stand-in docker runs the
 * command locally with the container's environment; the stand-in psql answers per host from a file
 * and refuses when the password did not come from that environment.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderWaitPrimaryScript } from "../../src/render/docker-host";
import { tempDir } from "../helpers/tmp";

function run(roles: Record<string, "t" | "f" | "down">, attempts = 2) {
  const dir = tempDir("ems-ha-wait-");
  writeFileSync(
    join(dir, "roles"),
    Object.entries(roles)
      .map(([h, r]) => `${h} ${r}`)
      .join("\n") + "\n",
  );
  writeFileSync(
    join(dir, "docker"),
    `#!/bin/bash\n# stand-in: docker exec CONTAINER bash -c SCRIPT _ ARG\n[ "$1" = exec ] || exit 99\nshift 2\nexport POSTGRESQL_PASSWORD=from-container-env\nexec "$@"\n`,
  );
  writeFileSync(
    join(dir, "psql"),
    `#!/bin/bash\n[ "$PGPASSWORD" = from-container-env ] || { echo "password not from the container" >&2; exit 2; }\nwhile [ $# -gt 0 ]; do [ "$1" = -h ] && host=$2; shift; done\nr=$(awk -v h="$host" '$1 == h {print $2}' ${dir}/roles)\n[ "$r" = down ] && exit 2\necho " $r"\n`,
  );
  chmodSync(join(dir, "docker"), 0o755);
  chmodSync(join(dir, "psql"), 0o755);
  const script = renderWaitPrimaryScript("pg-1", 5432, "postgres", Object.keys(roles), { attempts, intervalSeconds: 1 });
  return spawnSync("bash", ["-c", script], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: "utf8", timeout: 30_000 });
}

describe("wait for exactly one writable primary (Docker stacks)", () => {
  it("succeeds when exactly one data node is writable", () => {
    const r = run({ "pg-1": "f", "pg-2": "t", "pg-3": "t" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("pg-1 is the one writable primary");
  });

  it("keeps waiting, bounded, while two nodes are writable (split brain) and fails naming them", () => {
    const r = run({ "pg-1": "f", "pg-2": "f" });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("2 now (pg-1 pg-2) (2/2)");
    expect(r.stderr).toMatch(/no single writable primary among pg-1 pg-2 within 2 s/);
  });

  it("fails when no node answers as primary", () => {
    const r = run({ "pg-1": "down", "pg-2": "t" });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("0 now (none)");
  });
});
