/**
 * A real `terraform apply` of the ssh engine's DB steps (single-region, terraform_data only) over
 * real SSH, then a re-plan: nothing to change. The three "DB hosts" are loopback addresses served by
 * one OpenSSH server that runs in its own mount namespace, where /var/lib and /root are temporary
 * directories and `docker` is the stand-in test/standins/docker-cli-standin (not Docker). So this
 * shows what only Terraform can: the steps (RemoteScript: constructs/remote-script.ts) upload the
 * env file into 0700 run directories, it is 0600 in a 0700 directory whenever docker runs and gone
 * afterwards, the passwords appear in no output or command line, the step order holds, and a
 * changed spec replaces the containers in order on their untouched volumes.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import example from "../../examples/single-region";
import type { DeploymentInput } from "../../src/config/schema";
import { spawnAsync } from "../../src/spawn-async";
import { container, dockerCalls, SECRETS, STANDIN, type FakeHost } from "../constructs/docker-engine-harness";
import { synthDeployment } from "../helpers/synth";
import { tempDir } from "../helpers/tmp";
import { loopbackPlan } from "../ops/lib/loopback-cluster";
import { TERRAFORM } from "./helpers";

function need(path: string, what: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: this test needs ${what}`);
}

function portOpen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port });
    s.setTimeout(1000);
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
    s.once("timeout", () => (s.destroy(), resolve(false)));
  });
}

/**
 * Bind mounts (inside the namespace only) giving this machine a user `ems` with passwordless sudo,
 * already in the group docker (so the prepare step's usermod is not needed): copies of /etc/passwd,
 * /etc/group and /etc/shadow with it added, and a sudoers.d holding its rule.
 */
function etcMounts(etc: string, home: string): string[] {
  mkdirSync(join(etc, "sudoers.d"), { recursive: true, mode: 0o755 });
  writeFileSync(join(etc, "passwd"), `${readFileSync("/etc/passwd", "utf8")}ems:x:${EMS_UID}:${EMS_UID}:ems-ha test:${home}:/bin/bash\n`, { mode: 0o644 });
  writeFileSync(join(etc, "group"), `${readFileSync("/etc/group", "utf8")}ems:x:${EMS_UID}:\ndocker:x:${EMS_UID + 1}:ems\n`, { mode: 0o644 });
  writeFileSync(join(etc, "shadow"), `${readFileSync("/etc/shadow", "utf8")}ems:*:20000:0:99999:7:::\n`, { mode: 0o640 });
  writeFileSync(join(etc, "sudoers.d", "ems"), "ems ALL=(ALL:ALL) NOPASSWD: ALL\n", { mode: 0o440 });
  return ["passwd", "group", "shadow", "sudoers.d"].map((f) => `mount --bind '${join(etc, f)}' /etc/${f}`);
}

/** A login user other than root: its uid and gid here (none of this machine's users has them). */
const EMS_UID = 4242;

// As root (commands run directly), and as a non-root user with passwordless sudo (commands run
// through `sudo -n`; /var/lib/ems-ha is root-only, so only root can have placed the env files).
describe.each([["root"], ["ems"]] as const)("terraform apply of the ssh engine over real SSH as %s (docker stand-in)", (user) => {
  let dir: string;
  let host: FakeHost;
  let sshd: ChildProcess | undefined;
  let sshdLog = "";
  let tfDir: string;
  let env: NodeJS.ProcessEnv;
  let deployment: (change?: (db: DeploymentInput["database"]) => DeploymentInput["database"]) => DeploymentInput;
  let target: string[] = [];

  const tf = async (args: string[]) => {
    const r = await spawnAsync(TERRAFORM, [...args, "-no-color"], { cwd: tfDir, env, timeoutMs: 180_000 });
    return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
  };
  const writeStack = (input: DeploymentInput) => {
    const { json } = synthDeployment(input);
    // Terraform's remote-exec leaves its (emptied) /tmp/terraform_*.sh behind: here they go to the
    // namespace's /root, a temporary directory, instead of this machine's /tmp.
    for (const r of Object.values(json.resource.terraform_data!)) (r.connection as Record<string, unknown>).script_path = `${host.home}/terraform_%RAND%.sh`;
    writeFileSync(join(tfDir, "main.tf.json"), JSON.stringify(json, null, 2));
    // The DB steps only (their dependencies come along): the EMS installs need EMS hosts.
    target = Object.keys(json.resource.terraform_data!)
      .filter((id) => /_container_/.test(id))
      .flatMap((id) => ["-target", `terraform_data.${id}`]);
  };

  beforeAll(async () => {
    need("/usr/sbin/sshd", "openssh-server");
    need("/usr/bin/unshare", "util-linux (unshare)");
    need(TERRAFORM, "Terraform >= 1.4");
    if (process.getuid?.() !== 0) throw new Error("this test runs sshd in a mount namespace: it must run as root");
    dir = tempDir("ems-ha-ssh-engine-apply-");
    const varLib = join(dir, "var-lib");
    const root = join(dir, "root");
    const bin = join(dir, "bin");
    const state = join(dir, "docker-state");
    for (const d of [join(varLib, "ems-ha"), root, bin, join(state, "images"), join(dir, "conf.d"), join(dir, "ssh")])
      mkdirSync(d, { recursive: true, mode: 0o700 });
    chmodSync(varLib, 0o755);
    writeFileSync(join(state, "images", "ems-postgres-ha:latest"), "sha256:image-1\n");
    // The docker CLI stand-in with its state directory; at each call it records the modes of the env
    // files present and of their directory (docker run reads them).
    writeFileSync(
      join(bin, "docker"),
      [
        "#!/bin/sh",
        "# stand-in wrapper",
        'for f in /var/lib/ems-ha/secrets/*.env; do [ -e "$f" ] && echo "$(stat -c %a "$f") $(stat -c %a /var/lib/ems-ha/secrets)" >>' +
          ` '${state}/env-file-modes'; done`,
        `DOCKER_STANDIN_STATE='${state}' exec '${STANDIN}' "$@"`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    // The login user's home: /root (a temporary directory in the namespace), or one of its own.
    const home = user === "root" ? root : join(dir, "home-ems");
    if (user !== "root") {
      // ems must reach its home inside the test's (root-only) directory, and sshd reads the
      // authorized keys as the user: traverse, not list (the private keys stay 0600).
      chmodSync(dir, 0o711);
      chmodSync(join(dir, "ssh"), 0o711);
      mkdirSync(home, { mode: 0o755 });
      chownSync(home, EMS_UID, EMS_UID);
    }
    host = { root: join(varLib, "ems-ha"), home, state, path: "" };

    const plan = await loopbackPlan(5);
    const [a1, a2, a3, e1, e2] = plan.addresses as [string, string, string, string, string];
    const ssh = join(dir, "ssh");
    const hostKey = join(ssh, "host_key");
    const clientKey = join(ssh, "client_key");
    for (const k of [hostKey, clientKey]) {
      const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "ems-ha-test", "-f", k], { encoding: "utf8", timeout: 20_000 });
      if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
    }
    writeFileSync(join(ssh, "authorized_keys"), readFileSync(`${clientKey}.pub`), { mode: 0o644 });
    const config = join(ssh, "sshd_config");
    writeFileSync(
      config,
      [
        `Port ${plan.sshPort}`,
        ...plan.addresses.slice(0, 3).map((a) => `ListenAddress ${a}`),
        `HostKey ${hostKey}`,
        `PidFile ${join(ssh, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(ssh, "authorized_keys")}`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "",
      ].join("\n"),
    );
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    // Only inside this namespace: /var/lib, /root and /usr/local/bin are the test's directories.
    const inNs = [
      "set -e",
      `mount --bind '${varLib}' /var/lib`,
      `mount --bind '${root}' /root`,
      `mount --bind '${bin}' /usr/local/bin`,
      ...(user === "root" ? [] : etcMounts(join(dir, "etc"), home)),
      `exec /usr/sbin/sshd -D -e -f '${config}'`,
    ].join("; ");
    sshd = spawn("unshare", ["--mount", "--propagation", "private", "--", "bash", "-c", inNs], { stdio: ["ignore", "pipe", "pipe"] });
    sshd.stdout!.on("data", (d: Buffer) => (sshdLog += d.toString()));
    sshd.stderr!.on("data", (d: Buffer) => (sshdLog += d.toString()));
    const deadline = Date.now() + 15_000;
    while (!(await portOpen(a1, plan.sshPort))) {
      if (sshd.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start:\n${sshdLog}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    // The sshd's key pinned: Terraform verifies it on every connection.
    const hostKeyPub = readFileSync(`${hostKey}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    // Fail fast (not after Terraform's connection timeout) when the login or sudo does not work.
    writeFileSync(join(ssh, "known_hosts"), `[${a1}]:${plan.sshPort} ${hostKeyPub}\n`);
    const probe = spawnSync(
      "ssh",
      [
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        `UserKnownHostsFile=${join(ssh, "known_hosts")}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-i",
        clientKey,
        "-p",
        String(plan.sshPort),
        `${user}@${a1}`,
        "sudo -n true && cd && touch .probe && rm .probe",
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    if (probe.status !== 0) throw new Error(`ssh ${user}@${a1} with sudo -n does not work (status ${probe.status}): ${probe.stderr}\n--- sshd:\n${sshdLog}`);
    const sshSettings = { user, port: plan.sshPort, privateKeyPath: clientKey, hostKey: hostKeyPub };
    deployment = (change = (db) => db) => ({
      ...example,
      fortigate: undefined,
      emsNodes: [
        { name: "ems-1", address: e1, ssh: sshSettings },
        { name: "ems-2", address: e2, ssh: sshSettings },
      ],
      database: change({
        ...example.database,
        docker: { engine: "ssh" },
        installDocker: false,
        confDir: join(dir, "conf.d"),
        image: { name: "ems-postgres-ha", tag: "latest", source: { kind: "registry", registry: "" } },
        nodes: [
          { name: "pg-1", address: a1, role: "data", ramGb: 2, cpus: 2, ssh: sshSettings },
          { name: "pg-2", address: a2, role: "data", ramGb: 2, cpus: 2, ssh: sshSettings },
          { name: "pgw-1", address: a3, role: "witness", ssh: sshSettings },
        ],
      }),
    });
    tfDir = join(dir, "tf");
    mkdirSync(tfDir);
    writeFileSync(join(tfDir, "none.tfrc"), "");
    env = { PATH: process.env.PATH, HOME: dir, CHECKPOINT_DISABLE: "1", TF_CLI_CONFIG_FILE: join(tfDir, "none.tfrc"), TF_IN_AUTOMATION: "1" };
    for (const [k, v] of Object.entries(SECRETS)) env[`TF_VAR_${k}`] = v;
    writeStack(deployment());
    const init = await tf(["init", "-input=false"]);
    if (init.status !== 0) throw new Error(`terraform init failed:\n${init.output}`);
  }, 120_000);

  afterAll(async () => {
    if (sshd && sshd.exitCode === null) {
      const exited = new Promise((r) => sshd!.once("exit", r));
      sshd.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (sshd.exitCode === null) sshd.kill("SIGKILL");
    }
  });

  let firstApply = "";

  it("applies: volumes, then pg-1, pg-2, pgw-1 created, passwords only in the containers' environment", async () => {
    // One step at a time: the three "hosts" share one file system here (the prepare script's path).
    const r = await tf(["apply", "-input=false", "-auto-approve", "-parallelism=1", ...target]);
    firstApply = r.output;
    expect(r.status, `${r.output.slice(-4000)}\n--- sshd:\n${sshdLog.slice(-2000)}`).toBe(0);
    expect(r.output).toMatch(/Apply complete! Resources: 6 added, 0 changed, 0 destroyed/);
    const allRuns = dockerCalls(host).filter((c) => c[0] === "run");
    expect(allRuns.filter((c) => c.includes("--name")).map((c) => c[c.indexOf("--name") + 1])).toEqual(["pg-1", "pg-2", "pgw-1"]);
    // The only other: the initial primary's throwaway check for an existing cluster (no data yet, nobody answers).
    expect(allRuns.filter((c) => !c.includes("--name")).map((c) => c.slice(0, 2))).toEqual([["run", "--rm"]]);
    for (const n of ["pg-1", "pg-2", "pgw-1"]) {
      const c = container(host, n)!;
      expect(c.running, n).toBe(true);
      expect(c.env).toContain(`POSTGRESQL_PASSWORD=${SECRETS.db_password}`);
      expect(c.env).toContain(`REPMGR_PASSWORD=${SECRETS.repmgr_password}`);
    }
    expect(readdirSync(join(host.state, "volumes")).sort()).toEqual(["pg_1_data", "pg_2_data", "pgw_1_data"]);
    // While docker ran, each env file was 0600 in a 0700 directory; now they are gone, and so are the
    // uploaded copies (the steps' run directories in the login user's home are 0700 and hold no secrets/).
    const modes = readFileSync(join(host.state, "env-file-modes"), "utf8")
      .split("\n")
      .filter((l) => l !== "");
    expect(modes.length).toBeGreaterThan(0);
    expect([...new Set(modes)]).toEqual(["600 700"]);
    expect(readdirSync(join(host.root, "secrets"))).toEqual([]);
    expect(statSync(join(host.root, "secrets")).mode & 0o777).toBe(0o700);
    const runRoot = join(host.home, ".ems-ha", "run");
    expect(readdirSync(runRoot).sort()).toEqual(["container-pg-1", "container-pg-2", "container-pgw-1", "prepare-host"]);
    for (const d of [join(host.home, ".ems-ha"), runRoot, ...readdirSync(runRoot).map((n) => join(runRoot, n))])
      expect(statSync(d).mode & 0o777, d).toBe(0o700);
    for (const n of ["pg-1", "pg-2", "pgw-1"]) expect(readdirSync(join(runRoot, `container-${n}`)).sort(), n).toEqual(["run.sh", "script.sh"]);
    // The run directories are the login user's; the env files' directory is root's (the runner placed them).
    expect(statSync(runRoot).uid).toBe(user === "root" ? 0 : EMS_UID);
    expect(statSync(join(host.root, "secrets")).uid).toBe(0);
    expect(readFileSync(join(tfDir, "main.tf.json"), "utf8").includes('"sudo -n bash .ems-ha/run/container-pg-1/run.sh"')).toBe(user !== "root");
    for (const v of Object.values(SECRETS)) {
      expect(r.output).not.toContain(v);
      expect(readFileSync(join(host.state, "calls"), "utf8")).not.toContain(v);
      expect(readFileSync(join(tfDir, "main.tf.json"), "utf8")).not.toContain(v);
    }
  }, 240_000);

  it("re-plans with nothing to change", async () => {
    expect(firstApply).not.toBe("");
    const r = await tf(["plan", "-input=false", "-detailed-exitcode", ...target]);
    expect(r.status, r.output.slice(-3000)).toBe(0);
    expect(r.output).toContain("No changes.");
  }, 240_000);

  it("a changed spec replaces the containers in order, gracefully, on their untouched volumes", async () => {
    writeFileSync(join(host.state, "volumes", "pg_1_data", "PG_VERSION"), "15\n");
    const before = dockerCalls(host).length;
    writeStack(deployment((db) => ({ ...db, failover: { reconnectAttempts: 4 } })));
    const r = await tf(["apply", "-input=false", "-auto-approve", "-parallelism=1", ...target]);
    expect(r.status, r.output.slice(-4000)).toBe(0);
    // the three containers, and the two data nodes' preparation (the failover validation script's timeouts follow the timing)
    expect(r.output).toMatch(/Resources: 5 added, 0 changed, 5 destroyed/);
    const calls = dockerCalls(host).slice(before);
    const seq = calls
      .filter((c) => ["stop", "rm", "run"].includes(c[0]!))
      .map((c) => `${c[0]} ${c[0] === "run" ? c[c.indexOf("--name") + 1] : c[c.length - 1]}`);
    expect(seq).toEqual(["stop pg-1", "rm pg-1", "run pg-1", "stop pg-2", "rm pg-2", "run pg-2", "stop pgw-1", "rm pgw-1", "run pgw-1"]);
    expect(calls.some((c) => c[0] === "volume" && c[1] !== "inspect")).toBe(false);
    expect(readFileSync(join(host.state, "volumes", "pg_1_data", "PG_VERSION"), "utf8")).toBe("15\n");
    expect(container(host, "pg-2")!.env).toContain("REPMGR_RECONNECT_ATTEMPTS=4");
    for (const v of Object.values(SECRETS)) expect(r.output).not.toContain(v);
  }, 240_000);

  it("a new password alone plans no change; -replace of one node's step gives that container the new password", async () => {
    const rotated = "Rotated-Db-Pw-93e1";
    env.TF_VAR_db_password = rotated;
    const plan = await tf(["plan", "-input=false", "-detailed-exitcode", ...target]);
    expect(plan.status, plan.output.slice(-3000)).toBe(0);
    const pg2 = target.find((t) => t.startsWith("terraform_data.pg-2_container_"))!;
    const before = dockerCalls(host).length;
    const r = await tf(["apply", "-input=false", "-auto-approve", "-parallelism=1", `-replace=${pg2}`, ...target]);
    expect(r.status, r.output.slice(-4000)).toBe(0);
    expect(r.output).toMatch(/Resources: 1 added, 0 changed, 1 destroyed/);
    expect(r.output).toContain("replacing pg-2: the passwords changed");
    expect(r.output).not.toContain(rotated);
    const runs = dockerCalls(host)
      .slice(before)
      .filter((c) => c[0] === "run")
      .map((c) => c[c.indexOf("--name") + 1]);
    expect(runs).toEqual(["pg-2"]);
    expect(container(host, "pg-2")!.env).toContain(`POSTGRESQL_PASSWORD=${rotated}`);
    expect(container(host, "pg-1")!.env).toContain(`POSTGRESQL_PASSWORD=${SECRETS.db_password}`);
  }, 240_000);
});
