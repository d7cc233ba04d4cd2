/**
 * `ems-ha init`: writes a starter deployment for a topology, from the example the package ships
 * (examples/<topology>.ts: the guide's lab values, commented). The file needs no build and no
 * edit of its imports: its one import is type-only (`satisfies DeploymentInput`), erased when the
 * file is loaded, and resolved by the editor from the installed package (or, in a checkout of
 * ems-ha, through tsconfig.json's paths).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ConfigError } from "../../config/errors";
import { TOPOLOGIES } from "../../config/schema";
import { usageError } from "../args";
import { defineCommand } from "../command";

/** The directory of the ems-ha package this code runs from (a checkout or node_modules/ems-ha). */
export function packageRoot(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "ems-ha") return dir;
    if (dirname(dir) === dir) throw new Error(`no ems-ha package.json above ${from}`);
  }
}

/** The starter text for a topology: the shipped example under a header saying what to do next. */
export function starterDeployment(topology: string, root = packageRoot()): string {
  const example = join(root, "examples", `${topology}.ts`);
  if (!existsSync(example)) throw new Error(`the package has no example for ${topology} (${example})`);
  const header = [
    `// Starter deployment written by \`ems-ha init --topology ${topology}\`.`,
    "// Replace the addresses, key paths and checksums with your own; every field and its default is in",
    "// docs/configuration.md. Then: `npx ems-ha check` (rules) and `npx cdktf synth` (Terraform JSON).",
    "// Secrets are never fields: set TF_VAR_db_password, TF_VAR_repmgr_password, ... (see the README).",
    "",
  ].join("\n");
  return header + readFileSync(example, "utf8");
}

export const initCommand = defineCommand({
  name: "init",
  summary: "Write a commented starter deployment (ems-ha.config.ts) for a topology; never overwrites",
  flags: {
    topology: {
      type: "string",
      choices: TOPOLOGIES,
      default: "single-region",
      placeholder: "TOPOLOGY",
      description: "the guide's deployment option, which names the stack",
    },
    out: { type: "string", default: "ems-ha.config.ts", placeholder: "FILE", description: "the file to write (.ts); refused if it exists" },
  },
  run({ flags }, io) {
    const out = resolve(io.cwd, flags.out);
    if (!/\.[cm]?ts$/.test(out)) throw usageError("--out", flags.out, "is not a TypeScript file name", "end it in .ts, e.g. --out ems-ha.config.ts");
    if (existsSync(out)) {
      throw usageError("--out", flags.out, "already exists and is never overwritten", "remove or rename it, or pass --out another-file.ts");
    }
    const text = starterDeployment(flags.topology);
    try {
      writeFileSync(out, text, { flag: "wx" });
    } catch (e) {
      throw new ConfigError([{ path: "--out", value: flags.out, message: `cannot be written: ${(e as Error).message}`, fix: "choose a writable path" }]);
    }
    const shown = relative(io.cwd, out) || out;
    io.out(`wrote ${shown} (${flags.topology}). Next: edit it, then \`npx ems-ha check${shown === "ems-ha.config.ts" ? "" : ` --config ${shown}`}\`.`);
    return 0;
  },
});
