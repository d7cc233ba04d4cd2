#!/usr/bin/env node
// In a checkout (src/ present) runs the TypeScript sources, so a stale dist/ never shadows them;
// in the npm package (only dist/ shipped) runs the compiled CLI. tsx is registered in both
// cases: it loads TypeScript deployment files (--config x.ts).
const { existsSync } = require("node:fs");
const { join } = require("node:path");
require("tsx/cjs");
const source = join(__dirname, "..", "src", "cli", "main.ts");
const compiled = join(__dirname, "..", "dist", "src", "cli", "main.js");
const mod = require(existsSync(source) ? source : compiled);
mod.runCli(process.argv.slice(2), mod.processIo).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(String((e && e.stack) || e) + "\n");
    process.exitCode = 1;
  },
);
