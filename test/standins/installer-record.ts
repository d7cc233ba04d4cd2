/**
 * The record the installer STAND-IN (test/standins/forticlientems-installer) writes of its last
 * install on an EMS host, read on a lab host: what it was given (the password masked) and when.
 */
import { labOk } from "../../lab/lib/lab";
import type { LabState } from "../../lab/lib/state";

export const STANDIN_INSTALL_RECORD = "/var/lib/ems-standin/install.json";

export interface StandinInstall {
  readonly role: string;
  readonly db_host: string[];
  readonly db_primary_seen: string;
  /** Always masked by the stand-in. */
  readonly db_pass: string;
  /** UTC, to the second (ISO 8601). */
  readonly installed_at: string;
}

/** The stand-in's record on a lab host; fails, with the command's output, when there is none. */
export async function standinInstall(state: LabState, host: string): Promise<StandinInstall> {
  return JSON.parse(await labOk(state, host, `cat ${STANDIN_INSTALL_RECORD}`)) as StandinInstall;
}
