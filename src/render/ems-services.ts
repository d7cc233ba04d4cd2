/**
 * The services the guide lists after an EMS install, per role. Names are matched
 * case-insensitively, and each entry lists the spellings seen in the guide
 * (fcems_pgBouncer / fcems_pgbouncer; the secondary list's "pgrounder" means pgbouncer, docs/background.md#errors-in-the-guide).
 */
import { sh, shellSingleQuote, raw } from "./escape";

export type EmsRole = "primary" | "secondary";

/** One expected service: any of its spellings counts. */
export type ExpectedService = ReadonlyArray<string>;

const PRIMARY: ExpectedService[] = [
  ["apache2"],
  ...[
    "adconnector",
    "addaemon",
    "adevtsrv",
    "adtask",
    "chromebook",
    "das",
    "dbop",
    "deploy",
    "ecsocksrv",
    "forensics",
    "ftntdbimporter",
    "installer",
    "ka",
  ].map((s) => [`fcems_${s}`]),
  ["fcems_mdmproxy", "fcems_mdmpoxy"],
  ...["monitor", "notify"].map((s) => [`fcems_${s}`]),
  ["fcems_pgbouncer", "fcems_pgboncer"],
  ...["probe", "reg", "scep", "sip", "tag", "task", "update", "upload"].map((s) => [`fcems_${s}`]),
  ["fcems_wspgbouncer", "fcems_wspgboncer"],
  ["fcems_ztna"],
  ["redis-server"],
];

const SECONDARY: ExpectedService[] = [["fcems_monitor"], ["fcems_pgbouncer"], ["fcems_wspgbouncer"], ["redis-server"]];

export function expectedServices(role: EmsRole): ExpectedService[] {
  return role === "primary" ? PRIMARY : SECONDARY;
}

/** Which expected services are missing from a list of unit names (with or without .service). */
export function missingServices(role: EmsRole, present: ReadonlyArray<string>): string[] {
  const have = new Set(present.map((u) => u.replace(/\.service$/, "").toLowerCase()));
  return expectedServices(role)
    .filter((alts) => !alts.some((a) => have.has(a.toLowerCase())))
    .map((alts) => alts[0]!);
}

/**
 * A shell snippet that fails (exit 1) listing the missing services of a role.
 * It reads `systemctl --all --type=service` as the guide does.
 */
export function renderServiceCheck(role: EmsRole): string {
  const groups = expectedServices(role).map((alts) => alts.map((a) => a.toLowerCase()).join("|"));
  return [
    `units=$(systemctl --all --type=service --no-legend --plain 2>/dev/null | awk '{print tolower($1)}' | sed 's/\\.service$//')`,
    `missing=""`,
    sh`for group in ${raw(groups.map(shellSingleQuote).join(" "))}; do`,
    `  found=no`,
    `  IFS='|' read -r -a alts <<< "$group"`,
    `  for a in "\${alts[@]}"; do if grep -qx -- "$a" <<< "$units"; then found=yes; break; fi; done`,
    `  [ "$found" = yes ] || missing="$missing \${alts[0]}"`,
    `done`,
    `if [ -n "$missing" ]; then`,
    sh`  echo "ems-ha: EMS ${role} is missing services:$missing" >&2`,
    `  exit 1`,
    `fi`,
    sh`echo "ems-ha: all ${expectedServices(role).length} services expected on an EMS ${role} are present"`,
  ].join("\n");
}
