#!/usr/bin/env node
// Runs the compiled CLI when present (npm package), else the TypeScript sources through tsx.
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const compiled = join(__dirname, "..", "dist", "src", "cli", "main.js");
let mod;
if (existsSync(compiled)) {
  mod = require(compiled);
} else {
  require("tsx/cjs");
  mod = require(join(__dirname, "..", "src", "cli", "main.ts"));
}
mod.runCli(process.argv.slice(2), mod.processIo).then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(String((e && e.stack) || e) + "\n"); process.exitCode = 1; },
);
