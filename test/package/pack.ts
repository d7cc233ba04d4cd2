/**
 * Packs ems-ha the way a release would and installs the tarball into a fresh consumer project.
 *
 * The build runs in a staging copy of the working tree (tracked and untracked, not ignored
 * files) so the test never writes dist/ or a tarball into the checkout other people work in.
 * node_modules of the checkout is linked into the staging copy for the build's tools; the
 * consumer gets its own node_modules from `npm install`, which installs the tarball.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const REPO_ROOT = join(__dirname, "..", "..");
export const CONSUMER_EXAMPLE = join(REPO_ROOT, "examples", "existing-repo");

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

const execFileAsync = promisify(execFile);

/**
 * Runs a program with a time bound; a failure carries the command, its exit status and its output.
 * Asynchronous, so the test worker keeps answering the test runner while npm works.
 */
export async function run(cmd: string, args: string[], cwd: string, timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      encoding: "utf8",
      timeout: timeoutMs,
      killSignal: "SIGKILL",
      maxBuffer: 64 * 1024 * 1024,
    });
    return { stdout, stderr };
  } catch (e) {
    const err = e as { code?: number | string; signal?: string | null; stdout?: string; stderr?: string };
    if (err.code === "ENOENT") throw new Error(`${cmd} is not installed or not on PATH (needed by the package test)`);
    throw new Error(
      `${cmd} ${args.join(" ")} (in ${cwd}) failed: exit ${err.code ?? "-"} signal ${err.signal ?? "-"} (time limit ${timeoutMs / 1000} s)\n` +
        `--- stdout\n${err.stdout ?? ""}\n--- stderr\n${err.stderr ?? ""}`,
    );
  }
}

/** Fails with a message naming the tool when a program the test needs is missing. */
export function requireTool(cmd: string, args: string[], why: string): void {
  try {
    execFileSync(cmd, args, { stdio: "ignore", timeout: 30_000 });
  } catch {
    throw new Error(`${cmd} is needed ${why}, and \`${cmd} ${args.join(" ")}\` failed: install ${cmd} and put it on PATH`);
  }
}

/** Copies the working tree's non-ignored files into `dest` and links the checkout's node_modules. */
export function stageRepository(dest: string): void {
  const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 30_000,
  });
  for (const rel of listed.split("\0")) {
    if (!rel) continue;
    const from = join(REPO_ROOT, rel);
    if (!existsSync(from) || !lstatSync(from).isFile()) continue; // deleted in the working tree, or a submodule
    mkdirSync(dirname(join(dest, rel)), { recursive: true });
    cpSync(from, join(dest, rel));
  }
  symlinkSync(join(REPO_ROOT, "node_modules"), join(dest, "node_modules"), "dir");
}

export interface PackResult {
  readonly tarball: string;
  readonly files: ReadonlyArray<string>;
}

/** `npm pack` (its prepack script runs the build) into `outDir`. */
export async function pack(stagingDir: string, outDir: string): Promise<PackResult> {
  mkdirSync(outDir, { recursive: true });
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", outDir], stagingDir, 240_000);
  // prepack's output precedes the JSON on stdout.
  const json = JSON.parse(stdout.slice(stdout.indexOf("[\n"))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const first = json[0];
  if (!first) throw new Error(`npm pack printed no package: ${stdout}`);
  return { tarball: join(outDir, first.filename), files: first.files.map((f) => f.path) };
}

/** A copy of examples/existing-repo whose ems-ha dependency is the given tarball, installed by npm. */
export async function createConsumer(dest: string, tarball: string): Promise<void> {
  mkdirSync(dest, { recursive: true });
  for (const name of readdirSync(CONSUMER_EXAMPLE)) {
    if (name === "node_modules" || name === "cdktf.out" || name.endsWith(".js") || name.endsWith(".d.ts")) continue;
    cpSync(join(CONSUMER_EXAMPLE, name), join(dest, name), { recursive: true });
  }
  const pkgPath = join(dest, "package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { dependencies: Record<string, string> };
  if (!pkg.dependencies["ems-ha"]) throw new Error("examples/existing-repo/package.json does not depend on ems-ha");
  pkg.dependencies["ems-ha"] = `file:${tarball}`;
  writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
  // From the local npm cache when it has the packages; the registry otherwise.
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], dest, 300_000);
}
