#!/usr/bin/env node
/**
 * npm's prepublishOnly step: refuses to publish a package whose links would lead nowhere. The
 * packed README and docs point readers at the repository for what the package does not ship, so
 * `repository` and `homepage` must name it. Exit 2 with the field, its value and the fix.
 *
 * Usage: node scripts/check-publish.js [package.json]
 */
"use strict";
const { readFileSync } = require("node:fs");
const { resolve } = require("node:path");

const file = resolve(process.argv[2] ?? "package.json");
const pkg = JSON.parse(readFileSync(file, "utf8"));
const url = (v) => (typeof v === "string" ? v : v && typeof v === "object" ? v.url : undefined);
const problems = [];
for (const field of ["repository", "homepage"]) {
  const value = url(pkg[field]);
  if (typeof value !== "string" || !/^(https:\/\/|git\+https:\/\/|github:)\S+$/.test(value)) {
    problems.push(
      `${file}: ${field} = ${JSON.stringify(pkg[field] ?? null)}: the published package would link to no repository. ` +
        `Fix: set ${field} to the project's public address (https://...) before npm publish`,
    );
  }
}
if (problems.length > 0) {
  for (const p of problems) console.error(`ems-ha: ${p}`);
  process.exit(2);
}
