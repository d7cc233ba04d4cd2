/** Every CLI command; add new ones here. */
import type { Command } from "../command";
import { pgtuneCommand } from "./pgtune";

export const COMMANDS: Command[] = [pgtuneCommand];
