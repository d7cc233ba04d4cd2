/**
 * Runs an ssh-engine container step the way Terraform does (its provisioners in order: the inline
 * command creating the empty 0600 env file, the env file content, the script), in real bash, on a
 * fake host: the host's /var/lib/ems-ha is a temporary directory and `docker` is the stand-in
 * test/standins/docker-cli-standin (not Docker), which keeps its state in another one.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SSH_ENGINE_DIR } from "../../src/render/docker-cli";
import { tempDir } from "../helpers/tmp";
import { fileContent, provisioners } from "../topologies/helpers";

export const STANDIN = join(__dirname, "../standins/docker-cli-standin");

/** Dummy secret values, as TF_VAR_* would supply them. */
export const SECRETS = { db_password: "db-pw-$x 'q' \"dq\" ${HOME}", repmgr_password: "rep-pw;rm -rf /" } as const;

export interface FakeHost {
  /** Stand-in for the host's /var/lib/ems-ha. */
  readonly root: string;
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
  for (const d of [root, state, join(state, "images"), bin]) mkdirSync(d, { recursive: true });
  symlinkSync(STANDIN, join(bin, "docker"));
  // The scripts' bounded waits sleep between attempts; here time need not pass.
  writeFileSync(join(bin, "sleep"), "#!/bin/sh\n# stand-in: no waiting in tests\nexit 0\n");
  chmodSync(join(bin, "sleep"), 0o755);
  const host = { root, state, path: `${bin}:/usr/local/bin:/usr/bin:/bin` };
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

/** The docker calls recorded so far. */
export function dockerCalls(host: FakeHost): string[][] {
  const f = join(host.state, "calls");
  if (!existsSync(f)) return [];
  return readFileSync(f, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split("\x1f"));
}

/**
 * Runs a container step's provisioners on the fake host. `envContent` overrides what Terraform
 * would write into the env file (to test refusals).
 */
export function runStep(host: FakeHost, step: Record<string, unknown>, o: { secrets?: Record<string, string>; envContent?: string; afterPrepare?: (envFile: string) => void } = {}): StepRun {
  const provs = provisioners(step);
  const inline = (provs[0]!["remote-exec"]!.inline as string[])[0]!;
  const envProv = provs[1]!.file!;
  const envFile = onHost(host, envProv.destination as string);
  const scriptProv = provs[2]!.file!;
  const script = onHost(host, fileContent(step, scriptProv.destination as string));
  const env = { PATH: host.path, DOCKER_STANDIN_STATE: host.state, HOME: host.root, LANG: "C" };
  const before = dockerCalls(host).length;
  const pre = spawnSync("bash", ["-c", onHost(host, inline)], { env, encoding: "utf8", timeout: 30_000 });
  if (pre.status !== 0) throw new Error(`the env file preparation failed: ${pre.stderr}`);
  o.afterPrepare?.(envFile);
  // scp into the existing file: content replaced, mode kept (writeFileSync does the same).
  writeFileSync(envFile, o.envContent ?? withSecrets(envProv.content as string, o.secrets));
  const r = spawnSync("bash", ["-c", script], { env, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: dockerCalls(host).slice(before), envFile };
}

/** A container's state in the stand-in. */
export function container(host: FakeHost, name: string): { running: boolean; env: string[]; labels: string[]; mounts: string[]; image: string; restart: string } | undefined {
  const d = join(host.state, "containers", name);
  if (!existsSync(d)) return undefined;
  const lines = (f: string) => (existsSync(join(d, f)) ? readFileSync(join(d, f), "utf8").split("\n").filter((l) => l !== "") : []);
  return { running: lines("running")[0] === "true", env: lines("env"), labels: lines("labels"), mounts: lines("mounts"), image: lines("image")[0] ?? "", restart: lines("restart")[0] ?? "" };
}

/** Puts a container into the stand-in as if created by hand or by the provider engine. */
export function seedContainer(host: FakeHost, name: string, c: { labels?: string[]; mounts: string[]; image: string; running: boolean; restart?: string }): void {
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
 * bash, file contents (with the sensitive variables substituted) written to their destinations.
 * Stops at the first failing command.
 */
export function runProvisioners(host: FakeHost, step: Record<string, unknown>, o: { secrets?: Record<string, string> } = {}): { status: number | null; stdout: string; stderr: string; calls: string[][] } {
  const env = { PATH: host.path, DOCKER_STANDIN_STATE: host.state, HOME: host.root, LANG: "C" };
  const before = dockerCalls(host).length;
  let stdout = "";
  let stderr = "";
  for (const p of provisioners(step)) {
    if (p.file) {
      const dest = onHost(host, p.file.destination as string);
      mkdirSync(join(dest, ".."), { recursive: true });
      const content = (p.file.content as string).includes("${var.") ? withSecrets(p.file.content as string, o.secrets) : onHost(host, (p.file.content as string).replace(/\$\$\{/g, "${").replace(/%%\{/g, "%{"));
      writeFileSync(dest, content);
      continue;
    }
    for (const cmd of (p["remote-exec"]!.inline as string[]) ?? []) {
      const r = spawnSync("bash", ["-c", onHost(host, cmd)], { env, encoding: "utf8", timeout: 60_000 });
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
