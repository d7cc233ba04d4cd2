/**
 * What a single value of a deployment may be: paths, user names, Docker references, FortiOS
 * names, IP addresses, CIDRs and host names. Each is a zod schema whose failures carry a fix
 * (in `params.fix`), so `ems-ha check` can say how to correct the value. The rules and their
 * sources are in docs/configuration.md ("Value rules").
 */
import { isIP } from "node:net";
import { z } from "zod";

/** A zod refinement context's issue, with the fix parse.ts prints. */
function fail(ctx: z.RefinementCtx, message: string, fix: string): void {
  ctx.addIssue({ code: z.ZodIssueCode.custom, message, params: { fix } });
}

/** C0 controls, DEL, C1 controls and the Unicode line/paragraph separators. */
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const QUOTES = /['"`]/;

/** Longest string the toolkit accepts in any field (paths are the longest values: PATH_MAX). */
export const MAX_STRING = 4096;

function printable(s: string, ctx: z.RefinementCtx): boolean {
  if (CONTROL_CHARS.test(s)) {
    fail(ctx, "must not contain control characters (newline, tab, escape, ...)", "remove the control characters");
    return false;
  }
  return true;
}

/**
 * A path on a managed host (EMS or DB host): absolute, without control characters, quotes,
 * `$`, backslashes or `..` segments. It is written into shell scripts and Terraform.
 */
export function hostPath() {
  return z
    .string()
    .min(1, "must not be empty")
    .max(1024, "must be at most 1024 characters")
    .superRefine((s, ctx) => {
      if (!printable(s, ctx)) return;
      if (!s.startsWith("/")) fail(ctx, "must be an absolute path on the host", "start it with /, e.g. /opt/ems-ha/installer");
      if (QUOTES.test(s)) fail(ctx, "must not contain quotes (' \" `)", "use a path without quotes");
      if (s.includes("$")) fail(ctx, "must not contain $", "use a literal path without $ (no variables)");
      if (s.includes("\\")) fail(ctx, "must not contain a backslash", "use / as the separator");
      if (s.split("/").includes("..")) fail(ctx, "must not contain a .. segment", "write the directory without .. (e.g. /opt/ems-ha, not /opt/x/../ems-ha)");
    });
}

/**
 * A path on the machine that runs Terraform: absolute, `~/...` or relative (resolved against the
 * deployment file), without control characters, quotes or `$`.
 */
export function localPath() {
  return z
    .string()
    .min(1, "must not be empty")
    .max(MAX_STRING, `must be at most ${MAX_STRING} characters`)
    .superRefine((s, ctx) => {
      if (!printable(s, ctx)) return;
      if (QUOTES.test(s)) fail(ctx, "must not contain quotes (' \" `)", "rename the file or directory so its path has no quotes");
      if (s.includes("$")) fail(ctx, "must not contain $", "use a literal path without $ (no variables); ~/ is expanded");
    });
}

/** A POSIX login name (the portable subset useradd accepts). */
export const posixUser = z
  .string()
  .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a POSIX user name: a lowercase letter or _, then up to 31 lowercase letters, digits, _ or -");

// Docker's reference grammar (github.com/distribution/reference, reference.go).
const DOCKER_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const DOCKER_DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOCKER_DOMAIN = `(?:${DOCKER_DOMAIN_COMPONENT}(?:\\.${DOCKER_DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?`;
const DOCKER_PATH = `${DOCKER_COMPONENT}(?:/${DOCKER_COMPONENT})*`;
const DOCKER_NAME = new RegExp(`^(?:${DOCKER_DOMAIN}/)?${DOCKER_PATH}$`);
const DOCKER_REGISTRY = new RegExp(`^${DOCKER_DOMAIN}(?:/${DOCKER_PATH})?/?$`);

/** Docker image name (repository), optionally with a registry domain, as `docker load` reports it. */
export const dockerImageName = z
  .string()
  .max(255, "must be at most 255 characters (Docker's limit)")
  .regex(DOCKER_NAME, "must be a Docker image name: lowercase components of letters and digits separated by '.', '_', '__' or '-', joined by '/'");

/** Docker image tag. */
export const dockerTag = z.string().regex(/^[\w][\w.-]{0,127}$/, "must be a Docker tag: a letter, digit or _, then up to 127 letters, digits, '_', '.' or '-'");

/** Registry prefix (domain[:port][/path]); empty for Docker Hub. */
export const dockerRegistry = z
  .string()
  .max(255, "must be at most 255 characters")
  .refine((s) => s === "" || DOCKER_REGISTRY.test(s), "must be a registry like registry.example.com:5000/ems (or empty for Docker Hub)");

/** Docker container or volume name (the daemon's [a-zA-Z0-9][a-zA-Z0-9_.-]*). */
export function dockerObjectName(what: string) {
  return z
    .string()
    .max(128, "must be at most 128 characters")
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, `must be a docker ${what} name`);
}

/** A FortiOS object name of at most `max` characters: no spaces, quotes or control characters. */
export function fortiosName(what: string, max: number) {
  return z
    .string()
    .min(1, "must not be empty")
    .max(max, `FortiOS limits ${what} names to ${max} characters`)
    .regex(/^[A-Za-z0-9_.-]+$/, `must be a FortiOS ${what} name: letters, digits, '_', '.' or '-' (no spaces or quotes)`);
}

/** FortiOS interface names are at most 15 characters (IFNAMSIZ - 1). */
export const fortiosInterface = fortiosName("interface", 15);
/** FortiOS VDOM names are at most 31 characters. */
export const fortiosVdom = fortiosName("VDOM", 31);

export function isIpv4(s: string): boolean {
  return isIP(s) === 4;
}

/** True for an address of either family, without an IPv6 zone index. */
export function isIpAddress(s: string): boolean {
  return !s.includes("%") && isIP(s) !== 0;
}

/** An IPv4 address in dotted-quad form (node:net's parser: no leading zeros, each part 0-255). */
export function ipv4(fix = "use the IPv4 address, e.g. 192.168.1.10") {
  return z.string().superRefine((s, ctx) => {
    if (!isIpv4(s)) fail(ctx, "must be an IPv4 address", fix);
  });
}

/** Parses a CIDR; undefined when it is not one. The prefix is checked against the family: 0-32 or 0-128. */
export function parseCidr(s: string): { address: string; family: 4 | 6; prefix: number } | undefined {
  const slash = s.indexOf("/");
  if (slash < 0 || slash !== s.lastIndexOf("/")) return undefined;
  const address = s.slice(0, slash);
  const prefixText = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || (prefixText.length > 1 && prefixText.startsWith("0"))) return undefined;
  if (!isIpAddress(address)) return undefined;
  const family = isIP(address) as 4 | 6;
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  return { address, family, prefix };
}

export const cidr = z.string().superRefine((s, ctx) => {
  if (!parseCidr(s)) fail(ctx, "must be a CIDR: an IPv4 address with /0-/32 or an IPv6 address with /0-/128", "write it like 192.168.1.0/24 or fd00::/64");
});

const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * RFC 1123 host name check: 1-253 characters, dot-separated labels of 1-63 letters, digits and
 * '-' (not at either end). A name of digits and dots only must be a valid IPv4 address.
 */
export function hostnameProblem(s: string): string | undefined {
  if (s.length === 0) return "must not be empty";
  if (s.length > 253) return "must be at most 253 characters (RFC 1123)";
  if (/^[0-9.]+$/.test(s)) return isIpv4(s) ? undefined : "is all digits and dots but not a valid IPv4 address (four parts, each 0-255)";
  for (const label of s.split(".")) {
    if (!LABEL.test(label))
      return "must be an IPv4 address or a DNS name: dot-separated labels of 1-63 letters, digits and '-', not starting or ending with '-'";
  }
  return undefined;
}

/** An IPv4 address or an RFC 1123 DNS name. */
export function hostOrIpv4() {
  return z.string().superRefine((s, ctx) => {
    const p = hostnameProblem(s);
    if (p) fail(ctx, p, "use an IPv4 address like 192.168.1.10 or a DNS name like ems1.example.com");
  });
}

/** A data-centre / repmgr location name. */
export const locationName = z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, "must be 1-63 letters, digits, '_' or '-'");

/** Host names, paths and names of the toolkit never contain Terraform (`${`, `%{`) templates. */
export const TEMPLATE_MARKERS = ["${", "%{"] as const;

/** True when a sha256 is a placeholder: one hex digit repeated (e.g. 64 zeros). */
export function isPlaceholderSha256(s: string): boolean {
  return /^([0-9a-f])\1{63}$/.test(s);
}
