/** Every CLI command; add new ones here (one import and one array line each). */
import type { Command } from "../command";
import { checklistCommand, fortiosCliCommand } from "./checklist";
import { pgtuneCommand } from "./pgtune";
import { failoverCommand } from "./failover";
import { scenariosCommand } from "./scenarios";
import { checkCommand } from "./check";
import { reportCommand } from "./report";
import { applianceCommand } from "./appliance";
import { statusCommand } from "./status";
import { waitPrimaryCommand } from "./wait-primary";
import { promoteCommand } from "./promote";
import { initCommand } from "./init";
import { planReviewCommand } from "./plan-review";
import { ackRewindCommand } from "./ack-rewind";
import { switchoverCommand } from "./switchover";
import { pauseCommand } from "./pause";
import { resumeCommand } from "./resume";
import { rollingRestartCommand } from "./rolling-restart";
import { backupCommand } from "./backup";
import { restoreCommand } from "./restore";
import { checkBackupsCommand } from "./check-backups";
import { setPasswordsCommand } from "./set-passwords";

export const COMMANDS: Command[] = [
  initCommand,
  pgtuneCommand,
  checklistCommand,
  fortiosCliCommand,
  failoverCommand,
  scenariosCommand,
  checkCommand,
  reportCommand,
  applianceCommand,
  statusCommand,
  waitPrimaryCommand,
  promoteCommand,
  planReviewCommand,
  ackRewindCommand,
  switchoverCommand,
  pauseCommand,
  resumeCommand,
  rollingRestartCommand,
  backupCommand,
  restoreCommand,
  checkBackupsCommand,
  setPasswordsCommand,
];
