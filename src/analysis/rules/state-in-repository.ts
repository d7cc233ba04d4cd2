import { existsSync } from "node:fs";
import { relative, resolve, sep } from "node:path";
import { defaultStateRoot, legacyStatePath, repositoryOf } from "../../config/state";
import type { Deployment } from "../../config/schema";
import type { TopologyRule } from "./rule";

function inside(path: string, dir: string): boolean {
  const r = relative(dir, path);
  return r === "" || (!r.startsWith("..") && !r.startsWith(sep) && r !== "..");
}

/**
 * Terraform state holds every secret of the deployment in clear: with the local backend it must
 * not be written inside the git repository the deployment lives in (docs/ci.md#remote-state-and-locking).
 * Checks the directory the state would go to, from the working directory ems-ha runs in.
 */
export function stateInRepositoryRule(cwd: () => string = () => process.cwd(), env: () => NodeJS.ProcessEnv = () => process.env): TopologyRule {
  return {
    id: "state-in-repository",
    level: "warning",
    summary: "local Terraform state (it holds the secrets) is kept outside the git repository",
    check: (d: Deployment) => {
      if (d.state && d.state.kind !== "local") return [];
      const here = cwd();
      const repo = repositoryOf(here);
      if (!repo) return [];
      const e = env();
      const legacy = [d.topology, d.name].map((id) => legacyStatePath(id, here)).find((p) => existsSync(p));
      const where = e.EMS_HA_TF_STATE_DIR
        ? { path: resolve(here, e.EMS_HA_TF_STATE_DIR), from: "EMS_HA_TF_STATE_DIR" }
        : legacy
          ? { path: legacy, from: "an existing state file at cdktf's old default" }
          : d.state?.dir
            ? { path: resolve(here, d.state.dir), from: "state.dir" }
            : { path: defaultStateRoot(e), from: "the default ($XDG_STATE_HOME/ems-ha)" };
      if (!inside(where.path, repo)) return [];
      return [
        {
          nodes: [],
          message: `Terraform state would be written to ${where.path} (${where.from}), inside the git repository ${repo}; state holds the deployment's secrets in clear`,
          fix: legacy
            ? `move ${legacy} to ${defaultStateRoot(e)}/<stack>/terraform.tfstate (or a remote backend), then delete it from the repository`
            : 'set state.dir to a directory outside the repository, or use a remote backend (state: { kind: "s3" | "pg" | "http" | "remote", ... })',
        },
      ];
    },
  };
}

export const stateInRepository = stateInRepositoryRule();
