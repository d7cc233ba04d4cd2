/** Terraform template escapes, for the tests. */

/** Decodes a Terraform template string that must be literal: `$${` and `%%{` are the escapes; any other `${`/`%{` is an interpolation. */
export function terraformLiteralDecode(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if ((s[i] === "$" || s[i] === "%") && s[i + 1] === s[i] && s[i + 2] === "{") {
      out += `${s[i]}{`;
      i += 2;
    } else if ((s[i] === "$" || s[i] === "%") && s[i + 1] === "{") {
      throw new Error(`unescaped ${s[i]}{ at ${i}: ${JSON.stringify(s.slice(Math.max(0, i - 20), i + 20))}`);
    } else out += s[i];
  }
  return out;
}
