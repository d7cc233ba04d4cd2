/**
 * Placeholder checksums. The examples carry 64 zeros where the real sha256 of the installer,
 * image tarball or extensions tarball belongs; that is fine for `ems-ha check` (a warning) but
 * nothing may be deployed with it: `assertRealChecksums` is what synth and deploy call.
 */
import { ConfigError, type ConfigIssue } from "./errors";
import type { Deployment } from "./schema";
import { isPlaceholderSha256 } from "./values";

/** Every sha256 field of the deployment, with its path and what it verifies. */
export function checksumFields(d: Deployment): Array<{ path: string; sha256: string; what: string }> {
  const out: Array<{ path: string; sha256: string; what: string }> = [];
  out.push({ path: "installer.source.sha256", sha256: d.installer.source.sha256, what: "the EMS installer" });
  const img = d.database.image.source;
  if (img.kind === "tarball") out.push({ path: "database.image.source.sha256", sha256: img.sha256, what: "the PostgreSQL HA image tarball" });
  if (d.native?.extensions) out.push({ path: "native.extensions.sha256", sha256: d.native.extensions.sha256, what: "the EMS extensions tarball" });
  if (d.standalone?.mode === "managed" && d.standalone.extensions) {
    out.push({ path: "standalone.extensions.sha256", sha256: d.standalone.extensions.sha256, what: "the EMS extensions tarball" });
  }
  return out;
}

/** The checksum fields that hold a placeholder (one hex digit repeated, e.g. 64 zeros). */
export function placeholderChecksums(d: Deployment): ConfigIssue[] {
  return checksumFields(d)
    .filter((f) => isPlaceholderSha256(f.sha256))
    .map((f) => ({
      path: f.path,
      value: f.sha256,
      message: `a placeholder, not the checksum of ${f.what}: the file could not be verified`,
      fix: "put the output of `sha256sum <file>` here",
    }));
}

/** For synth and deploy: throws ConfigError (exit 2) when a checksum is a placeholder. */
export function assertRealChecksums(d: Deployment, source?: string): void {
  const issues = placeholderChecksums(d);
  if (issues.length > 0) throw new ConfigError(issues, source);
}
