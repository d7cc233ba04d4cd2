/**
 * The text of one function of a generated bash script, `name() {` to its closing `}` line, for
 * tests that run a script's functions on their own. A `}` line inside a here-document (an embedded
 * file such as a logrotate configuration) does not end it.
 */
export function bashFunction(script: string, name: string): string {
  const lines = script.split("\n");
  const start = lines.findIndex((l) => l === `${name}() {`);
  if (start < 0) throw new Error(`the script has no function ${name}`);
  let delimiter: string | undefined;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (delimiter !== undefined) {
      if (line === delimiter) delimiter = undefined;
      continue;
    }
    const doc = /<<-?'?([A-Za-z_][A-Za-z0-9_]*)'?\s*$/.exec(line);
    if (doc) delimiter = doc[1];
    else if (line === "}") return lines.slice(start, i + 1).join("\n");
  }
  throw new Error(`function ${name} has no closing } line`);
}
