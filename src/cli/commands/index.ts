/** Every CLI command; add new ones here (one import and one array line each). */
import type { Command } from "../command";
import { checklistCommand, fortiosCliCommand } from "./checklist";
import { pgtuneCommand } from "./pgtune";

export const COMMANDS: Command[] = [
  pgtuneCommand,
  checklistCommand,
  fortiosCliCommand,
];
