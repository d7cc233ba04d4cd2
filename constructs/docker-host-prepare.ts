/**
 * The host preparation step of a Docker DB host (Docker, conf.d/extra.conf, the image loaded or
 * pulled), one RemoteScript shared by both container engines: PgHaNode / WitnessNode (docker
 * provider) and SshPgHaNode / SshWitnessNode (docker CLI over SSH). Same construct id, step name,
 * script and triggers for both, so switching database.docker.engine does not run it again.
 */
import type { Construct } from "constructs";
import type { DbNodeConfig, Deployment } from "../src/config/schema";
import type { ContainerSpec } from "../src/render/bitnami";
import { renderHostPrepScript } from "../src/render/docker-host";
import { shellQuote } from "../src/render/shell-quote";
import { RemoteScript } from "./remote-script";

/**
 * The host preparation, plus (for an SSH user other than root) that user's membership of the
 * `docker` group: the docker provider runs `docker system dial-stdio` as the SSH user, over a new
 * session each time, so the membership applies from the first docker call. The user already has
 * passwordless sudo (docs/configuration.md, "Non-root SSH users"), so this grants nothing new.
 * (The ssh engine runs docker through sudo and does not need it; the step stays the same for both.)
 */
export function withDockerAccess(prepScript: string, user: string): string {
  if (user === "root") return prepScript;
  return [
    prepScript.replace(/\n$/, ""),
    `if ! id -nG ${shellQuote(user)} | tr ' ' '\\n' | grep -qx docker; then`,
    `  usermod -aG docker ${shellQuote(user)}`,
    `  echo "[ems-ha] ${user.replace(/[^A-Za-z0-9._-]/g, "?")} may now use Docker (group docker)"`,
    "fi",
    "",
  ].join("\n");
}

/**
 * The `prepare` step (construct id "prepare" under `scope`) of a Docker DB host. Re-runs when the
 * host, the image (tarball sha256, or the reference) or the script changes.
 */
export function dockerHostPrepare(scope: Construct, d: Deployment, node: DbNodeConfig, spec: ContainerSpec): RemoteScript {
  const img = d.database.image;
  return new RemoteScript(scope, "prepare", {
    host: node,
    policy: d.ssh,
    name: "prepare-host",
    script: withDockerAccess(renderHostPrepScript(d, node, spec.extraConf, spec.repmgrFiles), node.ssh.user),
    triggers: { host: node.address, image: img.source.kind === "tarball" ? img.source.sha256 : `${spec.image}` },
    timeout: "10m",
  });
}
