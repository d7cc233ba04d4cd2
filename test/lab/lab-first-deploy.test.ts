/**
 * A user's first deploy, as the README tells it, on fresh lab hosts: a project directory with
 * its own cdktf.json and ems-ha.config.json, run with `npx cdktf deploy standalone-db`
 * (so Terraform runs inside cdktf.out/stacks/standalone-db/), where
 *   - every host is logged in to as a NON-ROOT user with passwordless sudo (emsadmin);
 *   - the installer and the known_hosts file are named by RELATIVE paths in the deployment;
 *   - host keys are pinned (ssh.knownHostsFile, strictHostKeys) and the deploying user has no
 *     ~/.ssh/known_hosts at all (HOME is an empty directory);
 * then a host key that does not match is refused by Terraform.
 *
 * Needs root, systemd-nspawn, debootstrap, iproute2, openssh-client and terraform; FAILS naming
 * what is missing, never skipped.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labStandaloneDeployment } from "../../examples/lab";
import type { DeploymentInput } from "../../src/config/schema";
import { labSecrets, masker } from "../../lab/lib/deploy";
import { runStreaming } from "../../lab/lib/exec";
import { bootFreshLab, chooseFreshLab } from "../../lab/lib/fresh-lab";
import { labDown, labExec } from "../../lab/lib/lab";
import { labKnownHostsPath, labStateDir, REPO_ROOT } from "../../lab/lib/paths";
import { LAB_SUDO_USER } from "../../lab/lib/ssh";
import type { LabState } from "../../lab/lib/state";
import { tempDir } from "../helpers/tmp";
import { synthDeployment } from "../helpers/synth";
import single from "../../examples/single-region";
import { run } from "../../lab/lib/exec";

// Apart from the other lab tests (10.231.x).
const CANDIDATES = Array.from({ length: 10 }, (_, i) => `10.233.${40 + i}`);
const INSTALLER = "forticlientems_7.4.4.2034.F.bin";

let state: LabState | undefined;
let stateDir = "";
let project = "";
const log = (m: string): void => console.log(`[lab-first-deploy] ${m}`);

/** The standalone lab deployment, every host logged in to as the sudo user, host keys from the lab's known_hosts. */
function deployment(prefix: string): DeploymentInput {
  const base = labStandaloneDeployment(prefix) as DeploymentInput & { emsNodes: Array<{ ssh: object }>; database: { nodes: Array<{ ssh: object }> } };
  const asUser = <T extends { ssh: object }>(n: T): T => ({ ...n, ssh: { ...n.ssh, user: LAB_SUDO_USER } });
  return {
    ...base,
    emsNodes: base.emsNodes.map(asUser),
    database: { ...base.database, nodes: base.database.nodes.map(asUser) },
    ssh: { knownHostsFile: labKnownHostsPath(labStateDir(prefix)), strictHostKeys: true },
  } as DeploymentInput;
}

/** `npx cdktf deploy` in the project directory, with no ~/.ssh of the deploying user. */
/** The deploying user's HOME: empty (no ~/.ssh), the same for every run (the local state lives under it). */
let deployHome: string | undefined;

async function cdktf(args: string[]): Promise<{ code: number; out: string }> {
  const secrets = labSecrets(state!);
  const mask = masker(secrets);
  const home = (deployHome ??= tempDir("ems-ha-home-"));
  const r = await runStreaming("npx", ["cdktf", ...args], {
    cwd: project,
    timeoutMs: 900_000,
    env: {
      PATH: `${join(REPO_ROOT, "node_modules/.bin")}:${process.env.PATH}`,
      HOME: home,
      CI: "1",
      CHECKPOINT_DISABLE: "1",
      TF_CLI_CONFIG_FILE: join(home, "none.tfrc"),
      TF_IN_AUTOMATION: "1",
      TF_VAR_db_password: secrets.db_password,
      TF_VAR_repmgr_password: secrets.repmgr_password,
      TF_VAR_symmetric_key: secrets.symmetric_key,
    },
    onLine: (l) => l.trim() && log(mask(l)),
  });
  return { code: r.code, out: mask(`${r.stdout}\n${r.stderr}`) };
}

beforeAll(async () => {
  const options = { what: "the first-deploy lab test", candidates: CANDIDATES, deployment, needTerraform: true, log };
  const chosen = chooseFreshLab(options);
  stateDir = chosen.stateDir;
  state = (await bootFreshLab(options, chosen)).state;
  // The user's project: relative paths to the installer and the known_hosts file.
  project = join(stateDir, "project");
  mkdirSync(join(project, "files"), { recursive: true });
  copyFileSync(join(REPO_ROOT, "test/standins/forticlientems-installer"), join(project, "files", INSTALLER));
  copyFileSync(state.knownHostsPath, join(project, "known_hosts"));
  const d = deployment(state.prefix) as DeploymentInput & { installer: { source: { sha256: string } } };
  writeFileSync(
    join(project, "ems-ha.config.json"),
    JSON.stringify(
      {
        ...d,
        installer: { ...d.installer, source: { kind: "file", path: `./files/${INSTALLER}`, sha256: d.installer.source.sha256 } },
        ssh: { knownHostsFile: "known_hosts", strictHostKeys: true },
      },
      null,
      2,
    ),
  );
  const app = `${process.execPath} ${join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs")} ${join(REPO_ROOT, "stacks/main.ts")}`;
  writeFileSync(
    join(project, "cdktf.json"),
    JSON.stringify(
      {
        language: "typescript",
        app,
        projectId: "ems-ha-lab-first-deploy",
        sendCrashReports: "false",
        terraformProviders: [],
        terraformModules: [],
        context: {},
      },
      null,
      2,
    ),
  );
}, 900_000);

afterAll(async () => {
  if (stateDir && existsSync(stateDir)) await labDown(stateDir, { log });
}, 180_000);

describe("a first deploy with npx cdktf deploy, as a non-root sudo user, pinned host keys and relative paths", () => {
  it("deploys standalone-db: PostgreSQL set up and both EMS nodes installed through sudo", async () => {
    const r = await cdktf(["deploy", "standalone-db", "--auto-approve"]);
    expect(r.code, r.out.split("\n").slice(-40).join("\n")).toBe(0);
    const json = JSON.parse(readFileSync(join(project, "cdktf.out/stacks/standalone-db/cdk.tf.json"), "utf8"));
    const steps = Object.entries(
      json.resource.terraform_data as Record<
        string,
        { connection: { user: string; host_key?: string }; provisioner: Array<Record<string, { source?: string }>> }
      >,
    );
    expect(steps).toHaveLength(4);
    for (const [id, s] of steps) {
      expect(s.connection.user, id).toBe(LAB_SUDO_USER);
      expect(s.connection.host_key, id).toMatch(/^ssh-ed25519 /);
    }
    // The relative installer path was made absolute (Terraform ran in cdktf.out/stacks/standalone-db/).
    const sources = steps.flatMap(([, s]) => s.provisioner.map((p) => p.file?.source).filter(Boolean));
    expect(sources).toEqual([join(project, "files", INSTALLER), join(project, "files", INSTALLER)]);

    const dbs = await labExec(state!, "emsdb-1", `cd /tmp && sudo -u postgres psql -tAc "select datname from pg_database where datname = 'fcm'"`);
    expect(dbs.stdout.trim()).toBe("fcm");
    for (const host of ["ems-1", "ems-2"]) {
      const check = await labExec(
        state!,
        host,
        [
          "test -f /var/lib/ems-standin/install.json && echo installed",
          // The step ran from the sudo user's own directory; its secrets are gone; nothing was staged under /root.
          `stat -c '%U %a' /home/${LAB_SUDO_USER}/.ems-ha/run/install-ems`,
          `test -e /home/${LAB_SUDO_USER}/.ems-ha/run/install-ems/secrets && echo secrets-left || echo secrets-removed`,
          "test -e /var/lib/ems-ha/secrets/db_password && echo password-left || echo password-removed",
          "test -e /root/.ems-ha && echo root-used || echo root-unused",
        ].join("; "),
      );
      expect(check.stdout.trim().split("\n"), host).toEqual(["installed", `${LAB_SUDO_USER} 700`, "secrets-removed", "password-removed", "root-unused"]);
    }
    // The local state is kept outside the project (docs/ci.md): under $XDG_STATE_HOME, here ~/.local/state.
    expect(readdirSync(project).some((f) => /\.tfstate$/.test(f))).toBe(false);
    expect(existsSync(join(deployHome!, ".local/state/ems-ha/standalone-db/terraform.tfstate"))).toBe(true);
  }, 900_000);

  it("re-deploys with no changes", async () => {
    const r = await cdktf(["deploy", "standalone-db", "--auto-approve"]);
    expect(r.code, r.out.split("\n").slice(-30).join("\n")).toBe(0);
    expect(r.out).toMatch(/No changes|0 added, 0 changed, 0 destroyed/);
  }, 600_000);

  it("refuses a host whose key does not match the pinned one", async () => {
    // Pin another key for ems-1 (the key of emsdb-1), synthesize, and re-run the reachability check.
    const kh = readFileSync(join(project, "known_hosts"), "utf8").split("\n");
    const dbLine = kh.find((l) => l.startsWith(`${state!.hosts.find((h) => h.name === "emsdb-1")!.address},`))!;
    const emsAddress = state!.hosts.find((h) => h.name === "ems-1")!.address;
    const wrong = kh.map((l) => (l.startsWith(`${emsAddress},`) ? `${emsAddress} ${dbLine.split(" ").slice(1).join(" ")}` : l));
    writeFileSync(join(project, "known_hosts"), wrong.join("\n"));
    const id = Object.keys(JSON.parse(readFileSync(join(project, "cdktf.out/stacks/standalone-db/cdk.tf.json"), "utf8")).resource.terraform_data).find((k) =>
      k.startsWith("db-reachable"),
    )!;
    const synth = await cdktf(["synth"]);
    expect(synth.code, synth.out).toBe(0);
    const secrets = labSecrets(state!);
    // Terraform retries a failed SSH handshake until the connection timeout (5 min) and only then
    // fails; its warning log names each refusal, so a 60 s run shows it.
    const r = await runStreaming("terraform", ["apply", "-auto-approve", "-input=false", "-no-color", `-replace=terraform_data.${id}`], {
      cwd: join(project, "cdktf.out/stacks/standalone-db"),
      timeoutMs: 60_000,
      env: {
        ...process.env,
        TF_LOG: "WARN",
        CHECKPOINT_DISABLE: "1",
        TF_IN_AUTOMATION: "1",
        TF_VAR_db_password: secrets.db_password,
        TF_VAR_repmgr_password: secrets.repmgr_password,
        TF_VAR_symmetric_key: secrets.symmetric_key,
      },
    });
    expect(r.code).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/handshake failed[^\n]*(key mismatch|host key)/i);
    expect(`${r.stdout}${r.stderr}`).not.toContain("db-reachable: Creation complete");
  }, 180_000);

  it("the docker provider's ssh command (its ssh_opts from the synthesized JSON) reaches each DB host with the pinned key and no ~/.ssh, and refuses a wrong key", () => {
    // single-region's DB nodes placed on the lab hosts, logged in to as the sudo user, keys pinned per host.
    const kh = readFileSync(state!.knownHostsPath, "utf8");
    const keyOf = (address: string) =>
      kh
        .split("\n")
        .find((l) => l.startsWith(`${address},`))!
        .split(" ")
        .slice(1)
        .join(" ");
    const hosts = ["emsdb-1", "ems-1", "ems-2"].map((n) => state!.hosts.find((h) => h.name === n)!);
    const ssh = (address: string, key = keyOf(address)) => ({ user: LAB_SUDO_USER, privateKeyPath: state!.sshKeyPath, hostKey: key });
    const nodes = single.database.nodes.map((n, i) => ({ ...n, address: hosts[i]!.address, ssh: ssh(hosts[i]!.address) }));
    const { json } = synthDeployment({ ...single, ssh: {}, database: { ...single.database, nodes } });
    const home = tempDir("ems-ha-home-");
    // HOME only for good measure: OpenSSH reads the user's files from the passwd entry, and the options name the file.
    const dial = (p: Record<string, unknown>) => {
      const m = /^ssh:\/\/([^@]+)@([\d.]+):(\d+)$/.exec(p.host as string)!;
      // What the docker CLI runs for an ssh:// host: ssh <ssh_opts> -T -l user -p port -- host <command>.
      return run("ssh", [...(p.ssh_opts as string[]), "-T", "-l", m[1]!, "-p", m[3]!, "--", m[2]!, "id -un"], {
        env: { ...process.env, HOME: home },
        timeoutMs: 30_000,
      });
    };
    for (const p of json.provider!.docker!) {
      const r = dial(p);
      expect(r.code, `${String(p.host)}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).toBe(LAB_SUDO_USER);
    }
    // Control: the options the provider had before (no known_hosts of ours) and a user known_hosts without the host fail in batch mode.
    const empty = join(home, "empty_known_hosts");
    writeFileSync(empty, "");
    const p1 = json.provider!.docker![0]!;
    const m1 = /^ssh:\/\/([^@]+)@([\d.]+):(\d+)$/.exec(p1.host as string)!;
    const before = run(
      "ssh",
      [
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-i",
        state!.sshKeyPath,
        "-o",
        `UserKnownHostsFile=${empty}`,
        "-T",
        "-l",
        m1[1]!,
        "-p",
        m1[3]!,
        "--",
        m1[2]!,
        "true",
      ],
      { timeoutMs: 30_000 },
    );
    expect(before.code).not.toBe(0);
    expect(before.stderr).toMatch(/Host key verification failed/);
    // The first DB node pinned with another host's key: OpenSSH refuses it.
    const wrong = synthDeployment({
      ...single,
      ssh: {},
      database: { ...single.database, nodes: nodes.map((n, i) => (i === 0 ? { ...n, ssh: ssh(n.address, keyOf(hosts[1]!.address)) } : n)) },
    }).json;
    const p0 = wrong.provider!.docker!.find((p) => (p.host as string).includes(`@${hosts[0]!.address}:`))!;
    const r = dial(p0);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  }, 120_000);
});
