/**
 * Builds the ems-postgres-ha STAND-IN image tarballs (not the vendor image; README.md here).
 *
 * The image is written directly in `docker save` format, without a Docker engine: layer 1 is
 * the lab's cached DB root file system (Debian 12 with postgresql-15 and postgresql-15-repmgr,
 * lab/lib/image.ts) without docs, man pages and locales; layer 2 holds the stand-in's
 * scripts, the non-root user (uid 1001, gid 0, as in the Bitnami image) and its directories.
 * Two variants, tags 7.4.3 ("old") and 7.4.4 ("new"), differ only in their version file and
 * label, so the upgrade path can move from one to the other; they share layer 1.
 *
 * Cached under <lab cache>/standin-ems-postgres-ha-<hash of the recipe and the scripts>, built
 * once under a lock like the lab's base image. `tsx build.ts` builds (if needed) and prints the
 * variants as JSON.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync, chownSync } from "node:fs";
import { join } from "node:path";
import { LabError, runStreamingOk } from "../../../lab/lib/exec";
import { DEFAULT_CACHE_DIR, DEFAULT_RECIPE, ensureImage, recipeHash, withLock } from "../../../lab/lib/image";

/** The image's name: a stand-in, never the product's name alone. */
export const STANDIN_IMAGE_NAME = "ems-postgres-ha-standin";

/** "old" and "new" for the upgrade path. */
export const STANDIN_TAGS = ["7.4.3", "7.4.4"] as const;
export type StandinTag = (typeof STANDIN_TAGS)[number];

export interface StandinImage {
  readonly tag: StandinTag;
  /** name:tag as `docker load` reports it. */
  readonly ref: string;
  /** The tarball (docker save format, gzip) in the cache. */
  readonly path: string;
  readonly sha256: string;
  /** Where the lab places it on Docker DB hosts. */
  readonly hostPath: string;
}

/** Scripts installed in /opt/bitnami/scripts/postgresql-repmgr/. */
const SCRIPTS = ["entrypoint.sh", "run.sh", "libstandin.sh"] as const;
const SCRIPT_DIR = "opt/bitnami/scripts/postgresql-repmgr";
const STANDIN_SRC = __dirname;

/** The Bitnami image's non-root user: uid 1001, group root (0), so group-writable files work. */
export const STANDIN_UID = 1001;
const PASSWD_LINE = `postgres:x:${STANDIN_UID}:0:PostgreSQL (ems-postgres-ha stand-in):/opt/bitnami/postgresql:/bin/bash`;

/** Left out of layer 1: nothing the database needs. */
const EXCLUDES = [
  "./dev/*",
  "./proc/*",
  "./sys/*",
  "./run/*",
  "./tmp/*",
  "./usr/share/doc/*",
  "./usr/share/man/*",
  "./usr/share/locale/*",
  "./usr/share/i18n/*",
  "./var/cache/apt/*",
  "./var/lib/apt/lists/*",
  "./var/log/*",
  "./etc/ems-ha-lab-image.json",
  "./etc/ssh/sshd_config.d/*",
  "./root/.ssh",
  "./etc/postgresql/*",
  "./var/lib/postgresql/*",
] as const;

const BUILDER_VERSION = 1;

/** Path of the tarball of `tag` on a Docker DB host of the lab. */
export function standinHostPath(tag: StandinTag): string {
  return `/root/${STANDIN_IMAGE_NAME}_${tag}.tar.gz`;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (c) => h.update(c))
      .on("error", reject)
      .on("end", () => resolvePromise(h.digest("hex")));
  });
}

const sha256Text = (s: string | Buffer): string => createHash("sha256").update(s).digest("hex");

/** The cache key: the base image's recipe, the scripts, the layout. */
export function standinKey(): string {
  const files = SCRIPTS.map((f) => [f, sha256Text(readFileSync(join(STANDIN_SRC, f)))]);
  return sha256Text(JSON.stringify({ BUILDER_VERSION, base: recipeHash(DEFAULT_RECIPE), files, PASSWD_LINE, EXCLUDES, STANDIN_TAGS })).slice(0, 16);
}

export function standinDir(cacheDir = process.env.EMS_HA_LAB_CACHE ?? DEFAULT_CACHE_DIR): string {
  return join(cacheDir, `standin-ems-postgres-ha-${standinKey()}`);
}

const INDEX = "images.json";

/** The built variants, or undefined when the cache has none for the current recipe. */
export function cachedStandinImages(cacheDir?: string): StandinImage[] | undefined {
  const f = join(standinDir(cacheDir), INDEX);
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, "utf8")) as StandinImage[];
}

function tarArgs(): string[] {
  return ["--numeric-owner", "--sort=name", "--format=gnu"];
}

/** Layer 2 of one variant: scripts, user, directories owned by uid 1001. */
function stageLayer2(dir: string, base: string, tag: StandinTag): void {
  const mk = (rel: string, mode: number, uid = 0): void => {
    mkdirSync(join(dir, rel), { recursive: true });
    chmodSync(join(dir, rel), mode);
    chownSync(join(dir, rel), uid, 0);
  };
  for (const d of ["etc", "opt", "opt/bitnami", "opt/bitnami/scripts", SCRIPT_DIR, "opt/bitnami/repmgr", "opt/bitnami/standin", "bitnami"]) mk(d, 0o755);
  for (const d of ["opt/bitnami/repmgr/conf", "opt/bitnami/postgresql", "opt/bitnami/postgresql/logs", "bitnami/postgresql"]) mk(d, 0o775, STANDIN_UID);
  const passwd = readFileSync(join(base, "etc/passwd"), "utf8")
    .split("\n")
    .map((l) => (l.startsWith("postgres:") ? PASSWD_LINE : l))
    .join("\n");
  if (!passwd.includes(PASSWD_LINE)) throw new LabError(`the base image ${base} has no postgres user in /etc/passwd`);
  writeFileSync(join(dir, "etc/passwd"), passwd, { mode: 0o644 });
  for (const f of SCRIPTS) writeFileSync(join(dir, SCRIPT_DIR, f), readFileSync(join(STANDIN_SRC, f)), { mode: f === "libstandin.sh" ? 0o644 : 0o755 });
  writeFileSync(join(dir, "opt/bitnami/standin/VERSION"), `${tag}-standin\n`, { mode: 0o644 });
}

function imageConfig(tag: StandinTag, diffIds: string[]): string {
  const created = "2026-01-01T00:00:00Z";
  return JSON.stringify({
    architecture: "amd64",
    os: "linux",
    created,
    config: {
      User: String(STANDIN_UID),
      Env: ["PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
      Entrypoint: [`/${SCRIPT_DIR}/entrypoint.sh`],
      Cmd: [`/${SCRIPT_DIR}/run.sh`],
      ExposedPorts: { "5432/tcp": {} },
      WorkingDir: "/",
      StopSignal: "SIGTERM",
      Labels: {
        "org.opencontainers.image.title": "ems-postgres-ha STAND-IN (test double built by the ems-ha lab; not the vendor image)",
        "org.opencontainers.image.version": tag,
        "ems-ha.standin": "true",
      },
    },
    rootfs: { type: "layers", diff_ids: diffIds.map((d) => `sha256:${d}`) },
    history: [
      { created, created_by: "ems-ha lab: Debian 12 root file system with postgresql-15 and postgresql-15-repmgr" },
      { created, created_by: `ems-ha lab: ems-postgres-ha stand-in scripts, user ${STANDIN_UID}, version ${tag}` },
    ],
  });
}

async function buildInto(tmp: string, base: string, log: (m: string) => void): Promise<StandinImage[]> {
  mkdirSync(tmp, { recursive: true });
  const l1 = join(tmp, "layer1.tar");
  log(`stand-in image: layer 1 from ${base}`);
  await runStreamingOk("tar", [...tarArgs(), ...EXCLUDES.map((e) => `--exclude=${e}`), "-C", base, "-cf", l1, "."], { timeoutMs: 600_000 });
  const l1sum = await sha256File(l1);
  const out: StandinImage[] = [];
  for (const tag of STANDIN_TAGS) {
    const stage = join(tmp, `stage-${tag}`);
    const l2dir = join(tmp, `layer2-${tag}`);
    stageLayer2(l2dir, base, tag);
    mkdirSync(join(stage, l1sum), { recursive: true });
    linkSync(l1, join(stage, l1sum, "layer.tar"));
    const l2tmp = join(tmp, `layer2-${tag}.tar`);
    await runStreamingOk("tar", [...tarArgs(), "-C", l2dir, "-cf", l2tmp, "."], { timeoutMs: 120_000 });
    const l2sum = await sha256File(l2tmp);
    mkdirSync(join(stage, l2sum), { recursive: true });
    renameSync(l2tmp, join(stage, l2sum, "layer.tar"));
    for (const [id, parent] of [
      [l1sum, undefined],
      [l2sum, l1sum],
    ] as const) {
      writeFileSync(join(stage, id, "VERSION"), "1.0");
      writeFileSync(join(stage, id, "json"), JSON.stringify({ id, ...(parent ? { parent } : {}), os: "linux" }));
    }
    const config = imageConfig(tag, [l1sum, l2sum]);
    const configName = `${sha256Text(config)}.json`;
    writeFileSync(join(stage, configName), config);
    const ref = `${STANDIN_IMAGE_NAME}:${tag}`;
    writeFileSync(
      join(stage, "manifest.json"),
      JSON.stringify([{ Config: configName, RepoTags: [ref], Layers: [`${l1sum}/layer.tar`, `${l2sum}/layer.tar`] }]),
    );
    writeFileSync(join(stage, "repositories"), JSON.stringify({ [STANDIN_IMAGE_NAME]: { [tag]: l2sum } }));
    const file = join(tmp, `${STANDIN_IMAGE_NAME}_${tag}.tar.gz`);
    log(`stand-in image: writing ${ref}`);
    await runStreamingOk(
      "bash",
      [
        "-o",
        "pipefail",
        "-c",
        'tar --numeric-owner --sort=name -C "$1" -cf - manifest.json repositories "$2" "$3" "$4" | gzip -1 -n > "$5"',
        "bash",
        stage,
        configName,
        l1sum,
        l2sum,
        file,
      ],
      { timeoutMs: 600_000 },
    );
    rmSync(stage, { recursive: true, force: true });
    rmSync(l2dir, { recursive: true, force: true });
    out.push({ tag, ref, path: file, sha256: await sha256File(file), hostPath: standinHostPath(tag) });
  }
  rmSync(l1, { force: true });
  return out;
}

export interface EnsureStandinOptions {
  readonly cacheDir?: string;
  readonly log?: (m: string) => void;
}

/** The stand-in image tarballs, building them (and the lab's base image) when the cache has none. */
export async function ensureStandinImages(opts: EnsureStandinOptions = {}): Promise<StandinImage[]> {
  const log = opts.log ?? (() => undefined);
  const cached = cachedStandinImages(opts.cacheDir);
  if (cached) return cached;
  const base = await ensureImage({ cacheDir: opts.cacheDir, log });
  const dir = standinDir(opts.cacheDir);
  return withLock(`${dir}.lock`, 20 * 60_000, log, async () => {
    const again = cachedStandinImages(opts.cacheDir);
    if (again) return again;
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    const t0 = Date.now();
    try {
      const built = await buildInto(tmp, base, log);
      const final = built.map((b) => ({ ...b, path: join(dir, b.path.slice(tmp.length + 1)) }));
      writeFileSync(join(tmp, INDEX), `${JSON.stringify(final, null, 2)}\n`);
      renameSync(tmp, dir);
      log(`stand-in images ready in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${final.map((f) => f.ref).join(", ")}`);
      return final;
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  });
}

if (require.main === module) {
  ensureStandinImages({ log: (m) => console.error(`[standin] ${m}`) }).then(
    (images) => console.log(JSON.stringify(images)),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
