/** The lab's record of what it started: enough for `down` to undo it after a crash. */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type LabHostRole = "data" | "witness" | "ems";

export interface LabHost {
  readonly name: string;
  /** systemd-nspawn machine name (unique per lab). */
  readonly machine: string;
  readonly address: string;
  readonly role: LabHostRole;
  /** Directory holding upper/, work/, merged/ and nspawn.log. */
  readonly dir: string;
  /** PID of the systemd-nspawn process, once booted. */
  pid?: number;
  /** Whether merged/ is mounted. */
  mounted?: boolean;
  /** Base image of this host when it differs from the lab's (Docker DB hosts). */
  readonly image?: string;
  /** Runs Docker (DB host of a Docker topology): booted with docker-host.ts's nspawn flags. */
  readonly docker?: boolean;
}

export interface LabState {
  readonly version: 1;
  /** First three octets of the /24, e.g. 10.231.7. */
  readonly prefix: string;
  readonly subnet: string;
  readonly bridge: string;
  readonly bridgeAddress: string;
  readonly stateDir: string;
  readonly image: string;
  readonly sshKeyPath: string;
  readonly knownHostsPath: string;
  bridgeCreated: boolean;
  readonly hosts: LabHost[];
}

export const STATE_FILE = "lab.json";

export function readLabState(stateDir: string): LabState | undefined {
  const f = join(stateDir, STATE_FILE);
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, "utf8")) as LabState;
}

/** Written after every step (atomically), so a crash leaves an accurate record. */
export function writeLabState(state: LabState): void {
  mkdirSync(state.stateDir, { recursive: true });
  const f = join(state.stateDir, STATE_FILE);
  writeFileSync(`${f}.new`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${f}.new`, f);
}

export function hostDirs(h: Pick<LabHost, "dir">): { upper: string; work: string; merged: string; log: string } {
  return { upper: join(h.dir, "upper"), work: join(h.dir, "work"), merged: join(h.dir, "merged"), log: join(h.dir, "nspawn.log") };
}
