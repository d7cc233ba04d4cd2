/**
 * Host key policy of the operations commands: trust on first use, kept in an
 * OpenSSH-format known_hosts file, refusal on a mismatch.
 *
 * - File: $EMS_HA_KNOWN_HOSTS, else ~/.config/ems-ha/known_hosts.
 * - $EMS_HA_INSECURE_HOST_KEYS=1 accepts any key and records nothing (labs only).
 *
 * Entries are `host keytype base64` (port 22) or `[host]:port keytype base64`; hashed
 * names (`|1|salt|hash`, as `ssh-keygen -H` writes them) and `*`/`?` patterns are read too,
 * so an existing ~/.ssh/known_hosts can be pointed at.
 */
import { createHmac } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, resolve } from "node:path";

export const KNOWN_HOSTS_ENV = "EMS_HA_KNOWN_HOSTS";
export const INSECURE_HOST_KEYS_ENV = "EMS_HA_INSECURE_HOST_KEYS";

export interface HostKeyPolicy {
  readonly knownHostsPath: string;
  /** Accept any host key (labs). */
  readonly insecure: boolean;
}

/** Expands a leading ~ to the home directory. */
export function expandHome(path: string, env: NodeJS.ProcessEnv = process.env): string {
  if (path === "~" || path.startsWith("~/")) return resolve(env.HOME || homedir(), `.${path.slice(1)}`);
  return path;
}

export function hostKeyPolicyFromEnv(env: NodeJS.ProcessEnv): HostKeyPolicy {
  const explicit = env[KNOWN_HOSTS_ENV];
  const knownHostsPath = explicit ? expandHome(explicit, env) : resolve(env.HOME || homedir(), ".config/ems-ha/known_hosts");
  const flag = (env[INSECURE_HOST_KEYS_ENV] ?? "").toLowerCase();
  return { knownHostsPath, insecure: flag === "1" || flag === "true" || flag === "yes" };
}

/** The name a host is recorded under: `host` for port 22, `[host]:port` otherwise. */
export function hostEntryName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The key type inside an SSH public key blob (its first string), e.g. ssh-ed25519. */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const len = blob.readUInt32BE(0);
  if (len <= 0 || len > 64 || 4 + len > blob.length) return "unknown";
  return blob.subarray(4, 4 + len).toString("latin1");
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "i",
  );
  return re.test(name);
}

function hashedMatch(pattern: string, name: string): boolean {
  const parts = pattern.split("|");
  if (parts.length !== 4 || parts[1] !== "1") return false;
  const salt = Buffer.from(parts[2]!, "base64");
  return createHmac("sha1", salt).update(name).digest("base64") === parts[3];
}

/** Whether the comma-separated host patterns of a line name `name` (a negated match excludes it). */
export function patternsMatch(patterns: string, name: string): boolean {
  let matched = false;
  for (const p of patterns.split(",")) {
    if (p.startsWith("|")) {
      if (hashedMatch(p, name)) matched = true;
    } else if (p.startsWith("!")) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) matched = true;
  }
  return matched;
}

export interface KnownKey {
  readonly type: string;
  readonly key: Buffer;
}

/** The keys the file records for a host (marker lines such as @cert-authority are ignored). */
export function knownKeys(text: string, host: string, port: number): KnownKey[] {
  const name = hostEntryName(host, port);
  const keys: KnownKey[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("@")) continue;
    const [patterns, type, b64] = line.split(/\s+/);
    if (!patterns || !type || !b64) continue;
    if (patternsMatch(patterns, name)) keys.push({ type, key: Buffer.from(b64, "base64") });
  }
  return keys;
}

export type HostKeyDecision = { readonly accept: true; readonly record: boolean } | { readonly accept: false; readonly reason: string };

/** What the policy says about a presented key. Pure: the caller records a first-use key. */
export function decideHostKey(policy: HostKeyPolicy, known: ReadonlyArray<KnownKey>, host: string, port: number, presented: Buffer): HostKeyDecision {
  if (policy.insecure) return { accept: true, record: false };
  if (known.length === 0) return { accept: true, record: true };
  if (known.some((k) => k.key.equals(presented))) return { accept: true, record: false };
  const type = keyTypeOf(presented);
  return {
    accept: false,
    reason:
      `the SSH host key of ${hostEntryName(host, port)} (${type}) does not match the one recorded in ${policy.knownHostsPath}. ` +
      "The host was reinstalled or someone is intercepting the connection. If the change is expected, delete the host's line " +
      `from that file (ssh-keygen -R '${hostEntryName(host, port)}' -f ${policy.knownHostsPath}) and run again`,
  };
}

export function readKnownHosts(policy: HostKeyPolicy): string {
  return existsSync(policy.knownHostsPath) ? readFileSync(policy.knownHostsPath, "utf8") : "";
}

/** Appends a first-use key to the known_hosts file (its directory is created 0700). */
export function recordHostKey(policy: HostKeyPolicy, host: string, port: number, key: Buffer): void {
  mkdirSync(dirname(policy.knownHostsPath), { recursive: true, mode: 0o700 });
  appendFileSync(policy.knownHostsPath, `${hostEntryName(host, port)} ${keyTypeOf(key)} ${key.toString("base64")}\n`, { mode: 0o600 });
}

/**
 * ssh2 host key algorithms to offer when the file already knows the host: only the recorded
 * key types, so the server presents a key that can be compared (like OpenSSH does).
 */
export function hostKeyAlgorithms(known: ReadonlyArray<KnownKey>): string[] | undefined {
  if (known.length === 0) return undefined;
  const algs = new Set<string>();
  for (const k of known) {
    if (k.type === "ssh-rsa") ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"].forEach((a) => algs.add(a));
    else algs.add(k.type);
  }
  return [...algs];
}
