/** Quoting words for the POSIX shell commands and scripts the toolkit generates. */

const SAFE = /^[A-Za-z0-9_./:,=@%+-]+$/;

/** Leaves a plain word as it is; single-quotes anything else. */
export function shellQuote(word: string): string {
  return SAFE.test(word) ? word : shellSingleQuote(word);
}

/** Always single-quotes (for paths and names that must read as quoted in generated scripts). */
export function shellSingleQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
