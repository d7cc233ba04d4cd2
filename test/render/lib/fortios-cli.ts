/**
 * A small FortiOS CLI tokenizer for the tests: a command ends at an unquoted newline; words are
 * separated by spaces or tabs; "..." and '...' quote (a newline inside quotes stays in the word);
 * a backslash takes the next character literally, inside "..." and outside quotes.
 */
export function tokenizeFortiOs(text: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word: string | undefined;
  let i = 0;
  const endWord = () => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\n") {
      endWord();
      if (words.length > 0) commands.push(words);
      words = [];
      i++;
    } else if (c === " " || c === "\t" || c === "\r") {
      endWord();
      i++;
    } else if (c === "\\") {
      word = (word ?? "") + (text[i + 1] ?? "");
      i += 2;
    } else if (c === '"' || c === "'") {
      word = word ?? "";
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === "\\" && c === '"') i++;
        word += text[i] ?? "";
        i++;
      }
      if (i >= text.length) throw new Error(`unterminated ${c}-quoted string in FortiOS CLI text`);
      i++;
    } else {
      word = (word ?? "") + c;
      i++;
    }
  }
  endWord();
  if (words.length > 0) commands.push(words);
  return commands;
}
