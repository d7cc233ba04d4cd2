/** Scripts run over SSH on a Docker DB host: preparation (conf.d, image) and the primary wait. */
import type { DbNodeConfig, Deployment } from "../config/schema";
import { imageRef, type DockerRepmgrFiles } from "./bitnami";
import { heredoc, raw, sh, shellSingleQuote, words } from "./escape";

/**
 * Prepares a DB host before its container: writes conf.d/extra.conf (data nodes) with the
 * guide's permissions, and makes the image present (docker load of the tarball after checking
 * its sha256, skipped when the image is already there). Data nodes also get their mounted repmgr
 * configuration (database.repmgrConfDir): repmgr.conf's additions, read at the container's next
 * start, and the failover validation script, used from the next election on. Idempotent.
 */
export function renderHostPrepScript(d: Deployment, node: DbNodeConfig, extraConf: string | undefined, repmgrFiles?: DockerRepmgrFiles): string {
  const img = d.database.image;
  const ref = imageRef(d);
  const dir = d.database.confDir.replace(/\/+$/, "");
  // Always single-quoted, as the scripts have shown them since the first release.
  const q = (v: string) => raw(shellSingleQuote(v));
  const lines = [
    "#!/usr/bin/env bash",
    sh`# ems-ha: prepare DB host ${node.name}. Generated; do not edit.`,
    "set -euo pipefail",
    sh`log() { echo "[ems-ha ${node.name}] $*"; }`,
  ];
  if (d.database.installDocker) {
    lines.push(
      "if ! command -v docker >/dev/null; then",
      `  log "installing Docker (the guide: apt install docker.io)"`,
      "  if command -v apt-get >/dev/null; then DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io;",
      "  elif command -v dnf >/dev/null; then dnf install -y docker;",
      sh`  else echo "ems-ha: no apt-get or dnf on ${node.name}; install Docker by hand" >&2; exit 1; fi`,
      "  systemctl enable --now docker",
      "fi",
    );
  }
  lines.push(
    sh`command -v docker >/dev/null || { echo "ems-ha: docker is not installed on ${node.name}; install it (apt install docker.io) or set database.installDocker" >&2; exit 1; }`,
    sh`docker info >/dev/null 2>&1 || { echo "ems-ha: the Docker daemon on ${node.name} does not answer (systemctl status docker)" >&2; exit 1; }`,
  );
  if (extraConf !== undefined) {
    lines.push(
      sh`mkdir -p ${dir}`,
      heredoc(sh`cat > ${`${dir}/extra.conf.new`}`, "EMS_HA_EXTRA_CONF", extraConf),
      sh`if ! cmp -s ${`${dir}/extra.conf.new`} ${`${dir}/extra.conf`}; then`,
      sh`  mv ${`${dir}/extra.conf.new`} ${`${dir}/extra.conf`}`,
      `  log "extra.conf (PGTune) written"`,
      sh`  if docker inspect ${node.name} >/dev/null 2>&1; then docker kill -s HUP ${node.name} >/dev/null && log "reload signalled; settings such as shared_buffers apply at the next restart"; fi`,
      "else",
      sh`  rm -f ${`${dir}/extra.conf.new`}`,
      "fi",
      "# The guide: root group with group read/write so the container (uid 1001, gid 0) can read it.",
      sh`chgrp -R root ${dir}`,
      sh`chmod -R g+rwX ${dir}`,
    );
  }
  if (repmgrFiles !== undefined) {
    const rdir = d.database.repmgrConfDir.replace(/\/+$/, "");
    lines.push(sh`mkdir -p ${rdir}`, sh`chmod 0755 ${rdir}`);
    const files: Array<[string, string, string, string]> = [
      ["ems-ha-validate-failover", "0755", repmgrFiles.validateScript, "the failover validation script written (used from the next election on)"],
      ["repmgr.conf", "0644", repmgrFiles.repmgrConf, "repmgr.conf additions written (read at the container's next start)"],
    ];
    for (const [name, mode, content, said] of files) {
      const f = `${rdir}/${name}`;
      lines.push(
        heredoc(sh`cat > ${`${f}.new`}`, "EMS_HA_REPMGR_FILE", content),
        sh`chmod ${mode} ${`${f}.new`}`,
        sh`if ! cmp -s ${`${f}.new`} ${f}; then mv ${`${f}.new`} ${f}; log ${said}; else rm -f ${`${f}.new`}; fi`,
      );
    }
  }
  if (img.source.kind === "tarball") {
    const t = img.source;
    const marker = `/var/lib/ems-ha/image-${t.sha256}`;
    lines.push(
      sh`if docker image inspect ${q(ref)} >/dev/null 2>&1 && [ -f ${marker} ]; then`,
      sh`  log "image ${ref} already loaded from this tarball"`,
      "else",
      sh`  [ -f ${q(t.path)} ] || { echo "ems-ha: ${t.path} not found on ${node.name}; copy forticlientems_postgres-ha.tar.gz there" >&2; exit 1; }`,
      sh`  echo "${t.sha256}  ${t.path}" | sha256sum -c --status || { echo "ems-ha: ${t.path} on ${node.name} does not match sha256 ${t.sha256}" >&2; exit 1; }`,
      sh`  log "loading ${t.path}"`,
      sh`  docker load -i ${q(t.path)}`,
      sh`  docker image inspect ${q(ref)} >/dev/null || { echo "ems-ha: the tarball did not contain ${ref}; set database.image.name/tag to what docker load printed" >&2; exit 1; }`,
      sh`  mkdir -p /var/lib/ems-ha && touch ${marker}`,
      "fi",
    );
  }
  return lines.join("\n") + "\n";
}

export interface WaitOptions {
  /** Attempts before failing. @default 60 */
  readonly attempts?: number;
  /** Seconds between attempts. @default 5 */
  readonly intervalSeconds?: number;
}

/**
 * Waits (bounded) until exactly one data node answers as a writable primary: the check of
 * `ems-ha wait-primary`, run from inside the initial primary's container on its host, so the
 * machine running Terraform needs no database access. The password is read from the
 * container's own environment, never passed on the command line.
 */
export function renderWaitPrimaryScript(containerName: string, port: number, user: string, dataNodes: ReadonlyArray<string>, o: WaitOptions = {}): string {
  const attempts = o.attempts ?? 60;
  const interval = o.intervalSeconds ?? 5;
  const nodes = dataNodes.length > 0 ? dataNodes : [containerName];
  return (
    [
      "#!/usr/bin/env bash",
      "set -uo pipefail",
      sh`nodes=(${words(nodes)})`,
      sh`CONTAINER=${containerName}`,
      sh`for i in $(seq 1 ${attempts}); do`,
      "  writable=()",
      '  for n in "${nodes[@]}"; do',
      sh`    r=$(docker exec "$CONTAINER" bash -c 'PGPASSWORD="$POSTGRESQL_PASSWORD" PGCONNECT_TIMEOUT=3 psql -h "$1" -p "$2" -U "$3" -d postgres -tAc "select pg_is_in_recovery()"' _ "$n" ${port} ${user} 2>/dev/null | tr -d '[:space:]')`,
      '    [ "$r" = "f" ] && writable+=("$n")',
      "  done",
      '  if [ "${#writable[@]}" -eq 1 ]; then echo "[ems-ha] ${writable[0]} is the one writable primary"; exit 0; fi',
      sh`  echo "[ems-ha] waiting for exactly one writable primary among \${nodes[*]}: \${#writable[@]} now (\${writable[*]:-none}) ($i/${attempts})"`,
      sh`  sleep ${interval}`,
      "done",
      sh`echo "ems-ha: no single writable primary among \${nodes[*]} within ${attempts * interval} s; check: docker logs ${containerName}" >&2`,
      "exit 1",
    ].join("\n") + "\n"
  );
}
