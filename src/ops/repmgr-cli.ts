/**
 * The repmgr command line on a DB node's host, as the ops commands run it over SSH:
 * - Docker topologies: `docker exec <node> /opt/bitnami/scripts/postgresql-repmgr/entrypoint.sh
 *   repmgr -f /opt/bitnami/repmgr/conf/repmgr.conf ...`
 * - native: `sudo -n -u postgres repmgr -f /etc/repmgr.conf ...`
 *
 * $EMS_HA_REPMGR_CONF names another repmgr.conf for the native hosts (hosts laid out
 * differently, and tests); "{node}" in it is replaced by the node's name.
 */
import { DOCKER_TOPOLOGIES } from "../config/semantics";
import type { DbNodeConfig, Deployment } from "../config/schema";
import { REPMGR_IN_CONTAINER } from "../render/docker-cli";
import { nativeLayout } from "../render/native/layout";
import { shellQuote } from "../render/shell-quote";

export const REPMGR_CONF_ENV = "EMS_HA_REPMGR_CONF";
const BITNAMI_REPMGR = REPMGR_IN_CONTAINER;

/** The repmgr.conf of a native node. */
export function repmgrConfPath(d: Deployment, node: Pick<DbNodeConfig, "name">, env: NodeJS.ProcessEnv): string {
  const override = env[REPMGR_CONF_ENV];
  return override ? override.split("{node}").join(node.name) : nativeLayout(d.native?.pgVersion ?? 15).repmgrConf;
}

/** `repmgr <args>` on the node's host; every argument is quoted. */
export function repmgrCommand(d: Deployment, node: Pick<DbNodeConfig, "name">, env: NodeJS.ProcessEnv, args: ReadonlyArray<string>): string {
  const rest = args.map(shellQuote).join(" ");
  if (DOCKER_TOPOLOGIES.has(d.topology)) return `docker exec ${shellQuote(node.name)} ${BITNAMI_REPMGR} ${rest}`;
  return `sudo -n -u postgres repmgr -f ${shellQuote(repmgrConfPath(d, node, env))} ${rest}`;
}
