/**
 * Markdown escaping, applied where report text is assembled from deployment values.
 *
 * CommonMark lets any ASCII punctuation be escaped with a backslash; the characters escaped here
 * are the ones that start markup inside a line (emphasis, code, links and images, which need a
 * `[`, HTML, table cells, strikethrough, entities, and `#` for a heading inside a list item). Line breaks and other control characters become spaces, so a value
 * can never start a new block (a heading, a list, a raw HTML block).
 */

// eslint-disable-next-line no-control-regex
const BREAKS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;
const MARKUP = /[\\`*_[\]<>&|~#]/g;

/** Any text as literal Markdown: it renders exactly as written, on one line. */
export function mdText(value: string | number): string {
  return String(value)
    .replace(BREAKS, " ")
    .replace(MARKUP, (c) => `\\${c}`);
}

/**
 * Text the toolkit wrote that may contain `code spans` (e.g. a command to run): the spans stay
 * code, everything around them is escaped with mdText. Inside a span only a backtick could end
 * it early, and spans are delimited by the toolkit's own backticks.
 */
export function mdKeepCode(text: string): string {
  return (
    text
      .split(/(`[^`]*`)/)
      // In a GFM table a pipe ends the cell even inside a code span unless escaped.
      .map((part, i) => (i % 2 === 1 ? part.replace(BREAKS, " ").replace(/\|/g, "\\|") : mdText(part)))
      .join("")
  );
}
