/** Quoting words for the POSIX shell commands and scripts the toolkit generates (kept for its importers; see ./escape). */
export { shellQuote, shellSingleQuote } from "./escape";
