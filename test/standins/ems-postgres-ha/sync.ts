/**
 * The ems-postgres-ha STAND-IN image tarballs for code that must stay synchronous (a
 * deployment module computes the tarball's sha256 when it loads): the cached ones, else a
 * child process builds them (build.ts; the first time it also builds the lab's base image).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { cachedStandinImages, type StandinImage, type StandinTag } from "./build";

export function standinImagesSync(): StandinImage[] {
  const cached = cachedStandinImages();
  if (cached) return cached;
  const tsx = join(__dirname, "../../../node_modules/tsx/dist/cli.mjs");
  const r = spawnSync(process.execPath, [tsx, join(__dirname, "build.ts")], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8", timeout: 40 * 60_000 });
  if (r.status !== 0) {
    throw new Error(
      `building the ems-postgres-ha stand-in image failed (exit ${r.status ?? r.signal}); it needs root and the lab's base image (docs/lab.md, Docker DB hosts)`,
    );
  }
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as StandinImage[];
}

export function standinImageSync(tag: StandinTag): StandinImage {
  const i = standinImagesSync().find((x) => x.tag === tag);
  if (!i) throw new Error(`no stand-in image with tag ${tag}`);
  return i;
}
