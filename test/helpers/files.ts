import { readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * The files under `root/dir`, at any depth, whose names end with `suffix`, as paths joined onto
 * `dir` (so relative to `root` when `dir` is).
 */
export function filesUnder(root: string, dir: string, suffix: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(root, join(dir, e.name), suffix) : e.name.endsWith(suffix) ? [join(dir, e.name)] : [],
  );
}
