/**
 * Files of a deployment that live on the machine running Terraform: the EMS installer, the
 * EMS extensions tarball, SSH private keys, the FortiGate CA bundle and the known_hosts file.
 *
 * cdktf runs Terraform inside cdktf.out/stacks/<stack>/, so a relative path written into the
 * synthesized JSON would resolve there, not where the user wrote it. `resolveLocalPaths` makes
 * every such path absolute at synth time, relative to the deployment file (a leading `~/` is the
 * home directory), and `checkLocalFiles` reports a missing file or a sha256 that does not match
 * before anything is applied. docs/configuration.md, "Local files".
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import type { ConfigIssue } from "./errors";
import type { Deployment, SshSettings } from "./schema";

/** Set to 1 to turn missing-file and checksum errors into warnings (CI machines without the files). */
export const OFFLINE_FILES_ENV = "EMS_HA_OFFLINE_FILES";

export function offlineFiles(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test(env[OFFLINE_FILES_ENV] ?? "");
}

/** An absolute path: `~/x` under the home directory, a relative path under `baseDir`. */
export function absoluteLocalPath(path: string, baseDir: string = process.cwd(), home: string = process.env.HOME || homedir()): string {
  if (path === "~" || path.startsWith("~/")) return resolve(home, `.${path.slice(1)}`);
  return isAbsolute(path) ? resolve(path) : resolve(baseDir, path);
}

/** One local file the deployment names. */
export interface LocalFile {
  /** The field, e.g. installer.source.path or database.nodes[0].ssh.privateKeyPath. */
  readonly field: string;
  readonly path: string;
  /** Expected sha256, when the deployment gives one. */
  readonly sha256?: string;
}

/** Every local file of the deployment, in field order. */
export function localFiles(d: Deployment): LocalFile[] {
  const out: LocalFile[] = [];
  if (d.installer.source.kind === "file") out.push({ field: "installer.source.path", path: d.installer.source.path, sha256: d.installer.source.sha256 });
  if (d.native?.extensions) out.push({ field: "native.extensions.path", path: d.native.extensions.path, sha256: d.native.extensions.sha256 });
  if (d.standalone?.mode === "managed" && d.standalone.extensions) {
    out.push({ field: "standalone.extensions.path", path: d.standalone.extensions.path, sha256: d.standalone.extensions.sha256 });
  }
  if (d.fortigate?.caBundleFile) out.push({ field: "fortigate.caBundleFile", path: d.fortigate.caBundleFile });
  if (d.ssh.knownHostsFile) out.push({ field: "ssh.knownHostsFile", path: d.ssh.knownHostsFile });
  const keys = new Set<string>();
  const key = (field: string, ssh: SshSettings) => {
    if (!ssh.privateKeyPath || keys.has(ssh.privateKeyPath)) return;
    keys.add(ssh.privateKeyPath);
    out.push({ field, path: ssh.privateKeyPath });
  };
  d.emsNodes.forEach((n, i) => key(`emsNodes[${i}].ssh.privateKeyPath`, n.ssh));
  d.database.nodes.forEach((n, i) => key(`database.nodes[${i}].ssh.privateKeyPath`, n.ssh));
  return out;
}

/** The same deployment with every local path absolute (relative to `baseDir`, the deployment file's directory). */
export function resolveLocalPaths(d: Deployment, baseDir: string): Deployment {
  const abs = (p: string) => absoluteLocalPath(p, baseDir);
  const ssh = <T extends { ssh: SshSettings }>(n: T): T => (n.ssh.privateKeyPath ? { ...n, ssh: { ...n.ssh, privateKeyPath: abs(n.ssh.privateKeyPath) } } : n);
  const src = d.installer.source;
  return {
    ...d,
    emsNodes: d.emsNodes.map(ssh),
    database: { ...d.database, nodes: d.database.nodes.map(ssh) },
    installer: { ...d.installer, source: src.kind === "file" ? { ...src, path: abs(src.path) } : src },
    ...(d.native
      ? { native: { ...d.native, ...(d.native.extensions ? { extensions: { ...d.native.extensions, path: abs(d.native.extensions.path) } } : {}) } }
      : {}),
    ...(d.standalone
      ? {
          standalone:
            d.standalone.mode === "managed" && d.standalone.extensions
              ? { ...d.standalone, extensions: { ...d.standalone.extensions, path: abs(d.standalone.extensions.path) } }
              : d.standalone,
        }
      : {}),
    ...(d.fortigate ? { fortigate: { ...d.fortigate, ...(d.fortigate.caBundleFile ? { caBundleFile: abs(d.fortigate.caBundleFile) } : {}) } } : {}),
    ssh: { ...d.ssh, ...(d.ssh.knownHostsFile ? { knownHostsFile: abs(d.ssh.knownHostsFile) } : {}) },
  };
}

const digests = new Map<string, string>();

/** sha256 of a file, read in 1 MiB chunks (installers are large); cached per path, size and mtime. */
export function sha256OfFile(path: string): string {
  const st = statSync(path);
  const key = `${path}\u0000${st.size}\u0000${st.mtimeMs}`;
  const hit = digests.get(key);
  if (hit) return hit;
  const hex = hashFile(path);
  digests.set(key, hex);
  return hex;
}

/** sha256 of a file as it is now, read in 1 MiB chunks, never cached (for checking that a file is unchanged). */
export function hashFile(path: string): string {
  const h = createHash("sha256");
  const buf = Buffer.alloc(1 << 20);
  const fd = openSync(path, "r");
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

/** A missing file, a directory where a file belongs, or a checksum that does not match. Paths are used as given. */
export function checkLocalFiles(d: Deployment): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const f of localFiles(d)) {
    if (!existsSync(f.path)) {
      issues.push({
        path: f.field,
        value: f.path,
        message: "the file does not exist on this machine",
        fix: `put the file there or correct the path (relative paths are relative to the deployment file); set ${OFFLINE_FILES_ENV}=1 to synthesize without it`,
      });
      continue;
    }
    if (!statSync(f.path).isFile()) {
      issues.push({ path: f.field, value: f.path, message: "is not a regular file", fix: "name the file itself" });
      continue;
    }
    if (f.sha256) {
      const actual = sha256OfFile(f.path);
      if (actual !== f.sha256) {
        issues.push({
          path: f.field,
          value: f.path,
          message: `sha256 is ${actual}, the deployment expects ${f.sha256}`,
          fix: "use the file the checksum belongs to, or update the sha256 next to the path (sha256sum FILE)",
        });
      }
    }
  }
  return issues;
}
