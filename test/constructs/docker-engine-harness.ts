/**
 * Runs an ssh-engine step (a RemoteScript: constructs/remote-script.ts) the way Terraform does,
 * its provisioners in order in real bash on a fake host: the inline command creating the step's
 * run directory in the login user's home, the uploads (script, runner, the secret env file with the
 * sensitive variables substituted), then the runner. The host's /var/lib/ems-ha and the login
 * user's home are temporary directories, and `docker` is the stand-in
 * test/standins/docker-cli-standin (not Docker), which keeps its state in another one.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { DeploymentInput } from "../../src/config/schema";
import { SSH_ENGINE_DIR } from "../../src/render/docker-cli";
import { spawnAsync } from "../../src/spawn-async";
import { resourcesByPath, synthDeployment } from "../helpers/synth";
import { tempDir } from "../helpers/tmp";
import { fileContent, provisioners } from "../topologies/helpers";

export const STANDIN = join(__dirname, "../standins/docker-cli-standin");

/** The synthesized container step of `node` (terraform_data <topology>/<node>/container). */
export function containerStep(input: DeploymentInput, node: string): Record<string, unknown> {
  const { json, deployment } = synthDeployment(input);
  const s = resourcesByPath(json, "terraform_data").get(`${deployment.topology}/${node}/container`);
  if (!s) throw new Error(`no container step for ${node}`);
  return s;
}

/** Dummy secret values, as TF_VAR_* would supply them. */
export const SECRETS = { db_password: "db-pw-$x 'q' \"dq\" ${HOME}", repmgr_password: "rep-pw;rm -rf /" } as const;

export interface FakeHost {
  /** Stand-in for the host's /var/lib/ems-ha. */
  readonly root: string;
  /** The login user's home (where Terraform's scp and remote-exec start). */
  readonly home: string;
  /** The docker stand-in's state. */
  readonly state: string;
  /** PATH: the stand-in as `docker`, a no-op `sleep`, then the system's. */
  readonly path: string;
}

export function fakeHost(images: Record<string, string> = { "ems-postgres-ha:latest": "sha256:image-1" }): FakeHost {
  const base = tempDir("ems-ha-ssh-engine-");
  const root = join(base, "var-lib-ems-ha");
  const state = join(base, "docker-state");
  const bin = join(base, "bin");
  const home = join(base, "home");
  for (const d of [root, state, join(state, "images"), bin, home]) mkdirSync(d, { recursive: true });
  // The stand-in, behind a wrapper that records, at each docker call, the modes of the file named by
  // EMS_HA_WATCH_FILE and of its directory ("<file mode or absent> <dir mode>" per line).
  writeFileSync(
    join(bin, "docker"),
    [
      "#!/bin/sh",
      // one stat per call (the scripts' bounded waits call docker hundreds of times)
      'if [ -n "${EMS_HA_WATCH_FILE:-}" ]; then',
      '  if [ -e "$EMS_HA_WATCH_FILE" ]; then m=$(stat --printf "%a " "$EMS_HA_WATCH_FILE" "${EMS_HA_WATCH_FILE%/*}"); else m="absent $(stat --printf "%a " "${EMS_HA_WATCH_FILE%/*}")"; fi',
      '  echo "${m% }" >> "$DOCKER_STANDIN_STATE/env-file-modes"',
      "fi",
      `exec '${STANDIN}' "$@"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  // The scripts' bounded waits sleep between attempts; here time need not pass.
  writeFileSync(join(bin, "sleep"), "#!/bin/sh\n# stand-in: no waiting in tests\nexit 0\n");
  chmodSync(join(bin, "sleep"), 0o755);
  const host = { root, home, state, path: `${bin}:/usr/local/bin:/usr/bin:/bin` };
  for (const [ref, id] of Object.entries(images)) setImage(host, ref, id);
  return host;
}

export function setImage(host: FakeHost, ref: string, id: string): void {
  writeFileSync(join(host.state, "images", ref.replace(/\//g, "%2F")), `${id}\n`);
}

/** Moves a host path of the generated text into the fake host. */
export function onHost(host: FakeHost, text: string): string {
  return text.split(`${SSH_ENGINE_DIR}/`).join(`${host.root}/`);
}

/** Terraform's substitution of the sensitive variables into a provisioner's content. */
export function withSecrets(content: string, secrets: Record<string, string> = SECRETS): string {
  return content.replace(/\$\{var\.([a-z_]+)\}/g, (_, v: string) => {
    const value = secrets[v];
    if (value === undefined) throw new Error(`no value for var.${v}`);
    return value;
  });
}

export interface StepRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The docker calls of this run, each as its argv. */
  readonly calls: string[][];
  /** The env file path on the fake host. */
  readonly envFile: string;
}

/** The env file modes the docker wrapper recorded (one "<file> <dir>" per docker call). */
export function envFileModes(host: FakeHost): string[] {
  const f = join(host.state, "env-file-modes");
  return existsSync(f)
    ? readFileSync(f, "utf8")
        .split("\n")
        .filter((l) => l !== "")
    : [];
}

/** The docker calls recorded so far. */
export function dockerCalls(host: FakeHost): string[][] {
  const f = join(host.state, "calls");
  if (!existsSync(f)) return [];
  return readFileSync(f, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split("\x1f"));
}

/** Where the runner of a RemoteScript step places its secret file `name` (the path the script reads). */
export function placedSecretPath(runner: string, name = "env"): string {
  const m = new RegExp(`^install -m 0600 "\\$here/secrets/"${name} (\\S+)$`, "m").exec(runner);
  if (!m) throw new Error(`the runner places no secret file ${name}`);
  return m[1]!.replace(/^'(.*)'$/, "$1");
}

export interface StepOptions {
  /** Values of the sensitive variables. @default SECRETS */
  readonly secrets?: Record<string, string>;
  /** What Terraform writes into the secret file instead (to test refusals). */
  readonly envContent?: string;
  /** Changes the runner before it is uploaded (to tamper with what it placed). */
  readonly editRunner?: (runner: string, envFile: string) => string;
  /** Called after the uploads, before the runner runs, with the step's run directory on the fake host. */
  readonly afterUpload?: (runDir: string) => void;
  /** A host file whose mode (and its directory's) the docker wrapper records at each call. */
  readonly watch?: string;
}

/**
 * Runs a container step's provisioners on the fake host, and records at each docker call the modes
 * of the env file and its directory (`<state>/env-file-modes`: "<file mode> <dir mode>").
 */
export async function runStep(host: FakeHost, step: Record<string, unknown>, o: StepOptions = {}): Promise<StepRun> {
  const runner = fileContent(step, /\/run\.sh$/);
  const envFile = onHost(host, placedSecretPath(runner));
  const r = await runProvisioners(host, step, { watch: envFile, ...o });
  return { ...r, envFile };
}

/** A container's state in the stand-in. */
export function container(
  host: FakeHost,
  name: string,
): { running: boolean; env: string[]; labels: string[]; mounts: string[]; image: string; restart: string } | undefined {
  const d = join(host.state, "containers", name);
  if (!existsSync(d)) return undefined;
  const lines = (f: string) =>
    existsSync(join(d, f))
      ? readFileSync(join(d, f), "utf8")
          .split("\n")
          .filter((l) => l !== "")
      : [];
  return {
    running: lines("running")[0] === "true",
    env: lines("env"),
    labels: lines("labels"),
    mounts: lines("mounts"),
    image: lines("image")[0] ?? "",
    restart: lines("restart")[0] ?? "",
  };
}

/** Puts a container into the stand-in as if created by hand or by the provider engine. */
export function seedContainer(
  host: FakeHost,
  name: string,
  c: { labels?: string[]; mounts: string[]; image: string; running: boolean; restart?: string },
): void {
  const d = join(host.state, "containers", name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "labels"), (c.labels ?? []).map((l) => `${l}\n`).join(""));
  writeFileSync(join(d, "mounts"), c.mounts.map((m) => `${m}\n`).join(""));
  writeFileSync(join(d, "image"), `${c.image}\n`);
  writeFileSync(join(d, "running"), `${c.running}\n`);
  writeFileSync(join(d, "env"), "");
  writeFileSync(join(d, "restart"), `${c.restart ?? "always"}\n`);
}

/** The argv of the one `docker run` among calls (after "run"). */
export function runArgv(calls: string[][]): string[] {
  const runs = calls.filter((c) => c[0] === "run");
  if (runs.length !== 1) throw new Error(`expected one docker run, got ${runs.length}`);
  return runs[0]!.slice(1);
}

/**
 * Runs any step's provisioners in order on the fake host, as Terraform would: inline commands in
 * bash from the login user's home (`sudo -n` dropped: the test runs them as the user it is), file
 * contents written to their destinations (relative ones under the home), the sensitive variables
 * substituted. Stops at the first failing command.
 */
export async function runProvisioners(
  host: FakeHost,
  step: Record<string, unknown>,
  o: StepOptions = {},
): Promise<{ status: number | null; stdout: string; stderr: string; calls: string[][] }> {
  const env = { PATH: host.path, DOCKER_STANDIN_STATE: host.state, HOME: host.home, LANG: "C", ...(o.watch ? { EMS_HA_WATCH_FILE: o.watch } : {}) };
  const before = dockerCalls(host).length;
  const provs = provisioners(step);
  const runnerProv = provs.find((p) => p.file && /\/run\.sh$/.test(p.file.destination as string));
  const runDir = runnerProv ? join(host.home, (runnerProv.file!.destination as string).replace(/\/run\.sh$/, "")) : undefined;
  let stdout = "";
  let stderr = "";
  for (const p of provs) {
    if (p.file) {
      const to = p.file.destination as string;
      const dest = isAbsolute(to) ? onHost(host, to) : join(host.home, to);
      if (isAbsolute(to)) mkdirSync(join(dest, ".."), { recursive: true });
      const raw = p.file.content as string;
      let content = raw.includes("${var.") ? (o.envContent ?? withSecrets(raw, o.secrets)) : onHost(host, raw.replace(/\$\$\{/g, "${").replace(/%%\{/g, "%{"));
      if (p.file === runnerProv?.file && o.editRunner) content = o.editRunner(content, onHost(host, placedSecretPath(content)));
      // scp into a new file: mode 0644 (here the process umask's), inside the step's 0700 directory.
      writeFileSync(dest, content);
      continue;
    }
    for (const cmd of (p["remote-exec"]!.inline as string[]) ?? []) {
      if (/\/run\.sh$/.test(cmd) && runDir) o.afterUpload?.(runDir);
      // Not spawnSync: a step against the stand-in takes seconds, a loaded machine many more, and a
      // test runs several; a worker blocked that long fails the whole vitest run ("Timeout calling
      // onTaskUpdate"). Bounded at 120 s per command.
      const r = await spawnAsync("bash", ["-c", onHost(host, cmd.replace(/^sudo -n /, ""))], { cwd: host.home, env, timeoutMs: 120_000 });
      stdout += r.stdout;
      stderr += r.stderr;
      if (r.status !== 0) return { status: r.status, stdout, stderr, calls: dockerCalls(host).slice(before) };
    }
  }
  return { status: 0, stdout, stderr, calls: dockerCalls(host).slice(before) };
}

/** Sets the role (t: standby, f: primary) the stand-in answers for a container created later or now. */
export function setRole(host: FakeHost, name: string, role: "t" | "f"): void {
  mkdirSync(join(host.state, "roles"), { recursive: true });
  writeFileSync(join(host.state, "roles", name), `${role}\n`);
  const d = join(host.state, "containers", name);
  if (existsSync(d)) writeFileSync(join(d, "role"), `${role}\n`);
}
