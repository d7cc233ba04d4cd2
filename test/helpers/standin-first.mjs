/**
 * Set up for every test file (vitest.config.ts, setupFiles): a file that imports a Docker lab
 * example gets the stand-in image built first, awaited.
 *
 * Why: examples/lab-docker.ts and examples/lab-geo-docker.ts compute the stand-in tarball's sha256
 * when they load, and a deployment module cannot await, so on a machine without a cached image
 * that import would build it (the lab's base image too) synchronously, holding the test worker's
 * event loop for minutes. Vitest then fails the whole run with an RPC timeout (see loop-watch.ts).
 * Built here, the import finds the image in the cache. (JavaScript, not TypeScript: the project
 * compiles as CommonJS, where TypeScript refuses the top-level await this needs; vitest runs it.)
 */
// @ts-check
import console from "node:console";
import { readFileSync } from "node:fs";
import { expect } from "vitest";

const DOCKER_EXAMPLE = /examples\/lab(-geo)?-docker["']/;
const testPath = expect.getState().testPath;

if (testPath && DOCKER_EXAMPLE.test(readFileSync(testPath, "utf8"))) {
  const { ensureStandinImages } = await import("../standins/ems-postgres-ha/build");
  await ensureStandinImages({ log: (/** @type {string} */ m) => console.log(`[stand-in image] ${m}`) });
}
